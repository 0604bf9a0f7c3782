"""The LoRA training engine (no Qt; torch is imported only when a run starts).

``run_training(run_dir, configs, resume=None, listeners=(), stop=None) -> TrainResult`` runs
one fine-tune into ``run_dir`` (see ``llamahome_gui.core.runs`` for the folder layout and the
events). ``configs`` maps component names (model, training, inference, resource, monitoring)
to validated config models. Errors the user can fix raise ``TrainingError`` (``message`` and
``hint``), after an ``error`` event was written. The run folder is locked for the run
(``core.runs.lock``); a resume is checked against its checkpoint before it starts.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llamahome_gui.core.train.errors import TrainingError

if TYPE_CHECKING:
    from llamahome_gui.core.train.trainer import StopFlag, TrainResult

__all__ = ["TrainingError", "run_training"]


def run_training(run_dir: Path, configs: dict[str, Any], *, resume: Path | None = None,
                 listeners: list[Any] | None = None, stop: StopFlag | None = None) -> TrainResult:
    from llamahome_gui.core.runs.lock import RunLock
    from llamahome_gui.core.train.resume import check_resume
    from llamahome_gui.core.train.trainer import LoraTrainer

    main = os.environ.get("RANK", "0") in ("", "0")
    with RunLock(run_dir) if main else nullcontext():
        if resume is not None:
            check_resume(resume, configs)
        return LoraTrainer(run_dir, configs, resume=resume, listeners=listeners,
                           stop=stop).train()
