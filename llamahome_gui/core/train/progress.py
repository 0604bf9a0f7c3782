"""Showing trainer events to a person: a one-line progress bar on a terminal, plain lines
otherwise (logs, pipes, the GUI's trainer.log)."""

from __future__ import annotations

from typing import Any, TextIO

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

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "status":
            self._line(str(event.get("message", "")))
        elif kind == "start":
            cfg = event.get("config", {})
            resumed = event.get("resumed_from") or 0
            self._line(
                f"training {cfg.get('model')} on {cfg.get('dataset')} "
                f"({cfg.get('train_examples')} examples, {cfg.get('eval_examples')} for eval), "
                f"{event.get('total_steps')} steps, {event.get('trainable_params'):,} trainable "
                f"parameters, {cfg.get('device')}" + (f", resuming at step {resumed}" if resumed else ""))
            for note in cfg.get("notes", []):
                self._line(f"note: {note}")
        elif kind == "step":
            self._step(event)
        elif kind == "eval":
            self._line(f"step {event.get('step')}: eval loss {_num(event.get('eval_loss'), '.4f')}")
        elif kind == "checkpoint":
            self._line(f"checkpoint: {event.get('path')}")
        elif kind == "stopped":
            self._line(f"stopped at step {event.get('step')}; checkpoint: {event.get('checkpoint')}")
        elif kind == "done":
            self._line(f"final loss {_num(event.get('final_loss'), '.4f')} "
                       f"({event.get('reason')}); adapter: {event.get('adapter')}")

    def _step(self, e: dict[str, Any]) -> None:
        step, total = int(e.get("step", 0)), max(1, int(e.get("max_steps", 1)))
        stats = (f"loss {_num(e.get('loss'), '.4f')}  lr {_num(e.get('lr'), '.2e')}  "
                 f"{_num(e.get('tokens_per_s'), '.0f')} tok/s  eta {fmt_duration(e.get('eta_s'))}")
        if not self.bar:
            if step % self.every == 0 or step >= total:
                self._line(f"step {step}/{total}  {stats}")
            return
        filled = int(self.width * step / total)
        bar = "#" * filled + "." * (self.width - filled)
        self.out.write(f"\r[{bar}] {step}/{total}  {stats}\033[K")
        self.out.flush()
        self._open_line = True
        if step >= total:
            self.out.write("\n")
            self.out.flush()
            self._open_line = False
