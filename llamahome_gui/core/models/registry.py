"""Every model the app can use, from four places, in one list (the Models page and
``llamahome models`` both read it):

- ``app``: the app's models folder (imported GGUFs, the starter), the only place anything
  is ever deleted from;
- ``hf-cache``: the Hugging Face cache (``models--org--name/snapshots/<rev>``), read-only;
- ``folder``: model folders the user added (remembered, never deleted: only forgotten);
- ``gguf``: GGUF files the user added, alone or as a folder of them (LM Studio's, Jan's).

What the user added, hid and last used lives in ``models.json`` in the user data folder.
Facts come from config.json / safetensors headers / GGUF headers only, never weights.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llamahome_gui import paths
from llamahome_gui.core.models.gguf_header import GGUFError, read_gguf_header
from llamahome_gui.core.models.gguf_import import IMPORT_MARKER, read_marker
from llamahome_gui.core.models.hf_cache import cache_snapshots
from llamahome_gui.core.models.info import (
    ModelInfoError,
    folder_size,
    human_count,
    model_info,
)
from llamahome_gui.core.models.usage import (
    load_state,
    mark_used,
    models_in_use,
    path_key,
    runs_last_used,
    update_state,
)
from llamahome_gui.core.units import fmt_bytes

SOURCES = {"app": "models folder", "hf-cache": "Hugging Face cache", "folder": "added folder",
           "gguf": "GGUF file"}
COLUMNS = ("Name", "Architecture", "Parameters", "Context", "Dtype", "Size", "Chat template",
           "Source", "Last used")
GGUF_SEARCH_DEPTH = 3


class ModelRegistryError(ValueError):
    """A registry action cannot be done; the message says why and how to fix it."""


@dataclass
class ModelRecord:
    """One row of the models list."""

    name: str
    path: Path
    source: str
    architecture: str = ""
    parameters: int = 0
    context_length: int = 0
    dtype: str = ""
    size_on_disk: int = 0
    chat_template: bool = False
    last_used: float | None = None
    error: str = ""
    is_starter: bool = False
    pending: bool = False
    """The bundled starter before its import: listed from its GGUF header, prepared on first
    use (``model.model.path`` empty)."""
    revision: str = ""
    imported_from: str = ""
    imported_as: Path | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def is_gguf(self) -> bool:
        return self.source == "gguf"

    @property
    def usable(self) -> bool:
        """Train and Chat can load it as it is (a GGUF needs importing first)."""
        return not self.error and not self.is_gguf

    @property
    def config_path(self) -> str:
        """The value ``model.model.path`` takes to use it (empty = the bundled starter)."""
        return "" if self.pending else str(self.path)

    @property
    def removable(self) -> bool:
        """Only the app's own models folder is ever deleted from."""
        return self.source == "app" and not self.pending

    def cells(self) -> list[str]:
        """The values of :data:`COLUMNS` as text."""
        if self.error:
            return [self.name, "", "", "", "", fmt_bytes(self.size_on_disk) if
                    self.size_on_disk else "", "", self.source_label(), self.last_used_text()]
        return [self.name, self.architecture, human_count(self.parameters),
                f"{self.context_length:,}" if self.context_length else "?", self.dtype,
                fmt_bytes(self.size_on_disk), "yes" if self.chat_template else "no",
                self.source_label(), self.last_used_text()]

    def source_label(self) -> str:
        label = SOURCES.get(self.source, self.source)
        if self.pending:
            return "bundled starter (prepared on first use)"
        if self.is_starter:
            return "bundled starter"
        if self.source == "app" and self.imported_from:
            return f"imported from {self.imported_from}"
        if self.is_gguf and self.imported_as is not None:
            return f"GGUF file (imported as {self.imported_as.name})"
        return label

    def source_short(self) -> str:
        """The source in a few words, for a narrow table column."""
        if self.is_starter:
            return "starter" + (" (not prepared)" if self.pending else "")
        if self.source == "app":
            return "imported GGUF" if self.imported_from else "models folder"
        if self.is_gguf:
            return "GGUF file" + (" (imported)" if self.imported_as is not None else "")
        return {"hf-cache": "HF cache"}.get(self.source, SOURCES.get(self.source, self.source))

    def last_used_text(self) -> str:
        if not self.last_used:
            return "never"
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.last_used))


def gguf_files(folder: Path, depth: int = GGUF_SEARCH_DEPTH) -> list[Path]:
    """GGUF files in ``folder`` and its sub-folders down to ``depth`` levels."""
    found: list[Path] = []
    level = [folder]
    for _ in range(depth + 1):
        following = []
        for here in level:
            try:
                children = sorted(here.iterdir())
            except OSError:
                continue
            for child in children:
                if child.is_file() and child.suffix.lower() == ".gguf":
                    found.append(child)
                elif child.is_dir() and not child.name.startswith("."):
                    following.append(child)
        level = following
    return found


