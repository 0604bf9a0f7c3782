"""ConfigState: the one in-memory edit state of every config component.

The Configs page and every form embedded in another page (Train, Chat) bind to this single
object, so an edit made in one place shows everywhere. It keeps, per component, the values
last read from disk ("saved"), the values being edited ("current"), the schema defaults,
validation errors and the fields the environment overrides. Every edit goes through one
``QUndoStack``; ``save()`` writes only changed keys through ``ConfigManager.update`` (which
keeps the user's comments). Files changed by someone else are reloaded when nothing is being
edited, otherwise ``file_changed_on_disk`` lets the UI ask -- an edit is never overwritten
silently.

Key paths are ``component.section.key``; values are plain Python values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from PyQt6.QtCore import QFileSystemWatcher, QObject, pyqtSignal
from PyQt6.QtGui import QUndoCommand, QUndoStack

from llamahome_gui.config.errors import ConfigConflictError, rule_text
from llamahome_gui.config.introspect import FieldSpec, flat_values, leaf_fields, nest
from llamahome_gui.config.manager import ConfigManager

HIDDEN_KEYS = frozenset({"schema_version"})
_MISSING = object()


def _disk_text(path: Path) -> str | None:
    """The file's text as it is now (None: missing); odd bytes never raise here."""
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None


class ConfigStateError(Exception):
    """Save or edit refused: invalid values, or a field the environment sets.
    (A conflict with an edit made on disk is ``ConfigConflictError``.)"""


class _ComponentState:
    def __init__(self, name: str) -> None:
        self.name = name
        self.model: type[BaseModel] | None = None
        self.fields: dict[str, FieldSpec] = {}
        self.saved: dict[str, Any] = {}
        self.current: dict[str, Any] = {}
        self.defaults: dict[str, Any] = {}
        self.env: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.load_error: str = ""
        self.disk_text: str | None = None      # file text the saved values came from
        self.notified_text: str | None = None  # last on-disk text the UI was told about


class _SetValueCommand(QUndoCommand):
    """One edit of one key; consecutive edits of the same key merge into one undo step."""

    ID = 1

    def __init__(self, state: ConfigState, key_path: str, old: Any, new: Any) -> None:
        super().__init__(f"Change {key_path}")
        self._state, self.key_path, self.old, self.new = state, key_path, old, new

    def id(self) -> int:  # noqa: A003 - Qt API
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API
        if not isinstance(other, _SetValueCommand) or other.key_path != self.key_path:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self._state._apply(self.key_path, self.new)

    def undo(self) -> None:
        self._state._apply(self.key_path, self.old)


