"""The app's own caches and their sizes: converted models (the models folder) and training
runs. "Clear" deletes what can be made again or was asked for, and never what a running
trainer uses; the Hugging Face cache is not the app's and is never cleared here."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from llamahome_gui import paths
from llamahome_gui.core.models.info import folder_size


@dataclass
class CacheInfo:
    key: str
    label: str
    folder: Path
    size: int
    items: int
    note: str


def _gguf_dir() -> Path:
    from llamahome_gui.core.chat.gguf_files import cache_dir

    return cache_dir()


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()) if folder.is_dir() else []


def cache_sizes(models_dir: Path | None = None, runs_root: Path | None = None) -> list[CacheInfo]:
    """Size and item count of each cache the app can clear."""
    models_dir = Path(models_dir or paths.models_dir())
    runs_root = Path(runs_root or paths.runs_dir())
    models = [p for p in _entries(models_dir) if p.is_dir() and (p / "config.json").is_file()
              and not p.is_symlink()]
    runs = [p for p in _entries(runs_root) if p.is_dir()]
    gguf_dir = _gguf_dir()
    gguf = [p for p in _entries(gguf_dir) if p.is_file() and p.suffix == ".gguf"]
    return [
        CacheInfo("models", "Converted models", models_dir, sum(folder_size(p) for p in models),
                  len(models), "imported GGUFs and the starter; import again to get them back"),
        CacheInfo("runs", "Training runs", runs_root, sum(folder_size(p) for p in runs),
                  len(runs), "every run folder with its adapter and checkpoints"),
        CacheInfo("chat-gguf", "llama.cpp chat copies", gguf_dir,
                  sum(p.stat().st_size for p in gguf), len(gguf),
                  "GGUF copies the llama.cpp chat engine made; made again on the next chat"),
    ]


def clear_cache(key: str, models_dir: Path | None = None, runs_root: Path | None = None
                ) -> tuple[int, list[str]]:
    """Delete one cache's contents; returns (bytes freed, names kept because they are in use)."""
    from llamahome_gui.core.models.registry import ModelRegistryError, remove_model
    from llamahome_gui.core.runs import run_info

    models_dir = Path(models_dir or paths.models_dir())
    runs_root = Path(runs_root or paths.runs_dir())
    freed, kept = 0, []
    if key == "models":
        for entry in _entries(models_dir):
            if entry.is_dir() and not entry.name.startswith(".") and \
                    (entry / "config.json").is_file():
                try:
                    freed += remove_model(entry, models_dir, runs_roots=[runs_root])
                except ModelRegistryError:
                    kept.append(entry.name)
    elif key == "runs":
        for entry in _entries(runs_root):
            if not entry.is_dir():
                continue
            if run_info(entry).status == "running":
                kept.append(entry.name)
                continue
            freed += folder_size(entry)
            shutil.rmtree(entry, ignore_errors=True)
    elif key == "chat-gguf":
        for entry in _entries(_gguf_dir()):
            if entry.is_file() and entry.suffix == ".gguf":
                size = entry.stat().st_size
                entry.unlink(missing_ok=True)  # a running chat keeps its open copy until it ends
                freed += size
    else:
        raise ValueError(f"unknown cache {key!r}; known: models, runs, chat-gguf")
    return freed, kept