def add_path(path: str | Path) -> list[ModelRecord]:
    """Remember a model folder, a GGUF file or a folder holding GGUF files; returns the rows it
    adds. Raises :class:`ModelRegistryError`, :class:`ModelInfoError` or :class:`GGUFError`."""
    target = Path(path).expanduser()
    if not target.exists():
        raise ModelRegistryError(f"{target} does not exist")
    target = target.resolve()
    if target.is_file():
        if target.suffix.lower() != ".gguf":
            raise ModelRegistryError(f"{target} is not a .gguf file or a model folder")
        rows = [_gguf_record(target, read_gguf_header(target))]
    elif (target / "config.json").is_file():
        rows = [_folder_record(target, "folder", model_info(target))]
    else:
        rows = [gguf_record(p) for p in gguf_files(target)]
        if not rows:
            raise ModelInfoError(f"{target} is not a model: no config.json and no .gguf file "
                                 "inside; pick a Hugging Face model folder or a GGUF file")
    if str(target) in load_state()["paths"]:
        raise ModelRegistryError(f"{target} is already in the models list")

    def add(state: dict[str, Any]) -> None:
        state["paths"].append(str(target))
        if str(target) in state["hidden"]:
            state["hidden"].remove(str(target))

    update_state(add)
    return rows


def forget(path: str | Path) -> None:
    """Drop a user-added entry, or hide a Hugging Face cache model, without deleting files."""
    key = path_key(path)

    def drop(state: dict[str, Any]) -> None:
        if key in state["paths"]:
            state["paths"].remove(key)
        elif key not in state["hidden"]:
            state["hidden"].append(key)
        state["last_used"].pop(key, None)

    update_state(drop)


# ------------------------------------------------------------------------------ listing

def _folder_record(folder: Path, source: str, info: Any = None, name: str = "") -> ModelRecord:
    record = ModelRecord(name=name or folder.name, path=folder, source=source)
    try:
        info = info or model_info(folder)
    except (ModelInfoError, OSError, ValueError, KeyError) as exc:
        record.error = str(exc)
        record.size_on_disk = _safe_size(folder)
        return record
    record.architecture, record.parameters = info.architecture, info.parameters
    record.context_length, record.dtype = info.max_context, info.dtype
    record.size_on_disk, record.chat_template = info.size_on_disk, info.chat_template
    record.is_starter = info.is_starter and source == "app"
    marker = read_marker(folder)
    record.imported_from = str(marker.get("file", "")) if not record.is_starter else ""
    record.details = {"layers": info.layers, "hidden_size": info.hidden_size,
                      "vocab_size": info.vocab_size, "sha256": marker.get("sha256", ""),
                      "source_file": marker.get("source", "")}
    return record


def gguf_record(path: Path) -> ModelRecord:
    try:
        return _gguf_record(path, read_gguf_header(path))
    except GGUFError as exc:
        return ModelRecord(name=path.name, path=path, source="gguf", error=str(exc),
                           size_on_disk=_safe_size(path))


def _gguf_record(path: Path, header: Any) -> ModelRecord:
    return ModelRecord(
        name=path.name, path=path, source="gguf", architecture=header.architecture,
        parameters=header.parameters, context_length=header.context_length,
        dtype=header.quantization, size_on_disk=path.stat().st_size,
        chat_template=header.has_chat_template,
        details={"gguf_name": header.name, "vocab_size": header.vocab_size})


def _safe_size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else folder_size(path)
    except OSError:
        return 0


def app_models(models_dir: Path) -> list[ModelRecord]:
    """The app's models folder: the starter first, then by name."""
    from llamahome_gui.core.models.starter import STARTER_NAME

    if not models_dir.is_dir():
        return []
    rows = [_folder_record(p, "app") for p in sorted(models_dir.iterdir(), key=lambda p:
                                                        p.name.lower())
            if p.is_dir() and not p.name.startswith(".") and (p / "config.json").is_file()]
    for row in rows:
        row.is_starter = row.is_starter or row.name == STARTER_NAME
    return sorted(rows, key=lambda r: not r.is_starter)


def starter_placeholder(models_dir: Path) -> ModelRecord | None:
    """The starter's row before its import, from the bundled GGUF's header."""
    from llamahome_gui.core.models.starter import STARTER_NAME, StarterModelError, find_gguf
    from llamahome_gui.core.models.starter import is_imported as starter_imported

    if starter_imported(models_dir):
        return None
    try:
        row = gguf_record(find_gguf())
    except StarterModelError as exc:
        return ModelRecord(name=STARTER_NAME, path=models_dir / STARTER_NAME, source="app",
                           is_starter=True, error=str(exc).splitlines()[0])
    row.name, row.source, row.is_starter, row.pending = STARTER_NAME, "app", True, True
    return row


