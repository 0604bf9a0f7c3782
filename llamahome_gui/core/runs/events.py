"""Run events: the one contract for ``events.jsonl`` (written by the trainer, read by
everything else).

Each event kind is a frozen dataclass registered under its ``event`` name; ``to_record()``
gives the JSON object the trainer writes, ``from_record()`` reads one back. Every field has
one name. Adding an event = one decorated class; adding a field = one line with a default
(old records without it still read). Records of older run folders pass through
:func:`upgrade_record` (the only place that knows old spellings) before they are parsed.

:class:`EventTail` is the one reader: it follows the file as it grows (a torn last line
waits) and yields dataclasses; :func:`read_events` reads a whole run with it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

EVENTS_FILE = "events.jsonl"

E = TypeVar("E", bound="Event")
EVENT_TYPES: dict[str, type[Event]] = {}


def event_kind(name: str):  # noqa: ANN201 - a class decorator
    """Register an event class under the ``event`` name it has in ``events.jsonl``."""
    def register(cls: type[E]) -> type[E]:
        cls.kind = name
        EVENT_TYPES[name] = cls
        return cls
    return register


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf (written as null) and no Path (written as text)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _coerce(annotation: str, value: Any) -> Any:
    """A record value as the field's declared type; a value that cannot be read is None for
    optional fields (a chart gap), and raises for required ones (the line is skipped)."""
    optional = annotation.endswith("| None")
    base = annotation.removesuffix("| None").strip()
    if value is None:
        if optional:
            return None
        raise ValueError("missing value")
    try:
        if base == "int":
            return int(value)
        if base == "float":
            return float(value)
        if base == "str":
            return str(value)
        if base == "bool":
            return bool(value)
        if base.startswith("dict"):
            return dict(value)
        if base.startswith("list"):
            return list(value)
    except (TypeError, ValueError):
        if optional:
            return None
        raise
    return value


@dataclass(frozen=True, kw_only=True)
class Event:
    """Common to every event: the wall-clock time (Unix seconds) the trainer wrote it."""

    kind: ClassVar[str] = ""
    time: float | None = None

    def to_record(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return _clean({"event": self.kind, **data})

    @classmethod
    def from_record(cls: type[E], record: dict[str, Any]) -> E:
        """Parse one record of this kind (unknown keys are ignored: a newer trainer's extra
        fields do not break an older reader). Raises ValueError for a record it cannot read."""
        values = {}
        for f in dataclasses.fields(cls):
            if f.name in record:
                spelled = f.type if isinstance(f.type, str) else getattr(f.type, "__name__",
                                                                         str(f.type))
                values[f.name] = _coerce(spelled, record[f.name])
        try:
            return cls(**values)
        except TypeError as exc:  # a required field is missing
            raise ValueError(f"{cls.kind} event: {exc}") from None


@event_kind("status")
@dataclass(frozen=True, kw_only=True)
class StatusReported(Event):
    """What the trainer is busy with before its first step (loading the model, the data)."""

    message: str


@event_kind("start")
@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A trainer began (or resumed) the run. ``pid`` + ``pid_created`` (the process's start
    time) identify the trainer even after its pid is reused; ``start_step`` > 0 = resumed."""

    total_steps: int
    pid: int | None = None
    pid_created: float | None = None
    start_step: int = 0
    trainable_params: int | None = None
    total_params: int | None = None
    steps_per_epoch: int | None = None
    config: dict[str, Any] = field(default_factory=dict)


@event_kind("step")
@dataclass(frozen=True, kw_only=True)
class StepLogged(Event):
    step: int
    max_steps: int = 0
    loss: float | None = None
    lr: float | None = None
    epoch: float | None = None
    grad_norm: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    # DPO (training.training.method = dpo): mean rewards beta * (policy - reference log-prob)
    # of the chosen and rejected answers, their difference, and the share of pairs ranked right.
    rewards_chosen: float | None = None
    rewards_rejected: float | None = None
    reward_margin: float | None = None
    reward_accuracy: float | None = None


