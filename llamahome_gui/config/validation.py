"""Reading one component: file -> migrated document -> data (+ environment) -> model.

Every problem comes back as an :class:`Issue` pointing at the file and line the user must
edit (or the environment variable to change); unknown keys are warnings, kept in the file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import BaseModel, ValidationError

from llamahome_gui.config.env import EnvOverride
from llamahome_gui.config.errors import Issue, display_path, rule_text
from llamahome_gui.config.introspect import is_model, leaves, suggest
from llamahome_gui.config.migrations import V0_RENAMES, Migration, migrate
from llamahome_gui.config.store import TomlText, locate, read_text


@dataclass
class FileState:
    """A component's file as read, migrated in memory (nothing written)."""

    component: str
    source: TomlText
    doc: tomlkit.TOMLDocument
    migration: Migration

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def where(self) -> str:
        return display_path(self.path)

    def data(self) -> dict[str, Any]:
        return self.doc.unwrap()

    def line_of(self, rel_parts: list[str]) -> tuple[int, int] | None:
        """Line and column of a key in the file as the user wrote it (old key names)."""
        if not self.source.exists:
            return None
        dotted = ".".join(rel_parts)
        original = self.migration.renames.get(dotted, dotted)
        return locate(self.source.text, original.split("."))


def read_state(component: str, path: Path, seed_text: str | None = None) -> FileState:
    """Read (or, with ``seed_text``, start from that text when the file is missing)."""
    source = read_text(path)
    if not source.exists and seed_text is not None:
        source = TomlText(path, seed_text, exists=False)
    doc = source.parse()
    migration = migrate(component, doc, f"{display_path(path)}: ")
    return FileState(component, source, doc, migration)


@dataclass
class Checked:
    """Result of validating one component."""

    model: BaseModel | None
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)


def validate(state: FileState, model_cls: type[BaseModel], data: dict[str, Any],
             overrides: dict[str, EnvOverride] | None = None) -> Checked:
    """Validate ``data`` (the file's, possibly edited) with env overrides laid over it."""
    component = state.component
    overrides = overrides or {}
    merged = copy.deepcopy(data)
    for key_path, override in overrides.items():
        _set(merged, key_path.split(".")[1:], override.value)
    result = Checked(None, warnings=unknown_keys(state, model_cls, data))
    try:
        result.model = model_cls.model_validate(merged, strict=True)
    except ValidationError as exc:
        leaf = leaves(model_cls)
        for err in exc.errors():
            parts = _key_parts(err["loc"], leaf)
            key_path = ".".join([component, *parts])
            override = overrides.get(key_path)
            if override is not None:
                result.errors.append(Issue(rule_text(err), key_path=key_path, value=err["input"],
                                           has_value=True, env_var=override.var))
                continue
            pos = state.line_of(parts) if parts else None
            result.errors.append(Issue(
                rule_text(err), key_path=key_path, value=err.get("input"),
                has_value=err["type"] != "missing", file=state.where,
                line=pos[0] if pos else None, column=pos[1] if pos else None))
    return result


def unknown_keys(state: FileState, model_cls: type[BaseModel], data: dict[str, Any],
                 prefix: tuple[str, ...] = ()) -> list[Issue]:
    """Keys the schema does not know: kept in the file untouched, reported as warnings."""
    out: list[Issue] = []
    fields = model_cls.model_fields
    for key, value in data.items():
        parts = (*prefix, key)
        info = fields.get(key)
        if info is None:
            pos = state.line_of(list(parts))
            out.append(Issue(f"unknown key, kept but not used{_hint(state, parts, fields)}",
                             key_path=".".join((state.component, *parts)), file=state.where,
                             line=pos[0] if pos else None, severity="warning"))
        elif is_model(info.annotation) and isinstance(value, dict):
            out.extend(unknown_keys(state, info.annotation, value, parts))
    return out


def _hint(state: FileState, parts: tuple[str, ...], fields: dict[str, Any]) -> str:
    """A did-you-mean for a typo, or the new name of a key from an older layout."""
    new = V0_RENAMES.get(state.component, {}).get(".".join(parts))
    if new is not None:
        return f"; did you mean {new.rsplit('.', 1)[-1]}? ({parts[-1]} is its old name)"
    return suggest(parts[-1], fields)


def _key_parts(loc: tuple[Any, ...], leaf: dict[str, Any]) -> list[str]:
    """The config key of an error location (list indices dropped)."""
    parts: list[str] = []
    for item in loc:
        if not isinstance(item, str):
            break
        parts.append(item)
        if ".".join(parts) in leaf:
            break
    return parts


def _set(data: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        nxt = data.get(part)
        if not isinstance(nxt, dict):
            nxt = data[part] = {}
        data = nxt
    data[parts[-1]] = value
