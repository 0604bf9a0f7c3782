"""Trainer events as plain dataclasses, and a tail that reads ``events.jsonl`` as it grows.

Pure Python (no Qt): the train worker turns these into signals, the Runs page reads whole
histories with them, and tests build them directly. Field names follow the trainer's
``events.jsonl`` contract; a few aliases are accepted so a renamed key does not blank a chart.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TERMINAL_EVENTS = frozenset({"done", "stopped", "error"})
EVENTS_FILE = "events.jsonl"
LOG_FILE = "trainer.log"


def _first(data: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if data.get(key) is not None:
            return data[key]
    return default


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RunStarted:
    run_dir: Path
    total_steps: int
    trainable_params: int | None = None
    pid: int | None = None
    start_step: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    time: float | None = None


@dataclass(frozen=True)
class StepLogged:
    step: int
    max_steps: int
    loss: float | None
    lr: float | None = None
    epoch: float | None = None
    grad_norm: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    time: float | None = None  # wall clock (epoch seconds) when the trainer logged it


@dataclass(frozen=True)
class Evaluated:
    step: int
    eval_loss: float | None
    elapsed_s: float | None = None
    time: float | None = None


@dataclass(frozen=True)
class Checkpointed:
    step: int
    path: str
    elapsed_s: float | None = None
    time: float | None = None


@dataclass(frozen=True)
class RunStopped:
    step: int | None
    checkpoint: str | None
    forced: bool = False


@dataclass(frozen=True)
class RunFailed:
    reason: str
    hint: str = ""
    exit_code: int | None = None


@dataclass(frozen=True)
class StatusReported:
    """What the trainer is busy with before the first step (loading the model, the data)."""

    message: str


@dataclass(frozen=True)
class RunFinished:
    adapter_path: str
    final_loss: float | None
    duration_s: float | None
    run_dir: Path | None = None


Event = StatusReported | RunStarted | StepLogged | Evaluated | Checkpointed | RunStopped | RunFailed | RunFinished


def parse_event(data: dict[str, Any], run_dir: Path) -> Event | None:
    """The dataclass for one decoded line, or None for an event kind this app does not show."""
    kind = data.get("event")
    t = _num(_first(data, "time", "timestamp", "ts"))
    elapsed = _num(_first(data, "elapsed_s", "elapsed"))
    if kind == "start":
        return RunStarted(
            run_dir=run_dir,
            total_steps=int(_first(data, "total_steps", "max_steps", default=0) or 0),
            trainable_params=_first(data, "trainable_params"),
            pid=_first(data, "pid"),
            start_step=int(_first(data, "resumed_from", "start_step", default=0) or 0),
            config=dict(_first(data, "config", "config_summary", "summary", default={}) or {}),
            time=t)
    if kind == "step":
        return StepLogged(
            step=int(data.get("step") or 0), max_steps=int(_first(data, "max_steps", default=0)),
            loss=_num(data.get("loss")), lr=_num(_first(data, "lr", "learning_rate")),
            epoch=_num(data.get("epoch")), grad_norm=_num(data.get("grad_norm")),
            tokens_per_s=_num(_first(data, "tokens_per_s", "tokens_per_second")),
            elapsed_s=elapsed, eta_s=_num(_first(data, "eta_s", "eta")), time=t)
    if kind == "eval":
        return Evaluated(step=int(data.get("step") or 0), eval_loss=_num(data.get("eval_loss")),
                         elapsed_s=elapsed, time=t)
    if kind == "checkpoint":
        return Checkpointed(step=int(data.get("step") or 0), path=str(data.get("path") or ""),
                            elapsed_s=elapsed, time=t)
    if kind == "stopped":
        ckpt = _first(data, "checkpoint", "path")
        return RunStopped(step=_first(data, "step"), checkpoint=None if ckpt is None else str(ckpt))
    if kind == "error":
        return RunFailed(reason=str(_first(data, "message", "error", default="unknown error")),
                         hint=str(_first(data, "hint", default="")))
    if kind == "status":
        return StatusReported(str(_first(data, "message", default="")))
    if kind == "done":
        adapter = _first(data, "adapter", "adapter_path", "adapter_dir", default="")
        return RunFinished(adapter_path=str(adapter), final_loss=_num(_first(data, "final_loss", "loss")),
                           duration_s=_num(_first(data, "duration_s", "duration")), run_dir=run_dir)
    return None


class LineTail:
    """Complete lines appended to a file since the last read (a partial last line waits).

    Survives the file not existing yet and being truncated or replaced (the offset restarts).
    """

    def __init__(self, path: Path, *, from_end: bool = False) -> None:
        self.path = Path(path)
        self._offset = self.path.stat().st_size if from_end and self.path.exists() else 0
        self._partial = b""
        self._inode: int | None = None

    def read_lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as fh:
                st = os.fstat(fh.fileno())
                if self._inode is not None and (st.st_ino != self._inode or st.st_size < self._offset):
                    self._offset, self._partial = 0, b""
                self._inode = st.st_ino
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        if not chunk:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        return [line.decode("utf-8", errors="replace").rstrip("\r") for line in complete]


class EventTail:
    """Decoded event dicts appended to ``events.jsonl``; a torn or foreign line is skipped."""

    def __init__(self, run_dir: Path, *, from_end: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self._lines = LineTail(self.run_dir / EVENTS_FILE, from_end=from_end)
        self.bad_lines: list[str] = []

    @property
    def path(self) -> Path:
        return self._lines.path

    def read(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for line in self._lines.read_lines():
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                self.bad_lines.append(line)
                continue
            if isinstance(data, dict) and "event" in data:
                out.append(data)
        return out


def read_history(run_dir: Path) -> list[Event]:
    """Every event of a finished or running run, as dataclasses (for charts of past runs)."""
    tail = EventTail(run_dir)
    return [e for e in (parse_event(d, Path(run_dir)) for d in tail.read()) if e is not None]


def last_start_index(events: list[Event]) -> int:
    """Index of the newest ``RunStarted`` (a resumed run has one per segment), or 0."""
    for i in range(len(events) - 1, -1, -1):
        if isinstance(events[i], RunStarted):
            return i
    return 0