@event_kind("eval")
@dataclass(frozen=True, kw_only=True)
class Evaluated(Event):
    step: int
    eval_loss: float | None = None
    elapsed_s: float | None = None
    eval_rewards_chosen: float | None = None
    eval_rewards_rejected: float | None = None
    eval_reward_margin: float | None = None
    eval_reward_accuracy: float | None = None


@event_kind("sample")
@dataclass(frozen=True, kw_only=True)
class SampleGenerated(Event):
    """A greedy answer to ``prompt`` with the adapter of ``step`` (at every evaluation and at
    the end); ``seconds``: what generating it cost."""

    step: int
    prompt: str
    text: str
    seconds: float | None = None


@event_kind("checkpoint")
@dataclass(frozen=True, kw_only=True)
class Checkpointed(Event):
    step: int
    path: str


@event_kind("stopped")
@dataclass(frozen=True, kw_only=True)
class RunStopped(Event):
    """Interrupted; ``checkpoint`` (if any) resumes it. ``forced``: killed, not asked."""

    step: int | None = None
    checkpoint: str | None = None
    forced: bool = False


@event_kind("error")
@dataclass(frozen=True, kw_only=True)
class RunFailed(Event):
    """The run cannot go on: ``message`` (what, where) and ``hint`` (how to fix).
    ``exit_code`` is set when the failure was read from the process's exit instead."""

    message: str
    hint: str = ""
    step: int | None = None
    exit_code: int | None = None


@event_kind("done")
@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """``reason``: max_steps, epochs or early_stopping."""

    adapter: str
    step: int | None = None
    final_loss: float | None = None
    duration_s: float | None = None
    reason: str = ""


TERMINAL = (RunStopped, RunFailed, RunFinished)


def upgrade_record(record: dict[str, Any]) -> dict[str, Any]:
    """Old run folders, read as today's records: the one compatibility step.

    Trainers before the event dataclasses wrote ``resumed_from`` beside (or, earlier,
    instead of) ``start_step`` in the start event."""
    if record.get("event") == "start" and "start_step" not in record and "resumed_from" in record:
        record = {**record, "start_step": record["resumed_from"]}
    return record


def parse_record(record: Any) -> Event | None:
    """The dataclass for one decoded JSON line; None for a kind this app does not know or a
    line it cannot read (another program's line, a damaged file)."""
    if not isinstance(record, dict):
        return None
    record = upgrade_record(record)
    cls = EVENT_TYPES.get(str(record.get("event")))
    if cls is None:
        return None
    try:
        return cls.from_record(record)
    except ValueError:
        return None


def encode(event: Event) -> str:
    """One ``events.jsonl`` line (without the newline)."""
    return json.dumps(event.to_record(), ensure_ascii=False)


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
    """The events appended to a run's ``events.jsonl`` since the last read, as dataclasses.

    A torn line (being written) waits for its end; a line that is not an event is counted in
    ``bad_lines`` and skipped."""

    def __init__(self, run_dir: Path | str, *, from_end: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self._lines = LineTail(self.run_dir / EVENTS_FILE, from_end=from_end)
        self.bad_lines: list[str] = []

    @property
    def path(self) -> Path:
        return self._lines.path

    def read(self) -> list[Event]:
        out: list[Event] = []
        for line in self._lines.read_lines():
            if not line.strip():
                continue
            try:
                event = parse_record(json.loads(line))
            except (json.JSONDecodeError, RecursionError):
                event = None
            if event is None:
                self.bad_lines.append(line)
            else:
                out.append(event)
        return out


def read_events(run_dir: Path | str) -> list[Event]:
    """Every complete event of a run, oldest first (safe while the trainer writes)."""
    return EventTail(run_dir).read()


def last_start_index(events: list[Event]) -> int:
    """Index of the newest ``RunStarted`` (a resumed run has one per segment), or 0."""
    for i in range(len(events) - 1, -1, -1):
        if isinstance(events[i], RunStarted):
            return i
    return 0
