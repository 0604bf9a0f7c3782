"""Reading run folders back: the Runs page and ``--resume`` use this, never the trainer's
internals. Everything here reads files only, so it is cheap and safe while a run is going."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llamahome_gui.core.runs.events import (
    EVENTS_FILE,
    TERMINAL,
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

# A checkpoint folder is complete once this file exists (it is written last).
CHECKPOINT_STATE = "trainer_state.json"
CHECKPOINT_PREFIX = "step-"


@dataclass
class RunInfo:
    """One run folder, summarised from its events.

    ``status``: ``running`` (trainer alive), ``done``, ``stopped`` (interrupted; resumable from
    ``checkpoint``), ``failed`` (an error event, or the process died without a last word), or
    ``created`` (snapshot written, trainer not started yet).
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
        elif isinstance(ev, TERMINAL):
            lifecycle = ev
            if isinstance(ev, RunFinished):
                info.final_loss = ev.final_loss if ev.final_loss is not None else info.final_loss
                info.duration_s = ev.duration_s
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
    last_time = events[-1].time if events else None
    if info.started is not None and info.duration_s is None and last_time is not None:
        info.duration_s = float(last_time) - float(info.started)
    info.checkpoint = latest_checkpoint(folder)
    if info.adapter is None and (folder / ADAPTER_DIR / "adapter_config.json").is_file():
        info.adapter = folder / ADAPTER_DIR
    return info


def is_run_dir(folder: Path) -> bool:
    return folder.is_dir() and ((folder / RUN_CONFIG).is_file() or (folder / EVENTS_FILE).is_file())


def list_runs(output_dir: Path | str | None = None) -> list[RunInfo]:
    """Every run folder under ``output_dir`` (empty/None = the user's runs folder), newest first."""
    root = runs_root(output_dir)
    if not root.is_dir():
        return []
    runs = [run_info(p) for p in root.iterdir() if is_run_dir(p)]
    return sorted(runs, key=lambda r: (r.started or 0.0, r.name), reverse=True)
