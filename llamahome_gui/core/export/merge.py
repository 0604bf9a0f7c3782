"""Fold a LoRA adapter into its base model: an ordinary safetensors model folder that any
transformers code, the GGUF writer, or chat without an adapter can load."""

from __future__ import annotations

from pathlib import Path

from llamahome_gui.core.export.errors import ExportError


def merge_adapter(base_dir: Path, adapter: Path | None, out: Path, dtype: str = "auto", *,
                  trust_remote_code: bool = False) -> Path:
    """Load base (+ adapter), merge the LoRA weights, save model and tokenizer to ``out``.
    Without an adapter this re-saves the base model (safetensors, its own dtype)."""
    import torch

    from llamahome_gui.core.models.loading import load_model_and_tokenizer

    torch_dtype = None if dtype == "auto" else getattr(torch, dtype)
    model, tokenizer = load_model_and_tokenizer(base_dir, device="cpu", dtype=torch_dtype,
                                                trust_remote_code=trust_remote_code)
    if adapter is not None:
        from peft import PeftModel

        try:
            peft_model = PeftModel.from_pretrained(model, str(adapter))
        except (ValueError, KeyError, RuntimeError) as exc:
            raise ExportError(f"{adapter} does not fit the model {base_dir}: {exc}") from exc
        model = peft_model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
