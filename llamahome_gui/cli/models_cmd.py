"""``llamahome models import-starter|list|info``: the models folder from the terminal."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="import the starter model, list and inspect models",
                       description="Manage the models folder (default: the user data folder).")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    p.set_defaults(func=lambda _args: (p.print_help(), 1)[1])

    imp = msub.add_parser("import-starter", help="convert the bundled starter model (once)",
                          description="Convert the bundled SmolLM2-135M-Instruct GGUF into a "
                          "safetensors model folder. Safe to run again. The last line printed "
                          "is the model folder.")
    _models_dir(imp)
    imp.set_defaults(func=run_import)

    ls = msub.add_parser("list", help="list the model folders",
                         description="List the model folders in the models folder.")
    _models_dir(ls)
    ls.set_defaults(func=run_list)

    info = msub.add_parser("info", help="show a model's architecture and size",
                           description="Architecture, parameters, layers, dtype, size on disk, "
                           "max context and chat template of a model folder (no weights loaded).")
    info.add_argument("folder", metavar="DIR", help="model folder, or a name in the models folder")
    _models_dir(info)
    info.set_defaults(func=run_info)


def _models_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", default=None, metavar="DIR",
                   help="models folder (default: 'models' in the user data folder)")


def _resolve_models_dir(args: argparse.Namespace) -> Path:
    from llamahome_gui import paths

    return Path(args.models_dir).expanduser() if args.models_dir else paths.models_dir()


class _Ticker:
    """Elapsed seconds on a terminal while a long step runs silently."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._label = ""

    def say(self, message: str) -> None:
        self._clear()
        print(message, file=sys.stderr, flush=True)
        self._label = message.rstrip("…. ")

    def __enter__(self) -> _Ticker:
        if sys.stderr.isatty():
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
            self._clear()

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.wait(0.5):
            sys.stderr.write(f"\r  … {time.monotonic() - start:4.0f} s")
            sys.stderr.flush()

    def _clear(self) -> None:
        if self._thread:
            sys.stderr.write("\r\033[K")


def run_import(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.starter import StarterModelError, import_starter

    try:
        with _Ticker() as ticker:
            folder = import_starter(_resolve_models_dir(args), progress=ticker.say)
    except StarterModelError as exc:
        print(f"llamahome models import-starter: {exc}", file=sys.stderr)
        return 1
    print(folder)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.info import list_models

    models_dir = _resolve_models_dir(args)
    entries = list_models(models_dir)
    print(f"Models in {models_dir}:")
    for entry in entries:
        print("  " + entry.line())
    if not entries:
        print("  (none)")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.info import ModelInfoError, model_info

    folder = Path(args.folder).expanduser()
    if not folder.exists() and not folder.is_absolute():
        candidate = _resolve_models_dir(args) / args.folder
        folder = candidate if candidate.exists() else folder
    try:
        print(model_info(folder).table())
    except ModelInfoError as exc:
        print(f"llamahome models info: {exc}", file=sys.stderr)
        return 1
    return 0
