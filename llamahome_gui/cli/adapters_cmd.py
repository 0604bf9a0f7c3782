"""``llamahome adapters merge``: fold a LoRA adapter into its base model, giving an ordinary
safetensors model folder that any transformers code (or chat without an adapter) can load."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapters", help="work with trained LoRA adapters")
    asub = p.add_subparsers(dest="adapters_command", metavar="ACTION")
    m = asub.add_parser("merge", help="merge an adapter into its base model",
                        description="Write base model + LoRA adapter as one merged model folder.")
    m.add_argument("--model", type=Path, default=None,
                   help="base model folder (default: model.model.path, else the starter model)")
    m.add_argument("--adapter", type=Path, required=True, help="adapter folder (a run's adapter/)")
    m.add_argument("--out", type=Path, required=True, help="folder to write the merged model to")
    m.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"], default="auto",
                   help="dtype of the written weights (auto = the base model's)")
    m.set_defaults(func=merge)
    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def merge(args: argparse.Namespace) -> int:
    adapter = args.adapter.expanduser()
    if not (adapter / "adapter_config.json").is_file():
        hint = f" (try {adapter / 'adapter'})" if (adapter / "adapter" / "adapter_config.json").is_file() else ""
        print(f"error: {adapter} is not a LoRA adapter folder (no adapter_config.json){hint}",
              file=sys.stderr)
        return 1
    out = args.out.expanduser()
    if out.exists() and any(out.iterdir()):
        print(f"error: {out} exists and is not empty; choose a new --out folder", file=sys.stderr)
        return 1
    from llamahome_gui.core.models.loading import ModelNotFoundError, resolve_model_dir

    try:
        base_dir = resolve_model_dir(args.model, progress=print)
    except ModelNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"merging {adapter} into {base_dir}")
    from llamahome_gui.core.models.adapter_fit import AdapterMismatchError

    try:
        merged_dir = merge_adapter(base_dir, adapter, out, args.dtype)
    except AdapterMismatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(merged_dir)
    return 0


def merge_adapter(base_dir: Path, adapter: Path, out: Path, dtype: str = "auto") -> Path:
    """Load base + adapter, merge the LoRA weights, save a plain model with its tokenizer."""
    import torch
    from peft import PeftModel

    from llamahome_gui.core.models.adapter_fit import check_adapter_fits
    from llamahome_gui.core.models.loading import load_model_and_tokenizer

    torch_dtype = None if dtype == "auto" else getattr(torch, dtype)
    model, tokenizer = load_model_and_tokenizer(base_dir, device="cpu", dtype=torch_dtype)
    for note in check_adapter_fits(model, adapter, base_dir):  # AdapterMismatchError: refuse
        print(f"warning: {note}", file=sys.stderr)
    try:
        peft_model = PeftModel.from_pretrained(model, str(adapter))
    except (ValueError, KeyError, RuntimeError) as exc:
        raise ValueError(f"{adapter} does not fit the model {base_dir}: {exc}") from exc
    merged = peft_model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
