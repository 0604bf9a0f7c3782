"""GGUF copies for the llama.cpp decoder, made once and kept in the user cache folder.

A model folder becomes ``<name>-<type>-<key>.gguf`` (written by the export's GGUF writer), an
adapter ``<name>-lora-<key>.gguf`` (``core.export.gguf_lora``). The key hashes the folder's
path with the size and modification time of every file the copy is made from, so a model or
adapter changed in place (retrained, re-imported) is converted again, and the stale copy of
the same folder is deleted then. Files are written beside their final name and renamed, so a
second process converting the same folder at the same time cannot leave half a file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from llamahome_gui import paths

Progress = Callable[[str], None]
_WRITER_VERSION = "1"  # bump when the GGUF writers change what they write


def cache_dir() -> Path:
    return paths.user_cache_dir() / "chat-gguf"


def _stamp(folder: Path, names: list[str]) -> str:
    parts = [str(folder.resolve()), _WRITER_VERSION]
    for name in sorted(names):
        path = folder / name
        if path.is_file():
            st = path.stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _source_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.is_file() and (
        p.suffix in (".safetensors", ".json", ".jinja", ".model", ".txt"))]


def _cached(prefix: str, key: str, make: Callable[[Path], Path]) -> Path:
    """``<prefix>-<key>.gguf`` in the cache, made by ``make(target)`` when missing; older
    copies of the same folder (same prefix, other key) are removed once the new one exists."""
    folder = cache_dir()
    target = folder / f"{prefix}-{key}.gguf"
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        make(target)
        for stale in folder.glob(f"{prefix}-*.gguf"):
            if stale != target and len(stale.name) == len(target.name):
                stale.unlink(missing_ok=True)
    return target


def model_gguf(model_dir: Path, gguf_type: str, progress: Progress | None = None) -> Path:
    """The model as a GGUF file of ``gguf_type`` (f16, f32, q8_0), converted on first use."""
    from llamahome_gui.core.export.gguf_writer import write_gguf

    model_dir = Path(model_dir)
    say = progress or (lambda _m: None)
    folder_key = hashlib.sha256(str(model_dir.resolve()).encode()).hexdigest()[:6]
    prefix = f"{model_dir.name}-{folder_key}-{gguf_type}"

    def make(target: Path) -> Path:
        say(f"Converting {model_dir.name} for llama.cpp ({gguf_type}, once)…")
        last = [-1]

        def tick(done: int, total: int, _name: str) -> None:
            percent = done * 100 // max(1, total)
            if percent // 10 != last[0] // 10:
                last[0] = percent
                say(f"Converting {model_dir.name} for llama.cpp… {percent}%")

        return write_gguf(model_dir, target, gguf_type, progress=tick)

    return _cached(prefix, _stamp(model_dir, _source_files(model_dir)), make)


def adapter_gguf(adapter_dir: Path, model_dir: Path) -> Path:
    """The adapter as a GGUF LoRA file for the model in ``model_dir`` (UnsupportedModelError
    when llama.cpp cannot apply it)."""
    from llamahome_gui.core.export.gguf_lora import check_lora_expressible, write_lora_gguf

    adapter_dir = Path(adapter_dir)
    check_lora_expressible(adapter_dir)
    label = adapter_dir.parent.name if adapter_dir.name == "adapter" else adapter_dir.name
    folder_key = hashlib.sha256(f"{adapter_dir.resolve()}|{Path(model_dir).resolve()}"
                                .encode()).hexdigest()[:6]
    key = _stamp(adapter_dir, ["adapter_config.json", "adapter_model.safetensors"])
    return _cached(f"{label}-{folder_key}-lora", key,
                   lambda target: write_lora_gguf(adapter_dir, model_dir, target))
