"""Run folders and their history (no Qt, no torch).

Public API (the GUI's Runs page and the CLI use these):

- ``list_runs(output_dir=None) -> list[RunInfo]``: every run under ``output_dir`` (empty =
  the user's runs folder), newest first. ``RunInfo`` has ``path, name, status, started,
  model, dataset, steps, max_steps, final_loss, duration_s, pid, error, checkpoint, adapter``;
  ``status`` is ``running``, ``done``, ``stopped``, ``failed`` or ``created``. A run whose
  process died without a ``done``/``stopped``/``error`` event reads ``failed``.
- ``run_info(run_dir) -> RunInfo``: one folder.
- ``read_events(run_dir) -> list[dict]``: the parsed ``events.jsonl`` (a half-written last
  line is skipped, so it is safe to call while the trainer writes).
- ``latest_checkpoint(run_dir) -> Path | None``; ``list_checkpoints(run_dir)``.
- ``is_alive(pid, started=None) -> bool``.
- ``new_run_dir(output_dir, name)``, ``write_run_config(run_dir, configs)``,
  ``read_run_config(run_dir)``: create a run folder and its ``run.toml`` snapshot. To start a
  run from the GUI: ``d = new_run_dir(...); write_run_config(d, configs)``, then run
  ``python -m llamahome_gui train --run-dir d`` as a child process and tail
  ``d/events.jsonl``.

Event lines (one JSON object each, with ``event`` and ``time``): ``status`` (message: what the
trainer prepares, e.g. importing the starter model), ``start`` (config, total_steps,
trainable_params, total_params, steps_per_epoch, pid, start_step = resumed_from), ``step`` (step, max_steps, epoch, loss, lr, grad_norm,
tokens_per_s, elapsed_s, eta_s), ``eval`` (step, eval_loss), ``checkpoint`` (step, path),
``stopped`` (step, checkpoint), ``error`` (message, hint, step), ``done`` (adapter, final_loss,
duration_s, step, reason: max_steps, epochs or early_stopping). A resumed run appends a new
``start`` to the same file. ``metrics.csv`` has one row per step/eval event; TensorBoard
scalars: train/loss, train/learning_rate, train/grad_norm, train/tokens_per_s, train/epoch,
eval/loss.
"""

from llamahome_gui.core.runs.folders import (
    ADAPTER_DIR,
    CHECKPOINTS_DIR,
    EVENTS_FILE,
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
    is_alive,
    latest_checkpoint,
    list_checkpoints,
    list_runs,
    read_events,
    run_info,
)

__all__ = [
    "ADAPTER_DIR", "CHECKPOINTS_DIR", "EVENTS_FILE", "METRICS_FILE", "RUN_COMPONENTS", "RUN_CONFIG",
    "TENSORBOARD_DIR", "RunInfo", "is_alive", "latest_checkpoint", "list_checkpoints", "list_runs",
    "new_run_dir", "read_events", "read_run_config", "run_info", "runs_root", "write_run_config",
]
