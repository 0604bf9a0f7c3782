"""QLoRA: the frozen base weights in 4 bit (nf4, double quantization) or 8 bit through
bitsandbytes, LoRA on top in full precision.

``quantization_problem`` is the pre-launch check: it answers from the installed package and
the device alone, before any data or weights load. What bitsandbytes 0.50 does here (a
CPU-only torch, measured on this project's 2-core machine with the 135M starter model, 2x64
tokens per step): 4 bit loads and trains through its CPU fallback, a few seconds per step
(loss falls as in fp32); 8 bit loads and trains too but takes 100-150 s per step, so it is
refused on the CPU; Apple's MPS has no backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llamahome_gui.core.train.errors import TrainingError

INSTALL_HINT = "install it with: pip install 'llamahome-gui[gpu]' (or pip install bitsandbytes)"


def _bnb_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("bitsandbytes")
    except metadata.PackageNotFoundError:
        return None


def _at_least(version: str, wanted: tuple[int, ...]) -> bool:
    parts = []
    for piece in version.split(".")[:len(wanted)]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts) >= wanted


def quantization_problem(quantization: str, device: str) -> str | None:
    """Why ``model.model.quantization`` cannot train on ``device``, in one line; None if it
    can. Imports nothing heavy."""
    if quantization in ("", "none"):
        return None
    key = f"model.model.quantization = {quantization}"
    version = _bnb_version()
    if version is None:
        return f"{key} needs the bitsandbytes package, which is not installed; {INSTALL_HINT}"
    if device.startswith("mps"):
        return f"{key}: bitsandbytes has no Apple MPS backend; set it to \"none\""
    if device == "cpu":
        if not _at_least(version, (0, 46)):
            return (f"{key}: bitsandbytes {version} has no CPU backend (0.46 or newer has one); "
                    "upgrade it, use a GPU, or set it to \"none\"")
        if quantization == "8bit":
            return (f"{key}: 8-bit layers run on the CPU at minutes per step in bitsandbytes "
                    f"{version}; use 4bit, a GPU, or \"none\"")
    return None


def check_quantization(quantization: str, device: str) -> None:
    """Raise ``TrainingError`` with the pre-launch check's line."""
    problem = quantization_problem(quantization, device)
    if problem:
        raise TrainingError(problem, hint="QLoRA saves memory on a CUDA GPU; on the CPU the "
                            "full-precision LoRA run is faster")


def load_quantized(folder: Path, model_section: Any, device: str, compute_dtype: Any,
                   gradient_checkpointing: bool) -> tuple[Any, Any]:
    """(model ready for k-bit training, tokenizer)."""
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from llamahome_gui.core.models.loading import load_tokenizer

    check_quantization(model_section.quantization, device)
    if model_section.quantization == "4bit":
        config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                    bnb_4bit_use_double_quant=True,
                                    bnb_4bit_compute_dtype=compute_dtype)
    else:
        config = BitsAndBytesConfig(load_in_8bit=True)
    tokenizer = load_tokenizer(folder, trust_remote_code=model_section.trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    target = torch.device(device)
    where = {"": target.index or 0} if target.type == "cuda" else {"": device}
    model = AutoModelForCausalLM.from_pretrained(
        folder, quantization_config=config, dtype=compute_dtype, device_map=where,
        use_safetensors=True, trust_remote_code=model_section.trust_remote_code)
    model = prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False})
    return model, tokenizer