class ConfigState(QObject):
    """Current edited values of every component, with save / revert / undo / redo."""

    value_changed = pyqtSignal(str, object)        # key_path, value
    dirty_changed = pyqtSignal(str, bool)          # component, has unsaved edits
    errors_changed = pyqtSignal(str)               # component
    saved = pyqtSignal(str, list)                  # component, changed key paths
    reloaded = pyqtSignal(str)                     # component (values re-read from disk)
    file_changed_on_disk = pyqtSignal(str)         # component with unsaved edits changed on disk
    reloaded_from_disk = pyqtSignal(str)           # component re-read after someone else's edit
    any_dirty_changed = pyqtSignal(bool)

    def __init__(self, config: ConfigManager, parent: QObject | None = None, *, watch: bool = True) -> None:
        super().__init__(parent)
        self.config = config
        self.undo_stack = QUndoStack(self)
        self._components: dict[str, _ComponentState] = {}
        self._any_dirty = False
        self._watcher = QFileSystemWatcher(self) if watch else None
        if self._watcher is not None:
            self._watcher.fileChanged.connect(self._on_watcher_changed)
            self._watcher.directoryChanged.connect(self._on_watcher_changed)
            self._watcher.addPath(str(Path(config.config_dir)))
        for name in config.components():
            self._components[name] = _ComponentState(name)
            self._load(name)

    # -- reading --------------------------------------------------------------------------
    def components(self) -> list[str]:
        return list(self._components)

    def model_class(self, component: str) -> type[BaseModel] | None:
        return self._comp(component).model

    def field(self, key_path: str) -> FieldSpec:
        """Schema facts of one field: annotation, limits, title, description, default."""
        comp, key = self._split(key_path)
        return comp.fields[key]

    def path(self, component: str) -> Path:
        return Path(self.config.path(component))

    def keys(self, component: str) -> list[str]:
        """Key paths of every editable field of the component, in schema order."""
        comp = self._comp(component)
        return [f"{component}.{k}" for k in comp.defaults]

    def value(self, key_path: str) -> Any:
        comp, key = self._split(key_path)
        return comp.current[key]

    def values(self, component: str) -> dict[str, Any]:
        """Nested ``{section: {key: value}}`` of the current edited values."""
        return nest(self._comp(component).current)

    def saved_value(self, key_path: str) -> Any:
        comp, key = self._split(key_path)
        return comp.saved.get(key, comp.defaults[key])

    def default_value(self, key_path: str) -> Any:
        comp, key = self._split(key_path)
        return comp.defaults[key]

    def is_modified(self, key_path: str) -> bool:
        comp, key = self._split(key_path)
        return comp.current[key] != comp.saved.get(key)

    def is_default(self, key_path: str) -> bool:
        comp, key = self._split(key_path)
        return comp.current[key] == comp.defaults[key]

    def env_var(self, key_path: str) -> str | None:
        """The environment variable overriding this field, or None."""
        comp, key = self._split(key_path)
        return comp.env.get(key)

    def error(self, key_path: str) -> str:
        comp, key = self._split(key_path)
        return comp.errors.get(key, "")

    def errors(self, component: str) -> dict[str, str]:
        """``{key_path or component: message}``; the component name holds form-level errors."""
        comp = self._comp(component)
        return {(f"{component}.{k}" if k else component): v for k, v in comp.errors.items()}

    def load_error(self, component: str) -> str:
        return self._comp(component).load_error

    def is_valid(self, component: str | None = None) -> bool:
        names = [component] if component else self.components()
        return all(not self._comp(n).errors and not self._comp(n).load_error for n in names)

    def dirty_keys(self, component: str | None = None) -> list[str]:
        names = [component] if component else self.components()
        out: list[str] = []
        for name in names:
            comp = self._comp(name)
            out += [f"{name}.{k}" for k, v in comp.current.items() if v != comp.saved.get(k)]
        return out

    def is_dirty(self, component: str | None = None) -> bool:
        return bool(self.dirty_keys(component))

    def preview(self, component: str | None = None) -> str:
        """Unified diff of what ``save()`` would write (empty when nothing would change)."""
        parts = []
        for name in [component] if component else self.components():
            changes = {k.split(".", 1)[1]: self.value(k) for k in self.dirty_keys(name)}
            if changes:
                try:
                    parts.append(self.config.preview_diff(name, changes))
                except Exception as exc:  # invalid values: say so instead of a diff
                    parts.append(f"# {self.path(name).name}: not saved while invalid: {exc}\n")
        return "".join(parts)

    # -- editing --------------------------------------------------------------------------
    def set_value(self, key_path: str, value: Any) -> None:
        """Edit one field (undoable). Env-overridden fields refuse edits."""
        comp, key = self._split(key_path)
        if key in comp.env:
            raise ConfigStateError(f"{key_path} is set by the environment variable "
                                   f"{comp.env[key]}; unset it to edit here")
        if comp.current[key] == value and type(comp.current[key]) is type(value):
            return
        self.undo_stack.push(_SetValueCommand(self, key_path, comp.current[key], value))

    def set_values(self, values: dict[str, Any], label: str = "Apply values") -> None:
        """Several edits as one undo step (presets, revert-all); env fields are skipped."""
        self.undo_stack.beginMacro(label)
        try:
            for key_path, value in values.items():
                if self.env_var(key_path) is None:
                    self.set_value(key_path, value)
        finally:
            self.undo_stack.endMacro()

    def reset_to_default(self, key_path: str) -> None:
        self.set_value(key_path, self.default_value(key_path))

    def revert_to_saved(self, key_path: str) -> None:
        self.set_value(key_path, self.saved_value(key_path))

    def revert(self, component: str | None = None) -> None:
        """Drop unsaved edits (one undo step)."""
        keys = self.dirty_keys(component)
        if keys:
            self.set_values({k: self.saved_value(k) for k in keys}, "Revert unsaved changes")

    def save(self, component: str | None = None, *, force: bool = False) -> dict[str, list[str]]:
        """Write the changed keys of dirty components; ``{component: changed key paths}``.

        Raises ``ConfigStateError`` when anything is invalid (nothing is written) and, unless
        ``force``, ``ConfigConflictError`` when a changed key was also changed on disk since
        it was loaded.
        """
        names = [n for n in ([component] if component else self.components()) if self.is_dirty(n)]
        bad = [n for n in names if not self.is_valid(n)]
        if bad:
            raise ConfigStateError("fix the invalid values first: " + "; ".join(
                f"{k}: {m}" for n in bad for k, m in self.errors(n).items()))
        if not force:
            conflicts = [k for n in names for k in self._conflicts(n)]
            if conflicts:
                raise ConfigConflictError(conflicts)
        result: dict[str, list[str]] = {}
        for name in names:
            comp = self._comp(name)
            changes = {k: comp.current[k] for k, v in comp.current.items()
                       if v != comp.saved.get(k)}
            changed = list(self.config.update(name, changes))
            self._load(name)  # fresh saved values (others' edits to other keys included)
            result[name] = changed
            self.saved.emit(name, changed)
        self._emit_dirty(names)
        return result

    def reload(self, component: str) -> None:
        """Re-read the file, dropping unsaved edits of this component."""
        self._load(component)
        self._emit_dirty([component])

    # -- internals ------------------------------------------------------------------------
    def _comp(self, component: str) -> _ComponentState:
        try:
            return self._components[component]
        except KeyError:
            raise KeyError(f"unknown config component {component!r}; "
                           f"known: {', '.join(self._components)}") from None

    def _split(self, key_path: str) -> tuple[_ComponentState, str]:
        component, _, key = key_path.partition(".")
        comp = self._comp(component)
        if key not in comp.defaults:
            raise KeyError(f"unknown config key {key_path!r}")
        return comp, key

    def _apply(self, key_path: str, value: Any) -> None:
        comp, key = self._split(key_path)
        was_dirty = self.is_dirty(comp.name)
        comp.current[key] = value
        self._validate(comp)
        self.value_changed.emit(key_path, value)
        if self.is_dirty(comp.name) != was_dirty:
            self._emit_dirty([comp.name])
        else:
            self._emit_any_dirty()

    def _load(self, name: str) -> None:
        comp = self._components[name]
        comp.model = self.config.model_class(name)
        comp.fields = leaf_fields(comp.model, HIDDEN_KEYS)
        comp.defaults = {k: f.default for k, f in comp.fields.items()}
        path = self.path(name)
        comp.disk_text = _disk_text(path)
        comp.notified_text = comp.disk_text
        comp.load_error = ""
        try:
            saved = flat_values(self.config.load(name, env={}), comp.fields)
        except Exception as exc:  # an invalid file: show its raw values, flag them inline
            try:
                raw = self.config.read_document(name).unwrap()
                saved = {**comp.defaults, **flat_values(raw, comp.fields)}
            except Exception:  # not even TOML: the form shows defaults and the parser's error
                saved = dict(comp.defaults)
                comp.load_error = str(exc)
        comp.env = {k.partition(".")[2]: var for k, var in
                    self.config.env_sources(name, env=os.environ).items()
                    if k.partition(".")[2] in comp.fields}
        if comp.env:
            try:
                saved.update({k: v for k, v in flat_values(self.config.load(name),
                                                            comp.fields).items() if k in comp.env})
            except Exception:
                pass
        comp.saved = {k: saved.get(k, comp.defaults[k]) for k in comp.defaults}
        old_current = comp.current
        comp.current = dict(comp.saved)
        self._validate(comp)
        if self._watcher is not None and path.exists() and str(path) not in self._watcher.files():
            self._watcher.addPath(str(path))
        for key, value in comp.current.items():
            if old_current.get(key, _MISSING) != value:
                self.value_changed.emit(f"{name}.{key}", value)
        self.reloaded.emit(name)

    def _validate(self, comp: _ComponentState) -> None:
        before = dict(comp.errors)
        comp.errors = {}
        try:
            assert comp.model is not None
            comp.model.model_validate(nest(comp.current))
        except ValidationError as exc:
            for err in exc.errors():
                loc = [str(p) for p in err["loc"]]
                key = ""
                for i in range(len(loc), 0, -1):
                    if ".".join(loc[:i]) in comp.defaults:
                        key = ".".join(loc[:i])
                        break
                msg = rule_text(dict(err))
                comp.errors.setdefault(key, msg)
        if comp.errors != before:
            self.errors_changed.emit(comp.name)

    def _conflicts(self, name: str) -> list[str]:
        """Dirty keys whose value on disk differs from the one loaded (someone else's edit)."""
        comp = self._comp(name)
        path = self.path(name)
        text = _disk_text(path)
        if text == comp.disk_text:
            return []
        try:
            on_disk = flat_values(self.config.load(name, env={}), comp.fields)
        except Exception:
            return []
        return [f"{name}.{k}" for k, v in comp.current.items()
                if v != comp.saved.get(k) and k in on_disk and on_disk[k] != comp.saved.get(k)]

    def _emit_dirty(self, names: list[str]) -> None:
        for name in names:
            self.dirty_changed.emit(name, self.is_dirty(name))
        self._emit_any_dirty()

    def _emit_any_dirty(self) -> None:
        now = self.is_dirty()
        if now != self._any_dirty:
            self._any_dirty = now
            self.any_dirty_changed.emit(now)

    def _on_watcher_changed(self, _path: str) -> None:
        for name, comp in self._components.items():
            path = self.path(name)
            text = _disk_text(path)
            if self._watcher is not None and path.exists() and \
                    str(path) not in self._watcher.files():
                self._watcher.addPath(str(path))  # an atomic replace drops the watch
            if text == comp.disk_text:
                continue
            if self.is_dirty(name):
                if text != comp.notified_text:
                    comp.notified_text = text
                    self.file_changed_on_disk.emit(name)
            else:
                self.reload(name)
                self.reloaded_from_disk.emit(name)
