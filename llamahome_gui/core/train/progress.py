"""Showing trainer events to a person: a one-line progress bar on a terminal, plain lines
otherwise (logs, pipes, the GUI's trainer.log)."""

from __future__ import annotations

from typing import Any, TextIO

from llamahome_gui.core.runs.events import (
    Checkpointed,
    Evaluated,
    Event,
    RunFinished,
    RunStarted,
    RunStopped,
    StatusReported,
    StepLogged,
)
from llamahome_gui.core.units import fmt_duration


def _num(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


class ProgressDisplay:
    """An event listener that prints progress to ``out``."""

    def __init__(self, out: TextIO, *, bar: bool, width: int = 24, every: int = 1) -> None:
        self.out = out
        self.bar = bar
        self.every = max(1, every)  # plain lines: one per this many steps (and the last)
        self.width = width
        self._open_line = False

    def _line(self, text: str) -> None:
        if self._open_line:
            self.out.write("\n")
            self._open_line = False
        self.out.write(text + "\n")
        self.out.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, StatusReported):
            self._line(event.message)
        elif isinstance(event, RunStarted):
            cfg = event.config
            resumed = event.start_step
            params = f"{event.trainable_params:,}" if event.trainable_params is not None else "?"
            self._line(
                f"training {cfg.get('model')} on {cfg.get('dataset')} "
                f"({cfg.get('train_examples')} examples, {cfg.get('eval_examples')} for eval), "
                f"{event.total_steps} steps, {params} trainable parameters, {cfg.get('device')}"
                + (f", resuming at step {resumed}" if resumed else ""))
            for note in cfg.get("notes", []):
                self._line(f"note: {note}")
        elif isinstance(event, StepLogged):
            self._step(event)
        elif isinstance(event, Evaluated):
            self._line(f"step {event.step}: eval loss {_num(event.eval_loss, '.4f')}")
        elif isinstance(event, Checkpointed):
            self._line(f"checkpoint: {event.path}")
        elif isinstance(event, RunStopped):
            self._line(f"stopped at step {event.step}; checkpoint: {event.checkpoint}")
        elif isinstance(event, RunFinished):
            self._line(f"final loss {_num(event.final_loss, '.4f')} "
                       f"({event.reason}); adapter: {event.adapter}")

    def _step(self, e: StepLogged) -> None:
        step, total = e.step, max(1, e.max_steps)
        stats = (f"loss {_num(e.loss, '.4f')}  lr {_num(e.lr, '.2e')}  "
                 f"{_num(e.tokens_per_s, '.0f')} tok/s  eta {fmt_duration(e.eta_s)}")
        if not self.bar:
            if step % self.every == 0 or step >= total:
                self._line(f"step {step}/{total}  {stats}")
            return
        filled = int(self.width * min(step, total) / total)
        bar = "#" * filled + "." * (self.width - filled)
        self.out.write(f"\r[{bar}] {step}/{total}  {stats}\033[K")
        self.out.flush()
        self._open_line = True
        if step >= total:
            self.out.write("\n")
            self.out.flush()
            self._open_line = False
