"""The ``llamahome`` command. Each subcommand lives in its own module with a
``register(subparsers)`` function that adds its parser and sets ``func``."""

from __future__ import annotations

import argparse
import importlib
import sys

# module name in this package -> subcommand(s) it registers
_SUBCOMMAND_MODULES = (
    "config_cmd",    # llamahome config ...
    "models_cmd",    # llamahome models ...
    "data_cmd",      # llamahome data ...
    "train_cmd",     # llamahome train ...
    "adapters_cmd",  # llamahome adapters ...
    "chat_cmd",      # llamahome chat ...
    "serve_cmd",     # llamahome serve ...
    "monitor_cmd",   # llamahome monitor ...
)


def available_modules() -> list[str]:
    from importlib.util import find_spec

    return [m for m in _SUBCOMMAND_MODULES if find_spec(f"{__name__}.{m}") is not None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llamahome", description="Fine-tune and chat with local language models.")
    from llamahome_gui import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in available_modules():
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
