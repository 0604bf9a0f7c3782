"""The trainer's voice: JSON-lines events, metrics.csv and TensorBoard, written as they happen.

Every event is one line in ``events.jsonl``, flushed at once so the GUI (another process)
can tail it; listeners (the CLI's progress display, ``--events -``) get the same dicts.
Only rank 0 of a several-process run writes; the other ranks get a silent log.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from llamahome_gui.core.runs.folders import EVENTS_FILE, METRICS_FILE, TENSORBOARD_DIR

Listener = Callable[[dict[str, Any]], None]
METRIC_COLUMNS = ("time", "step", "epoch", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s",
                  "eval_loss")


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null so every line stays parseable."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


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

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record = _clean({"event": event, "time": round(time.time(), 3), **fields})
        if self._events is not None:
            self._events.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._events.flush()
            if event in ("done", "stopped", "error", "checkpoint"):
                os.fsync(self._events.fileno())
        self._record_metrics(record)
        for listener in list(self.listeners):
            try:
                listener(record)
            except Exception as exc:  # a closed pipe must not end the run
                self.listeners.remove(listener)
                import sys

                print(f"warning: an event listener failed and was dropped: {exc!r}",
                      file=sys.stderr)
        return record

    def _record_metrics(self, record: dict[str, Any]) -> None:
        kind = record["event"]
        if kind not in ("step", "eval") or self._csv is None:
            return
        row = {k: record.get(k) for k in METRIC_COLUMNS}
        self._csv.writerow(row)
        self._metrics.flush()
        if self._tb is None:
            return
        step = int(record["step"])
        if kind == "step":
            for key, tag in (("loss", "train/loss"), ("lr", "train/learning_rate"),
                             ("grad_norm", "train/grad_norm"), ("tokens_per_s", "train/tokens_per_s"),
                             ("epoch", "train/epoch")):
                if record.get(key) is not None:
                    self._tb.add_scalar(tag, float(record[key]), step)
        elif record.get("eval_loss") is not None:
            self._tb.add_scalar("eval/loss", float(record["eval_loss"]), step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
            self._tb = None
        for fh in (self._events, self._metrics):
            if fh is not None and not fh.closed:
                fh.flush()
                fh.close()
