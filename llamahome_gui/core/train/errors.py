"""Errors the trainer reports to the user: a message (what, where) and a hint (how to fix)."""

from __future__ import annotations

from typing import Any

from llamahome_gui.core.units import fmt_gib


class TrainingError(RuntimeError):
    """A run cannot start or continue. ``hint`` says what to change."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


BUG_HINT = ("this looks like a bug or an unsupported model; the trainer's output has the "
            "details")


def failure_hint(exc: BaseException) -> str:
    """The hint for an unexpected failure: "looks like a bug" only when it does not come
    from the user's machine or files (permissions, a full disk, a missing or broken file)."""
    import errno

    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "the disk is full: free some space (or set training.training.output_dir " \
                   "to another disk) and resume the run"
        if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EROFS):
            return "make the file or folder named above writable, or set " \
                   "training.training.output_dir to a folder you can write to"
        return "check the file or folder named above (it changed or is not what the run " \
               "expects), then resume the run"
    if isinstance(exc, MemoryError):
        return "the machine ran out of memory; close other programs or lower the batch size"
    if isinstance(exc, UnicodeError):
        return "a file is not valid UTF-8 text; save it as UTF-8"
    return BUG_HINT


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def memory_figures(device: str) -> str:
    """What the device has and what this process used, for an out-of-memory message."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        peak = torch.cuda.max_memory_allocated()
        return (f"GPU memory: peak allocated {fmt_gib(peak)}, free {fmt_gib(free)} of {fmt_gib(total)}")
    import psutil

    vm = psutil.virtual_memory()
    rss = psutil.Process().memory_info().rss
    return f"RAM: this process {fmt_gib(rss)}, available {fmt_gib(vm.available)} of {fmt_gib(vm.total)}"


def out_of_memory_error(exc: BaseException, device: str, training: Any, lora: Any,
                        step: int) -> TrainingError:
    """An out-of-memory failure turned into figures and concrete changes to try."""
    tips = []
    if training.per_device_train_batch_size > 1:
        half = max(1, training.per_device_train_batch_size // 2)
        tips.append(f"training.training.per_device_train_batch_size={half} (and "
                    f"gradient_accumulation_steps={training.gradient_accumulation_steps * 2} to "
                    "keep the effective batch)")
    if training.max_seq_length > 128:
        tips.append(f"training.training.max_seq_length={max(64, training.max_seq_length // 2)}")
    if not training.gradient_checkpointing:
        tips.append("training.training.gradient_checkpointing=true")
    if lora.r > 4:
        tips.append(f"training.lora.r={max(4, lora.r // 2)}")
    return TrainingError(
        f"out of memory at step {step} on {device}. {memory_figures(device)}",
        hint="try " + "; ".join(tips) + " (e.g. llamahome train --set KEY=VALUE)")
