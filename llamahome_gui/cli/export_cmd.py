"""``llamahome export``: take a trained adapter (or a model) out as GGUF for llama.cpp / Ollama /
LM Studio, an Ollama folder, a merged safetensors folder, or the PEFT adapter with a card.

Progress goes to stderr (a bar on a terminal); the last stdout line is the written path.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

USER_ERROR = 2


def register(sub: argparse._SubParsersAction) -> None:
    from llamahome_gui.core.export.gguf_writer import QUANTS
    from llamahome_gui.core.export.pipeline import FORMATS

    p = sub.add_parser(
        "export", help="export a run, adapter or model (GGUF, Ollama, safetensors, PEFT)",
        description="Export a run's adapter (merged into its base model), an adapter folder, or a "
        "model folder. gguf: one file for llama.cpp / LM Studio, checked against the model "
        "(parity); ollama: a folder with the GGUF and a Modelfile; safetensors: the merged "
        "Hugging Face folder; peft: the adapter with a model card.")
    p.add_argument("source", nargs="?", type=Path, default=None, metavar="SOURCE",
                   help="run folder, adapter folder or model folder (omit to export --model)")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="gguf",
                   help="what to write (default: gguf)")
    p.add_argument("--quant", choices=QUANTS, default="q8_0",
                   help="GGUF weight type (default: q8_0); norms and biases stay f32")
    p.add_argument("--out", type=Path, default=None, metavar="PATH",
                   help="file or folder to write (default: <name>.<quant>.gguf, <name>-ollama, "
                   "<name>-merged or <name>-adapter in the current folder)")
    p.add_argument("--name", default=None, help="model name (file names, Ollama model name)")
    p.add_argument("--model", type=Path, default=None, metavar="DIR",
                   help="base model folder (default: the run's model; for an adapter folder, "
                   "its run's model)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="skip the parity check of GGUF exports")
    p.add_argument("--config-dir", default=None, metavar="DIR",
                   help="config folder (default: ./config or the user's config folder)")
    p.set_defaults(func=run)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _inference(args: argparse.Namespace, run_dir: Path | None) -> Any:
    """The run's inference settings (what it was trained with), else the user's config."""
    if run_dir is not None:
        try:
            from llamahome_gui.core.runs import read_run_config

            return read_run_config(run_dir)["inference"]
        except (FileNotFoundError, ValueError):
            pass
    from llamahome_gui.config.manager import ConfigManager

    return ConfigManager(args.config_dir).load("inference")


class ExportBar:
    """Prints export progress: a bar over tensors written on a terminal, lines otherwise."""

    def __init__(self, out: TextIO, width: int = 28) -> None:
        self.out, self.width = out, width
        self.tty = out.isatty()
        self._last_stage = ""

    def __call__(self, p: Any) -> None:
        if p.stage != "write":
            self._end_bar()
            self.out.write(p.message + "\n")
        elif self.tty:
            filled = int(self.width * p.done / max(p.total, 1))
            self.out.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] "
                           f"{p.done}/{p.total} tensors\033[K")
        elif p.done == p.total or p.done == 1:
            self.out.write(f"writing tensors: {p.done}/{p.total}\n")
        self._last_stage = p.stage
        self.out.flush()

    def _end_bar(self) -> None:
        if self._last_stage == "write" and self.tty:
            self.out.write("\n")


def _quiet_libraries() -> None:
    """Our own progress lines only: no library progress bars or load reports in between."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def run(args: argparse.Namespace, *, prog: str = "llamahome export") -> int:
    from llamahome_gui.core.export.errors import ExportError
    from llamahome_gui.core.export.pipeline import ExportRequest, run_export
    from llamahome_gui.core.export.sources import human_size, resolve_source

    _quiet_libraries()
    try:
        source = resolve_source(args.source, args.model)
        inference = _inference(args, source.run_dir)
        request = ExportRequest(
            fmt=args.fmt, quant=args.quant, out=args.out, name=args.name, force=args.force,
            check=args.check, dtype=getattr(args, "dtype", "auto"), system_prompt=inference.chat.system_prompt,
            temperature=inference.generation.temperature, top_p=inference.generation.top_p)
        _err(f"exporting {source.label} as {args.fmt}"
             + (f" ({args.quant})" if args.fmt in ("gguf", "ollama") else ""))
        result = run_export(source, request, progress=ExportBar(sys.stderr))
    except ExportError as exc:
        _err(f"{prog}: error: {exc}")
        return USER_ERROR
    except OSError as exc:  # a full disk, a read-only folder: nothing was left behind
        _err(f"{prog}: error: could not write {args.out or 'the export'}: {exc.strerror or exc}; "
             "nothing was written")
        return USER_ERROR
    if result.parity is not None:
        _err(result.parity.summary())
    _err(f"done: {human_size(result.size)} in {result.seconds:.1f} s")
    if result.ollama_command:
        _err(f"to add it to Ollama: {result.ollama_command}")
    print(result.out)
    return 0
