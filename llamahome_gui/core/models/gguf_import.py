"""Import a llama-family GGUF: de-quantize it once with transformers and save an ordinary
safetensors model folder (weights, config, tokenizer, chat template) in the models folder,
so training and chat load it in a second instead of de-quantizing every time.

The folder is written under a hidden temporary name and renamed at the very end: a failed or
cancelled import leaves nothing behind. ``llamahome_import.json`` in the result records the
source file and its sha256 (duplicate imports are refused by that hash).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llamahome_gui import paths
from llamahome_gui.core.models.gguf_header import GGUFError, check_importable, read_gguf_header

IMPORT_MARKER = "llamahome_import.json"
_TMP_TAG = ".importing-"
# De-quantized weights are saved in float32 below this size (exact, and CPU training wants
# it), in bfloat16 above (a 7B model would otherwise need 28 GB).
FLOAT32_LIMIT = 1_500_000_000

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: ``total`` 0 means the amount is unknown."""
Cancel = Callable[[], bool]

_PATCH_LOCK = threading.Lock()


class ModelImportError(ValueError):
    """The import cannot go ahead; the message says why and how to fix it."""


class ImportCancelled(Exception):
    """The user cancelled; nothing was written."""


def slug(text: str) -> str:
    """A folder-name-safe model name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:80] or "model"


def default_name(gguf_path: Path) -> str:
    return slug(Path(gguf_path).stem)


def sha256_file(path: Path, progress: Progress | None = None, cancel: Cancel | None = None,
                chunk: int = 4 << 20) -> str:
    """Hex sha256 of a file, reporting bytes read; every chunk is a cancel point."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
            done += len(block)
            if cancel and cancel():
                raise ImportCancelled
            if progress:
                progress(f"Checking {path.name} (sha256)", done, size)
    return digest.hexdigest()


def read_marker(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / IMPORT_MARKER).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def find_import(models_dir: Path, digest: str) -> Path | None:
    """The model folder already imported from a GGUF with this sha256, if any."""
    if not models_dir.is_dir():
        return None
    for folder in sorted(models_dir.iterdir()):
        if folder.is_dir() and not folder.name.startswith(".") and \
                read_marker(folder).get("sha256") == digest:
            return folder
    return None


def sweep_temporary(models_dir: Path) -> None:
    """Remove temporary folders of imports whose process is gone (killed mid-import)."""
    from llamahome_gui.core.runs import is_alive

    if not models_dir.is_dir():
        return
    for folder in models_dir.glob(f".*{_TMP_TAG}*"):
        try:
            pid = int(folder.name.rsplit(_TMP_TAG, 1)[1].split("-")[0])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not is_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _tensor_progress(progress: Progress | None, cancel: Cancel | None) -> Iterator[None]:
    """Report transformers' GGUF de-quantization tensor by tensor, and stop it on cancel.

    transformers walks the tensors through a module-level ``tqdm``; swapping that name for a
    counting generator makes each tensor a progress report and a cancel point.
    """
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    def counting(iterable: Any, *_args: Any, **_kwargs: Any) -> Iterator[Any]:
        items = list(iterable)
        for index, item in enumerate(items):
            if cancel and cancel():
                raise ImportCancelled
            if progress:
                progress("De-quantizing the weights", index, len(items))
            yield item
        if progress:
            progress("De-quantizing the weights", len(items), len(items))

    with _PATCH_LOCK:
        original = getattr(gguf_utils, "tqdm", None)
        gguf_utils.tqdm = counting
        try:
            yield
        finally:
            gguf_utils.tqdm = original


def import_gguf(gguf_path: str | Path, models_dir: Path | None = None, *, name: str | None = None,
                expected_sha256: str | None = None, progress: Progress | None = None,
                cancel: Cancel | None = None, extra_files: dict[str, str] | None = None) -> Path:
    """Convert ``gguf_path`` into ``<models_dir>/<name>`` and return that folder.

    Raises :class:`GGUFError` (not a complete GGUF, unsupported architecture),
    :class:`ModelImportError` (duplicate, name taken, damaged, conversion failed) or
    :class:`ImportCancelled`.
    """
    source = Path(gguf_path).expanduser().resolve()
    if not source.is_file():
        raise ModelImportError(f"{gguf_path} does not exist or is not a file")
    models_dir = Path(models_dir or paths.models_dir()).expanduser()
    header = read_gguf_header(source)
    check_importable(header)
    target = models_dir / slug(name or default_name(source))
    stop = cancel or (lambda: False)
    digest = sha256_file(source, progress, stop)
    if expected_sha256 and digest != expected_sha256:
        raise ModelImportError(f"{source} has sha256 {digest}, expected {expected_sha256}: the "
                               "file is damaged; copy or download it again")
    previous = find_import(models_dir, digest)
    if previous is not None:
        raise ModelImportError(f"{source.name} is already imported as {previous}; use that "
                               "folder (or remove it first to import again)")
    if target.exists():
        raise ModelImportError(f"a model named {target.name!r} already exists in {models_dir}; "
                               "choose another name (--name)")
    models_dir.mkdir(parents=True, exist_ok=True)
    sweep_temporary(models_dir)
    tmp = models_dir / f".{target.name}{_TMP_TAG}{os.getpid()}-{threading.get_ident()}"
    try:
        _convert(source, header, tmp, target.name, progress, stop)
        marker = {"source": str(source), "file": source.name, "sha256": digest,
                  "size": source.stat().st_size, "architecture": header.architecture,
                  "quantization": header.quantization, "imported": time.time()}
        (tmp / IMPORT_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        for file_name, text in (extra_files or {}).items():
            (tmp / file_name).write_text(text, encoding="utf-8")
        if stop():
            raise ImportCancelled
        if target.exists():
            raise ModelImportError(f"{target} appeared during the import; choose another name")
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        progress(f"Model ready: {target}", 1, 1)
    return target


def _convert(source: Path, header: Any, tmp: Path, model_name: str,
             progress: Progress | None, cancel: Cancel) -> None:
    say = progress or (lambda *_a: None)
    say("Reading the tokenizer", 0, 0)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    kwargs: dict[str, Any] = {"gguf_file": source.name}
    if header.parameters > FLOAT32_LIMIT:
        import torch

        kwargs["dtype"] = torch.bfloat16
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        if cancel():
            raise ImportCancelled
        with _tensor_progress(progress, cancel):
            model = AutoModelForCausalLM.from_pretrained(source.parent, **kwargs)
    except (ImportCancelled, GGUFError):
        raise
    except Exception as exc:  # transformers raises many kinds for files it cannot convert
        raise ModelImportError(f"{source.name}: transformers could not convert it "
                               f"({type(exc).__name__}: {exc})") from exc
    # The weights are de-quantized in memory; drop the GGUF marker so they save as plain tensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = model_name
    if cancel():
        raise ImportCancelled
    say("Saving the safetensors model folder", 0, 0)
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
