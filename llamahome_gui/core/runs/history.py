"""Reading run folders back: the Runs page and ``--resume`` use this, never the trainer's
internals. Everything here reads files only, so it is cheap and safe while a run is going."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamahome_gui.core.runs.events import (
    EVENTS_FILE,
    TERMINAL,
    Evaluated,
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    StepLogged,
    read_events,
)
from llamahome_gui.core.runs.folders import (
    ADAPTER_DIR,
    CHECKPOINTS_DIR,
    RUN_CONFIG,
    runs_root,
)
from llamahome_gui.core.runs.liveness import is_alive
from llamahome_gui.core.runs.lock import lock_holder
from llamahome_gui.core.runs.meta import default_name, read_meta

# A checkpoint folder is complete once this file exists (it is written last).
CHECKPOINT_STATE = "trainer_state.json"
CHECKPOINT_PREFIX = "step-"


@dataclass
class RunInfo:
    """One run folder, summarised from its events.

    ``status``: ``running`` (trainer alive), ``done``, ``stopped`` (interrupted; resumable from
    ``checkpoint``), ``failed`` (an error event, or the process died without a last word), or
    ``created`` (snapshot written, trainer not started yet). ``name`` is the folder's name;
    ``title`` / ``note`` what the user called it (``meta.json``); ``duration_s`` the time
    spent training, every segment of a resumed run added up (pauses left out).
    """

    path: Path
    name: str
    status: str
    started: float | None = None
    model: str = ""
    dataset: str = ""
    steps: int = 0
    max_steps: int = 0
    final_loss: float | None = None
    duration_s: float | None = None
    pid: int | None = None
    error: str = ""
    checkpoint: Path | None = None
    adapter: Path | None = None
    last_event: Event | None = None
    title: str = ""
    note: str = ""
    eval_loss: float | None = None
    learning_rate: float | None = None
    lora_rank: int | None = None
    segments: int = 0

    @property
    def label(self) -> str:
        """What to call the run: the user's name for it, else the folder's without its stamp."""
        return self.title or default_name(self.name)


def checkpoint_step(folder: Path) -> int | None:
    name = folder.name
    if not name.startswith(CHECKPOINT_PREFIX):
        return None
    try:
        return int(name[len(CHECKPOINT_PREFIX):])
    except ValueError:
        return None


def list_checkpoints(run_dir: Path | str) -> list[Path]:
    """Complete checkpoints of a run, oldest step first."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = [(checkpoint_step(p), p) for p in root.iterdir()
             if p.is_dir() and (p / CHECKPOINT_STATE).is_file()]
    return [p for step, p in sorted((s, p) for s, p in found if s is not None)]


def latest_checkpoint(run_dir: Path | str) -> Path | None:
    """The newest complete checkpoint folder, or None."""
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1] if checkpoints else None


def run_info(run_dir: Path | str) -> RunInfo:
    """Summarise one run folder from its events."""
    folder = Path(run_dir)
    info = RunInfo(path=folder, name=folder.name, status="created")
    events = read_events(folder)
    lifecycle: Event | None = None
    for ev in events:
        if isinstance(ev, RunStarted):
            lifecycle = ev
            info.segments += 1
            info.started = info.started if info.started is not None else ev.time
            info.pid = ev.pid
            info.model = str(ev.config.get("model", info.model))
            info.dataset = str(ev.config.get("dataset", info.dataset))
            info.max_steps = ev.total_steps or info.max_steps
            info.steps = max(info.steps, ev.start_step)
            info.error = ""
        elif isinstance(ev, StepLogged):
            info.steps = ev.step
            info.max_steps = ev.max_steps or info.max_steps
            info.final_loss = ev.loss if ev.loss is not None else info.final_loss
        elif isinstance(ev, Evaluated):
            info.eval_loss = ev.eval_loss if ev.eval_loss is not None else info.eval_loss
        elif isinstance(ev, TERMINAL):
            lifecycle = ev
            if isinstance(ev, RunFinished):
                info.final_loss = ev.final_loss if ev.final_loss is not None else info.final_loss
                info.adapter = Path(ev.adapter) if ev.adapter else None
            elif isinstance(ev, RunFailed):
                info.error = ev.message
            if ev.step is not None:
                info.steps = ev.step
    info.last_event = events[-1] if events else None
    holder = lock_holder(folder)
    if lifecycle is None and holder is not None:  # a trainer owns it and is still preparing
        info.status, info.pid = "running", holder.pid
    elif lifecycle is None:
        info.status = "created" if (folder / RUN_CONFIG).is_file() and not events else "failed"
        if events and not info.error:
            info.error = "the trainer ended before it started training"
    elif isinstance(lifecycle, RunStarted):
        alive = is_alive(lifecycle.pid, lifecycle.pid_created, started_before=lifecycle.time)
        info.status = "running" if alive else "failed"
        if not alive:
            info.error = "the trainer process ended without a final event (killed or crashed)"
    else:
        info.status = {RunFinished: "done", RunStopped: "stopped", RunFailed: "failed"}[type(lifecycle)]
    info.duration_s = training_time(events)
    meta = read_meta(folder)
    info.title, info.note = meta.name, meta.note
    info.learning_rate, info.lora_rank = _snapshot_settings(folder)
    info.checkpoint = latest_checkpoint(folder)
    if info.adapter is None and (folder / ADAPTER_DIR / "adapter_config.json").is_file():
        info.adapter = folder / ADAPTER_DIR
    return info


def training_time(events: list[Event]) -> float | None:
    """Seconds spent training: each segment (a start up to the last event before the next
    start) added up, so a run stopped overnight and resumed counts its work, not the night.
    A finished segment's own ``duration_s`` (measured by the trainer) wins over event times."""
    total, start, last, seen = 0.0, None, None, False
    for ev in [*events, None]:
        if ev is None or isinstance(ev, RunStarted):
            if start is not None and last is not None:
                total += max(0.0, last - start)
                seen = True
            start = ev.time if ev is not None else None
            last = start
        elif ev.time is not None and start is not None:
            last = ev.time
            if isinstance(ev, RunFinished) and ev.duration_s is not None:
                last = start + ev.duration_s
    return total if seen else None


def _snapshot_settings(folder: Path) -> tuple[float | None, int | None]:
    """Learning rate and LoRA rank from ``run.toml`` (stdlib parser: cheap for every row)."""
    try:
        with open(folder / RUN_CONFIG, "rb") as fh:
            training: Any = tomllib.load(fh).get("training", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None, None
    lr = training.get("training", {}).get("learning_rate")
    rank = training.get("lora", {}).get("r")
    return (float(lr) if isinstance(lr, int | float) else None,
            int(rank) if isinstance(rank, int) else None)


def is_run_dir(folder: Path) -> bool:
    return folder.is_dir() and ((folder / RUN_CONFIG).is_file() or (folder / EVENTS_FILE).is_file())


def list_runs(output_dir: Path | str | None = None) -> list[RunInfo]:
    """Every run folder under ``output_dir`` (empty/None = the user's runs folder), newest first."""
    root = runs_root(output_dir)
    if not root.is_dir():
        return []
    runs = [run_info(p) for p in root.iterdir() if is_run_dir(p)]
    return sorted(runs, key=lambda r: (r.started or 0.0, r.name), reverse=True)
