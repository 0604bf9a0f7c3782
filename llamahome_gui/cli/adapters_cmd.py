"""``llamahome adapters merge``: fold a LoRA adapter into its base model, giving an ordinary
safetensors model folder. The same export as ``llamahome export ADAPTER --format safetensors``
(one owner: core.export); kept under this name for the scripts that use it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapters", help="work with trained LoRA adapters")
    asub = p.add_subparsers(dest="adapters_command", metavar="ACTION")
    m = asub.add_parser("merge", help="merge an adapter into its base model "
                        "(= llamahome export ADAPTER --format safetensors)",
                        description="Write base model + LoRA adapter as one merged model folder.")
    m.add_argument("--model", type=Path, default=None,
                   help="base model folder (default: the adapter's run's model)")
    m.add_argument("--adapter", type=Path, required=True, help="adapter folder (a run's adapter/)")
    m.add_argument("--out", type=Path, required=True, help="folder to write the merged model to")
    m.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"], default="auto",
                   help="dtype of the written weights (auto = the base model's)")
    m.add_argument("--force", action="store_true", help="replace an existing --out")
    m.set_defaults(func=merge)
    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def merge(args: argparse.Namespace) -> int:
    from llamahome_gui.cli.export_cmd import USER_ERROR, run

    adapter = args.adapter.expanduser()
    if not (adapter / "adapter_config.json").is_file():
        hint = (f" (try {adapter / 'adapter'})"
                if (adapter / "adapter" / "adapter_config.json").is_file() else "")
        print(f"llamahome adapters merge: error: {adapter} is not a LoRA adapter folder "
              f"(no adapter_config.json){hint}", file=sys.stderr)
        return USER_ERROR
    export_args = argparse.Namespace(source=adapter, model=args.model, fmt="safetensors",
                                     quant="f16", out=args.out, name=None, force=args.force,
                                     check=False, config_dir=None, dtype=args.dtype)
    return run(export_args, prog="llamahome adapters merge")
