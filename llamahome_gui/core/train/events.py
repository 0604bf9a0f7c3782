"""The trainer's voice: run events, metrics.csv and TensorBoard, written as they happen.

Every event is a ``core.runs.events`` dataclass, written as one line in ``events.jsonl`` and
flushed at once so the GUI (another process) can tail it; listeners (the CLI's progress
display, ``--events -``) get the same dataclass. Only rank 0 of a several-process run
writes; the other ranks get a silent log.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from llamahome_gui.core.runs.events import (
    EVENTS_FILE,
    Checkpointed,
    Evaluated,
    Event,
    RunFailed,
    RunFinished,
    RunStopped,
    StepLogged,
    encode,
)
from llamahome_gui.core.runs.folders import METRICS_FILE, TENSORBOARD_DIR

Listener = Callable[[Event], None]
METRIC_COLUMNS = ("time", "step", "epoch", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s",
                  "eval_loss")
# Written to disk (fsync) at once: the last word of a run, and what resuming relies on.
_DURABLE = (RunFinished, RunStopped, RunFailed, Checkpointed)


class EventLog:
    """Writes a run's events, metrics and TensorBoard scalars."""

    def __init__(self, run_dir: Path | None, *, listeners: list[Listener] | None = None,
                 tensorboard: bool = True) -> None:
        self.run_dir = run_dir
        self.listeners = list(listeners or [])
        self._events: TextIO | None = None
        self._metrics: TextIO | None = None
        self._csv: Any = None
        self._tb: Any = None
        if run_dir is None:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        self._events = open(run_dir / EVENTS_FILE, "a", encoding="utf-8")
        metrics_path = run_dir / METRICS_FILE
        new_metrics = not metrics_path.exists() or metrics_path.stat().st_size == 0
        self._metrics = open(metrics_path, "a", encoding="utf-8", newline="")
        self._csv = csv.DictWriter(self._metrics, fieldnames=METRIC_COLUMNS)
        if new_metrics:
            self._csv.writeheader()
            self._metrics.flush()
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(run_dir / TENSORBOARD_DIR), flush_secs=10)

    def emit(self, event: Event) -> Event:
        """Stamp ``event`` with the time (unless it has one), write it and tell the listeners."""
        if event.time is None:
            event = dataclasses.replace(event, time=round(time.time(), 3))
        try:
            if self._events is not None:
                self._events.write(encode(event) + "\n")
                self._events.flush()
                if isinstance(event, _DURABLE):
                    os.fsync(self._events.fileno())
            self._record_metrics(event)
        except OSError as exc:  # e.g. a full disk: the run goes on, the listeners still hear it
            self._warn(f"could not write {event.kind} to {self.run_dir}: {exc}")
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception as exc:  # a closed pipe must not end the run
                self.listeners.remove(listener)
                self._warn(f"an event listener failed and was dropped: {exc!r}")
        return event

    @staticmethod
    def _warn(text: str) -> None:
        import sys

        print(f"warning: {text}", file=sys.stderr, flush=True)

    def _record_metrics(self, event: Event) -> None:
        if not isinstance(event, (StepLogged, Evaluated)) or self._csv is None:
            return
        record = event.to_record()
        self._csv.writerow({k: record.get(k) for k in METRIC_COLUMNS})
        self._metrics.flush()
        if self._tb is None:
            return
        if isinstance(event, StepLogged):
            for key, tag in (("loss", "train/loss"), ("lr", "train/learning_rate"),
                             ("grad_norm", "train/grad_norm"), ("tokens_per_s", "train/tokens_per_s"),
                             ("epoch", "train/epoch"), ("reward_margin", "dpo/reward_margin"),
                             ("reward_accuracy", "dpo/reward_accuracy"),
                             ("rewards_chosen", "dpo/rewards_chosen"),
                             ("rewards_rejected", "dpo/rewards_rejected")):
                if record.get(key) is not None:
                    self._tb.add_scalar(tag, float(record[key]), event.step)
        elif record.get("eval_loss") is not None:
            self._tb.add_scalar("eval/loss", float(record["eval_loss"]), event.step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
            self._tb = None
        for fh in (self._events, self._metrics):
            if fh is not None and not fh.closed:
                try:
                    fh.close()
                except OSError as exc:  # the buffered rest did not fit on the disk
                    self._warn(f"could not finish writing {fh.name}: {exc}")


def record_failure(run_dir: Path, message: str, hint: str = "") -> None:
    """Write a run's failure when no trainer got to write it (it failed before starting)."""
    log = EventLog(run_dir, tensorboard=False)
    try:
        log.emit(RunFailed(message=message, hint=hint))
    finally:
        log.close()
