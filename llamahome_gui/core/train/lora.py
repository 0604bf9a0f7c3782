"""LoRA through peft: check ``training.lora.*`` against the real model, then wrap it."""

from __future__ import annotations

from typing import Any

from llamahome_gui.core.train.errors import TrainingError

ALL_LINEAR = "all-linear"


def linear_layer_names(model: Any) -> list[str]:
    """Short names (``q_proj``, ``down_proj``...) of the model's linear layers, output head
    included; these are the names ``training.lora.target_modules`` may use."""
    import torch

    names: list[str] = []
    for full_name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D":
            leaf = full_name.rsplit(".", 1)[-1]
            if leaf not in names:
                names.append(leaf)
    return names


def check_target_modules(model: Any, targets: list[str]) -> str | list[str]:
    """The value to hand peft: ``"all-linear"`` or the list, after every name was found."""
    if any(t.strip().lower() == ALL_LINEAR for t in targets):
        if len(targets) > 1:
            raise TrainingError(
                f"training.lora.target_modules = {targets}: \"all-linear\" cannot be combined "
                "with other names", hint="use [\"all-linear\"] alone, or list layer names")
        return ALL_LINEAR
    linear = set()
    for full_name, module in model.named_modules():
        if full_name and module.__class__.__name__ in ("Linear", "Conv1D"):
            linear.add(full_name)
    unknown = [t for t in targets
               if not any(n == t or n.endswith("." + t) for n in linear)]
    if unknown:
        known = ", ".join(linear_layer_names(model))
        raise TrainingError(
            f"training.lora.target_modules: {', '.join(repr(u) for u in unknown)} "
            f"{'is not a linear layer' if len(unknown) == 1 else 'are not linear layers'} "
            f"of this model",
            hint=f"this model's linear layers are: {known} (or use \"all-linear\")")
    return list(targets)


def apply_lora(model: Any, lora: Any) -> Any:
    """Wrap ``model`` in a peft LoRA model built from a ``LoraSection``."""
    from peft import LoraConfig, get_peft_model

    targets = check_target_modules(model, list(lora.target_modules))
    config = LoraConfig(
        r=lora.r, lora_alpha=lora.lora_alpha, lora_dropout=lora.lora_dropout,
        target_modules=targets, bias=lora.bias, task_type="CAUSAL_LM",
        use_dora=bool(lora.use_dora), use_rslora=bool(lora.use_rslora))
    return get_peft_model(model, config)


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for p in model.parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return trainable, total
