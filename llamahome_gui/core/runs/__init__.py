"""Runs: the run plan, run folders, run events, the run lock and history (no Qt, no torch).

- ``plan.plan_run(load, overrides) -> RunPlan``: what the Train page and ``llamahome train``
  both start from; ``RunPlan.create()`` makes ``<output_dir>/<yyyymmdd-hhmmss>-<name>/`` with
  its ``run.toml`` snapshot of every ``RUN_COMPONENTS`` component.
- ``events``: one frozen dataclass per event kind in ``events.jsonl`` (``to_record`` /
  ``from_record``), ``EventTail`` (the one reader, follows a growing file) and
  ``read_events(run_dir) -> list[Event]``.
- ``liveness.is_alive(pid, created)``: the one pid-reuse-safe liveness check.
- ``lock.RunLock(run_dir)``: one trainer per run folder (``trainer.lock``: flock + pid and
  start time); ``lock.check_free(run_dir)`` raises ``RunBusyError`` ("RUN is being trained by
  process N") for the window before it starts a trainer.
- ``history``: ``list_runs(output_dir) -> list[RunInfo]`` newest first, ``run_info(run_dir)``,
  ``latest_checkpoint`` / ``list_checkpoints``. ``status`` is ``running``, ``done``,
  ``stopped``, ``failed`` or ``created``; a run whose trainer died without a last word reads
  ``failed``.

``metrics.csv`` has one row per step/eval event; TensorBoard scalars: train/loss,
train/learning_rate, train/grad_norm, train/tokens_per_s, train/epoch, eval/loss.
"""

from llamahome_gui.core.runs.events import EVENTS_FILE, read_events
from llamahome_gui.core.runs.folders import (
    ADAPTER_DIR,
    CHECKPOINTS_DIR,
    METRICS_FILE,
    RUN_COMPONENTS,
    RUN_CONFIG,
    TENSORBOARD_DIR,
    new_run_dir,
    read_run_config,
    runs_root,
    write_run_config,
)
from llamahome_gui.core.runs.history import (
    RunInfo,
    latest_checkpoint,
    list_checkpoints,
    list_runs,
    run_info,
)
from llamahome_gui.core.runs.liveness import is_alive

__all__ = [
    "ADAPTER_DIR", "CHECKPOINTS_DIR", "EVENTS_FILE", "METRICS_FILE", "RUN_COMPONENTS", "RUN_CONFIG",
    "TENSORBOARD_DIR", "RunInfo", "is_alive", "latest_checkpoint", "list_checkpoints", "list_runs",
    "new_run_dir", "read_events", "read_run_config", "run_info", "runs_root", "write_run_config",
]
