"""ConfigManager: the runtime API over the config folder.

``load`` gives validated pydantic models (schema defaults for anything missing, environment
overrides applied); ``update`` validates and writes only the changed keys back into the
user's own TOML document, so comments and layout survive.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import BaseModel

from llamahome_gui import paths
from llamahome_gui.config.schema import COMPONENTS, Component


def resolve_config_dir(config_dir: Path | str | None = None) -> Path:
    """The folder to use: the given one, else ``./config`` if present, else the user's
    config folder (created from the shipped defaults on first use)."""
    if config_dir is not None:
        return Path(config_dir)
    local = Path.cwd() / "config"
    if local.is_dir() and any(local.glob("*_config.toml")):
        return local
    user = paths.user_config_dir()
    if not user.exists():
        shutil.copytree(paths.SHIPPED_CONFIG_DIR, user)
    return user


class ConfigManager:
    def __init__(self, config_dir: Path | str | None = None) -> None:
        self.config_dir = resolve_config_dir(config_dir)

    def path(self, component: str) -> Path:
        return self.config_dir / f"{component}_config.toml"

    def model_class(self, component: str) -> type[Component]:
        try:
            return COMPONENTS[component]
        except KeyError:
            raise KeyError(f"unknown config component {component!r}; "
                           f"known: {', '.join(COMPONENTS)}") from None

    def components(self) -> list[str]:
        return list(COMPONENTS)

    def read_document(self, component: str) -> tomlkit.TOMLDocument:
        path = self.path(component)
        if not path.exists():
            return tomlkit.document()
        return tomlkit.parse(path.read_text(encoding="utf-8"))

    def load(self, component: str, *, env: Mapping[str, str] | None = None) -> Component:
        data = self.read_document(component).unwrap()
        data = _apply_env(component, self.model_class(component), data,
                          os.environ if env is None else env)
        return self.model_class(component).model_validate(data)

    def load_all(self) -> dict[str, Component]:
        return {name: self.load(name) for name in self.components()}

    def get(self, key_path: str) -> Any:
        component, *rest = key_path.split(".")
        value: Any = self.load(component)
        for part in rest:
            value = getattr(value, part)
        return value

    def merge(self, component: str, other: Mapping[str, Any]) -> Component:
        """The component with ``other`` (nested {section: {key: value}}) laid over it."""
        base = self.load(component).model_dump()
        for section, values in other.items():
            if isinstance(values, Mapping):
                base.setdefault(section, {}).update(values)
            else:
                base[section] = values
        return self.model_class(component).model_validate(base)

    def update(self, component: str, values: Mapping[str, Any]) -> list[str]:
        """Set ``{"section.key": value}``; validate; write only what changed.

        Returns the key paths whose stored value changed (empty: the file is untouched).
        """
        doc = self.read_document(component)
        current = self.model_class(component).model_validate(doc.unwrap()).model_dump()
        nested: dict[str, dict[str, Any]] = {}
        for dotted, value in values.items():
            section, key = dotted.split(".", 1)
            nested.setdefault(section, {})[key] = value
        merged = {**current, **{s: {**current.get(s, {}), **kv} for s, kv in nested.items()}}
        validated = self.model_class(component).model_validate(merged).model_dump()
        changed: list[str] = []
        for section, kv in nested.items():
            table = doc.get(section)
            for key in kv:
                new = validated[section][key]
                stored = table.get(key) if table is not None else None
                if stored is not None and _plain(stored) == new:
                    continue
                if table is None:
                    table = tomlkit.table()
                    doc[section] = table
                table[key] = new
                changed.append(f"{component}.{section}.{key}")
        if changed:
            atomic_write(self.path(component), tomlkit.dumps(doc))
        return changed


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def _apply_env(component: str, model: type[BaseModel], data: dict[str, Any],
               env: Mapping[str, str]) -> dict[str, Any]:
    prefix = f"LLAMAHOME__{component.upper()}__"
    for name, raw in env.items():
        if not name.startswith(prefix):
            continue
        section, _, key = name[len(prefix):].lower().partition("__")
        data.setdefault(section, {})[key] = _parse_value(raw)
    return data


def _parse_value(raw: str) -> Any:
    try:
        return tomlkit.parse(f"v = {raw}")["v"].unwrap()
    except Exception:
        return raw


def atomic_write(path: Path, text: str) -> None:
    """Write beside the target, fsync, then replace: a reader sees the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
