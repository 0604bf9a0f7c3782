"""One export, start to finish, for the CLI and the window alike: check the input, merge the
adapter, write the format, check parity, report. Every output is built under a hidden
temporary name next to the destination and renamed into place at the end, so an error, a full
disk or Cancel leaves no partial file."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llamahome_gui.core.export.errors import ExportCancelled, ExportError
from llamahome_gui.core.export.gguf_writer import QUANTS, check_exportable, expected_size
from llamahome_gui.core.export.parity import ParityResult
from llamahome_gui.core.export.sources import (
    ExportSource,
    check_adapter_fits,
    check_destination,
    check_free_space,
)

FORMATS = ("gguf", "ollama", "safetensors", "peft")


@dataclass(frozen=True)
class ExportProgress:
    """``stage``: merge, write, check or done; ``done``/``total`` count tensors while writing."""

    stage: str
    message: str
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class ExportRequest:
    fmt: str = "gguf"
    quant: str = "q8_0"
    out: Path | None = None
    name: str | None = None
    force: bool = False
    check: bool = True
    dtype: str = "auto"          # weights of a merged folder (auto = the base model's)
    system_prompt: str = ""      # inference.chat.system_prompt (Modelfile SYSTEM, parity prompts)
    temperature: float = 0.7     # inference.generation (Modelfile PARAMETERs)
    top_p: float = 0.9


@dataclass
class ExportResult:
    out: Path
    size: int
    seconds: float
    parity: ParityResult | None = None
    ollama_command: str = ""
    notes: list[str] = field(default_factory=list)


def default_out(source: ExportSource, request: ExportRequest, cwd: Path | None = None) -> Path:
    name = request.name or source.name
    base = cwd or Path.cwd()
    return base / {"gguf": f"{name}.{request.quant}.gguf", "ollama": f"{name}-ollama",
                   "safetensors": f"{name}-merged", "peft": f"{name}-adapter"}[request.fmt]


def folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _needed_bytes(source: ExportSource, request: ExportRequest) -> int:
    base = folder_size(source.model_dir)
    if request.fmt == "peft":
        return folder_size(source.adapter_dir) if source.adapter_dir else 0
    if request.fmt == "safetensors":
        return base
    gguf = expected_size(source.model_dir, request.quant)
    return gguf + (base if source.adapter_dir else 0)  # + the merged model kept meanwhile


def validate(source: ExportSource, request: ExportRequest, out: Path) -> None:
    """Every check that can fail before work starts (ExportError, one line each)."""
    if request.fmt not in FORMATS:
        raise ExportError(f"format {request.fmt!r} is not one of {', '.join(FORMATS)}")
    if request.fmt in ("gguf", "ollama") and request.quant not in QUANTS:
        raise ExportError(f"--quant {request.quant!r} is not one of {', '.join(QUANTS)}")
    if request.fmt == "peft" and source.adapter_dir is None:
        raise ExportError(f"--format peft needs an adapter, and {source.model_dir} is a model; "
                          "give a run or adapter folder")
    if request.fmt in ("gguf", "ollama"):
        try:
            check_exportable(source.model_dir)
        except ExportError as exc:
            raise ExportError(f"{source.model_dir} cannot be written as GGUF: {exc}") from None
    if source.adapter_dir is not None:
        check_adapter_fits(source.model_dir, source.adapter_dir)
    check_destination(out, request.force)
    check_free_space(out, _needed_bytes(source, request))


def _install(tmp: Path, out: Path) -> None:
    """Put the finished ``tmp`` at ``out``, replacing what is there (the user said --force)."""
    if out.is_dir() and not out.is_symlink():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def run_export(source: ExportSource, request: ExportRequest, *,
               progress: Callable[[ExportProgress], None] | None = None,
               cancel: Callable[[], bool] | None = None) -> ExportResult:
    """Export ``source`` as ``request`` says; raises ExportError (bad input, nothing written)
    or ExportCancelled (nothing written)."""
    report = progress or (lambda _p: None)
    out = Path(request.out or default_out(source, request)).expanduser().absolute()
    validate(source, request, out)
    name = request.name or source.name
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))

    def stop_point() -> None:
        if cancel is not None and cancel():
            raise ExportCancelled("export cancelled")

    try:
        result, parity = _export_into(work, source, request, name, report, stop_point, cancel)
        _install(result, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(work, ignore_errors=True)
    final = ExportResult(out, folder_size(out), time.perf_counter() - started, parity)
    if request.fmt == "ollama":
        from llamahome_gui.core.export.ollama import create_command

        final.ollama_command = create_command(name, out)
    report(ExportProgress("done", f"wrote {out}"))
    return final


def _export_into(work: Path, source: ExportSource, request: ExportRequest, name: str,
                 report: Callable[[ExportProgress], None], stop_point: Callable[[], None],
                 cancel: Callable[[], bool] | None) -> tuple[Path, ParityResult | None]:
    """Build the result inside ``work``; return the path to move into place and the parity."""
    from llamahome_gui.core.export.merge import merge_adapter

    parity = None
    if request.fmt == "peft":
        target = work / "adapter"
        shutil.copytree(source.adapter_dir, target)
        from llamahome_gui.core.export.model_card import model_card

        (target / "README.md").write_text(model_card(source, name), encoding="utf-8")
        return target, None
    model_dir = source.model_dir
    if source.adapter_dir is not None or request.fmt == "safetensors":
        report(ExportProgress("merge", f"merging {source.label}"))
        model_dir = merge_adapter(source.model_dir, source.adapter_dir, work / "merged",
                                  request.dtype)
        stop_point()
    if request.fmt == "safetensors":
        return model_dir, None
    from llamahome_gui.core.export.gguf_writer import write_gguf

    folder = work / "ollama" if request.fmt == "ollama" else work
    gguf_path = folder / f"{name}.{request.quant}.gguf"

    def tensors(done: int, total: int, tensor: str) -> None:
        report(ExportProgress("write", tensor, done, total))

    write_gguf(model_dir, gguf_path, request.quant, name=name, progress=tensors, cancel=cancel)
    if request.check:
        from llamahome_gui.core.export.parity import check_parity

        stop_point()
        parity = check_parity(
            model_dir, gguf_path, request.quant, system_prompt=request.system_prompt,
            progress=lambda msg: report(ExportProgress("check", msg)))
        stop_point()
    if request.fmt == "gguf":
        return gguf_path, parity
    from llamahome_gui.core.export.ollama import modelfile
    from llamahome_gui.core.models.loading import load_tokenizer

    text = modelfile(load_tokenizer(model_dir), gguf_path.name, system_prompt=request.system_prompt,
                     temperature=request.temperature, top_p=request.top_p)
    (folder / "Modelfile").write_text(text, encoding="utf-8")
    return folder, parity
