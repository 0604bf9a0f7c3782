"""Reading run folders back: the Runs page and ``--resume`` use this, never the trainer's
internals. Everything here reads files only, so it is cheap and safe while a run is going."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llamahome_gui.core.runs.folders import (
    ADAPTER_DIR,
    CHECKPOINTS_DIR,
    EVENTS_FILE,
    RUN_CONFIG,
    runs_root,
)

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
    last_event: dict[str, Any] = field(default_factory=dict)


def read_events(run_dir: Path | str) -> list[dict[str, Any]]:
    """All complete events of a run, oldest first. A half-written last line (the trainer is
    writing it right now) and lines that are not JSON objects are skipped."""
    source = Path(run_dir) / EVENTS_FILE
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    events: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict) and "event" in item:
            events.append(item)
    return events


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


def is_alive(pid: int | None, started: float | None = None) -> bool:
    """Whether process ``pid`` is running (not a zombie). With ``started`` (a Unix time), a
    process created clearly after it is someone else reusing the number."""
    if not pid or pid <= 0:
        return False
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if started is not None and proc.create_time() > started + 5.0:
            return False
        return True
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return pid == os.getpid()


def run_info(run_dir: Path | str) -> RunInfo:
    """Summarise one run folder from its events."""
    folder = Path(run_dir)
    info = RunInfo(path=folder, name=folder.name, status="created")
    events = read_events(folder)
    lifecycle = None
    for ev in events:
        kind = ev.get("event")
        if kind == "start":
            lifecycle = ev
            info.started = info.started if info.started is not None else ev.get("time")
            info.pid = ev.get("pid")
            cfg = ev.get("config", {})
            info.model = str(cfg.get("model", info.model))
            info.dataset = str(cfg.get("dataset", info.dataset))
            info.max_steps = int(ev.get("total_steps", info.max_steps) or 0)
            info.steps = max(info.steps, int(ev.get("resumed_from", 0) or 0))
            info.error = ""
        elif kind == "step":
            info.steps = int(ev.get("step", info.steps))
            info.max_steps = int(ev.get("max_steps", info.max_steps) or info.max_steps)
            info.final_loss = ev.get("loss", info.final_loss)
        elif kind in ("done", "stopped", "error"):
            lifecycle = ev
            if kind == "done":
                info.final_loss = ev.get("final_loss", info.final_loss)
                info.duration_s = ev.get("duration_s")
                info.adapter = Path(ev["adapter"]) if ev.get("adapter") else None
            elif kind == "error":
                info.error = str(ev.get("message", ""))
            if "step" in ev:
                info.steps = int(ev["step"])
        if events:
            info.last_event = events[-1]
    if lifecycle is None:
        info.status = "created" if (folder / RUN_CONFIG).is_file() and not events else "failed"
    else:
        kind = lifecycle["event"]
        if kind == "start":
            alive = is_alive(lifecycle.get("pid"), lifecycle.get("time"))
            info.status = "running" if alive else "failed"
            if not alive:
                info.error = "the trainer process ended without a final event (killed or crashed)"
        else:
            info.status = {"done": "done", "stopped": "stopped", "error": "failed"}[kind]
    if info.started is not None and info.duration_s is None and events:
        info.duration_s = float(events[-1].get("time", info.started)) - float(info.started)
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
