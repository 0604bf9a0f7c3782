"""What a training run shares with its callers: the stop flag, the result, the data exactly
as the trainer prepares it, and the summary its start event carries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamahome_gui.core.train.prepare import Prepared, load_records, prepare_data


class Interrupted(Exception):
    """Raised from inside a forward or backward pass when a stop was requested."""


class StopFlag:
    """Set from a signal handler; the loop checks it between micro-batches."""

    def __init__(self) -> None:
        self.requested = False

    def set(self) -> None:
        self.requested = True


@dataclass
class TrainResult:
    status: str  # "done" or "stopped"
    step: int
    adapter: Path | None = None
    checkpoint: Path | None = None
    final_loss: float | None = None
    reason: str = ""


def system_prompt(configs: dict[str, Any]) -> str | None:
    """The system prompt training renders with: the one chat uses (``inference.chat``), so
    the adapter learns the conversation it will be asked in."""
    return configs["inference"].chat.system_prompt if "inference" in configs else None


def load_run_records(training: Any) -> Any:
    """The run's data, validated: records for SFT, preference pairs for DPO."""
    if training.method == "dpo":
        from llamahome_gui.core.train.dpo import load_pairs

        return load_pairs(training)
    return load_records(training)


def prepare_run_data(configs: dict[str, Any], tokenizer: Any, records: Any = None) -> Prepared:
    """The run's dataset rendered with the chat template and split, exactly as the trainer
    trains on it (``records``: already read by ``load_run_records``, else read here)."""
    training = configs["training"].training
    if records is None:
        records = load_run_records(training)
    if training.method == "dpo":
        from llamahome_gui.core.train.dpo import prepare_pairs

        return prepare_pairs(training, records, tokenizer, system_prompt(configs))
    return prepare_data(training, records, tokenizer, system_prompt(configs))


def install_stop_hooks(model: Any, stop: StopFlag) -> None:
    """Let a stop request cut into a long micro-batch: every decoder layer checks the flag
    in the forward pass and, through a gradient hook on its output, in the backward pass."""
    import torch

    def check(grad: Any = None) -> Any:
        if stop.requested:
            raise Interrupted
        return grad

    def after_forward(module: Any, args: Any, output: Any) -> None:
        check()
        out = output[0] if isinstance(output, tuple) else output
        if isinstance(out, torch.Tensor) and out.requires_grad:
            out.register_hook(check)

    for module in model.modules():
        if type(module).__name__.endswith("DecoderLayer"):
            module.register_forward_hook(after_forward)


def run_summary(trainer: Any, data: Prepared) -> dict[str, Any]:
    """The ``config`` of the start event: what this segment of the run trains, and how."""
    t, lora = trainer.training, trainer.lora
    return {"model": str(trainer.model_dir), "dataset": str(data.dataset_path),
            "format": data.dataset_format, "records": data.records,
            "train_examples": data.train_samples, "eval_examples": data.eval_samples,
            "rows": len(data.train_rows), "packing": t.packing,
            "truncated": data.truncated, "skipped": data.skipped,
            "batch_size": t.per_device_train_batch_size,
            "gradient_accumulation_steps": t.gradient_accumulation_steps,
            "learning_rate": t.learning_rate, "lr_scheduler": t.lr_scheduler,
            "max_seq_length": t.max_seq_length, "epochs": t.num_train_epochs,
            "max_steps": t.max_steps, "method": t.method, "lora_r": lora.r,
            "lora_alpha": lora.lora_alpha, "use_dora": lora.use_dora,
            "use_rslora": lora.use_rslora,
            "quantization": trainer.cfg["model"].model.quantization,
            "target_modules": list(lora.target_modules), "device": trainer.device,
            "dtype": str(next(trainer.model.parameters()).dtype).replace("torch.", ""),
            "mixed_precision": str(trainer.amp).replace("torch.", "") if trainer.amp else "no",
            "world_size": trainer.dist.world, "threads": trainer.threads, "notes": data.notes}