def list_models(models_dir: Path | None = None, *, hf_cache: Path | None = None,
                runs_roots: list[Path] | None = None) -> list[ModelRecord]:
    """Every model from the four sources, the app's own first; duplicates (the same folder
    reached twice) appear once."""
    models_dir = Path(models_dir or paths.models_dir())
    state = load_state()
    hidden = set(state["hidden"])
    rows = app_models(models_dir)
    placeholder = starter_placeholder(models_dir)
    if placeholder is not None:
        rows.insert(0, placeholder)
    for snapshot in cache_snapshots(hf_cache):
        if path_key(snapshot.folder) not in hidden:
            row = _folder_record(snapshot.folder, "hf-cache", name=snapshot.repo_id)
            row.revision = snapshot.revision
            rows.append(row)
    for raw in state["paths"]:
        target = Path(raw)
        if target.is_file():
            rows.append(gguf_record(target))
        elif (target / "config.json").is_file():
            rows.append(_folder_record(target, "folder"))
        elif target.is_dir():
            rows.extend(gguf_record(p) for p in gguf_files(target))
        else:
            rows.append(ModelRecord(name=target.name, path=target, source="folder",
                                    error=f"{target} no longer exists (forget it, or put it back)"))
    unique: dict[str, ModelRecord] = {}
    for row in rows:
        unique.setdefault(path_key(row.path), row)
    rows = list(unique.values())
    _link_imports(rows)
    used = dict(state["last_used"])
    for path, when in runs_last_used(runs_roots).items():
        used[path] = max(when, used.get(path, 0.0))
    for row in rows:
        row.last_used = used.get(path_key(row.path)) or None
    return rows


def _link_imports(rows: list[ModelRecord]) -> None:
    """Mark each GGUF row that has been converted into the models folder."""
    by_source = {}
    for row in rows:
        if row.source == "app" and row.details.get("source_file"):
            by_source[path_key(row.details["source_file"])] = row.path
    for row in rows:
        if row.is_gguf:
            row.imported_as = by_source.get(path_key(row.path))


def find_model(query: str, rows: list[ModelRecord]) -> ModelRecord:
    """A row by path, exact name, or unique name prefix; a one-line error otherwise."""
    target = Path(query).expanduser()
    if target.exists():
        key = path_key(target)
        for row in rows:
            if path_key(row.path) == key:
                return row
    for matches in ([r for r in rows if r.name == query],
                    [r for r in rows if r.name.lower().startswith(query.lower())]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ModelRegistryError(f"{query!r} matches {len(matches)} models ("
                                     f"{', '.join(r.name for r in matches[:4])}); give its path")
    raise ModelRegistryError(f"no model {query!r} in the list; see `llamahome models list`")


def remove_model(path: str | Path, models_dir: Path | None = None, *,
                 runs_roots: list[Path] | None = None) -> int:
    """Delete a model folder of the app's models folder; returns the bytes freed. Anything
    outside that folder is refused (forget it instead); so is a model a running trainer uses."""
    models_dir = Path(models_dir or paths.models_dir()).expanduser()
    entry = Path(path).expanduser()
    if not entry.is_absolute():
        entry = models_dir / entry
    inside = entry.parent.resolve() == models_dir.resolve() and not entry.name.startswith(".")
    if not inside:
        raise ModelRegistryError(f"{entry} is not in the app's models folder ({models_dir}): "
                                 "it is never deleted here; forget it to drop it from the list")
    if not entry.is_dir() or not (entry / "config.json").exists():
        raise ModelRegistryError(f"{entry} is not a model folder in {models_dir}")
    busy = models_in_use(runs_roots, models_dir)
    for key in {path_key(entry), str(entry.absolute())}:
        if key in busy:
            raise ModelRegistryError(f"{entry.name} is in use by the running training run "
                                     f"{busy[key]}; stop that run first")
    if entry.is_symlink():
        entry.unlink()
        return 0
    freed = folder_size(entry)
    trash = entry.with_name(f".{entry.name}.removing")
    entry.rename(trash)  # the model disappears at once, even if deleting takes a while
    shutil.rmtree(trash, ignore_errors=True)
    forget_key = path_key(entry)
    update_state(lambda s: s["last_used"].pop(forget_key, None))
    return freed


__all__ = ["COLUMNS", "IMPORT_MARKER", "ModelRecord", "ModelRegistryError", "add_path",
           "find_model", "forget", "list_models", "mark_used", "models_in_use", "remove_model"]
