"""Presets: ``config/presets/<name>/<component>_config.toml`` overlays.

A preset file holds only the keys it changes (with comments saying why). Its values are
checked field by field against the schema before anything is written; applying it goes
through ``ConfigManager.update``, so only keys whose value really changes are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from llamahome_gui.config.errors import (
    ConfigError,
    ConfigValidationError,
    Issue,
    display_path,
    rule_text,
)
from llamahome_gui.config.introspect import adapter, leaves, suggest
from llamahome_gui.config.store import locate, parse, read_text

SUFFIX = "_config.toml"


@dataclass
class Preset:
    name: str
    folder: Path
    description: str = ""
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # component -> {rel: value}

    def flat(self) -> dict[str, Any]:
        """``{component.section.key: value}``."""
        return {f"{c}.{k}": v for c, vals in self.values.items() for k, v in vals.items()}


def find_presets(*roots: Path) -> dict[str, Path]:
    """Preset folders by name; a later root (the user's config folder) wins."""
    found: dict[str, Path] = {}
    for root in roots:
        base = root / "presets"
        if base.is_dir():
            for folder in sorted(base.iterdir()):
                if folder.is_dir() and any(folder.glob(f"*{SUFFIX}")):
                    found[folder.name] = folder
    return found


def read_preset(name: str, folder: Path, models: dict[str, type[BaseModel]]) -> Preset:
    """Read and check a preset (raises :class:`ConfigValidationError` naming file:line)."""
    preset = Preset(name, folder)
    issues: list[Issue] = []
    files = sorted(folder.glob(f"*{SUFFIX}"), key=lambda p: (p.name != "training" + SUFFIX, p.name))
    for path in files:
        component = path.name.removesuffix(SUFFIX)
        text = read_text(path).text
        if not preset.description:
            preset.description = _first_comment(text)
        if component not in models:
            issues.append(Issue(f"no config component {component!r}; known: {', '.join(models)}",
                                file=display_path(path)))
            continue
        data = parse(text, path).unwrap()
        data.pop("schema_version", None)
        leaf = leaves(models[component])
        for rel, value in _flatten(data).items():
            pos = locate(text, rel.split("."))
            where = dict(file=display_path(path), line=pos[0] if pos else None,
                         key_path=f"{component}.{rel}")
            info = leaf.get(rel)
            if info is None:
                issues.append(Issue(f"no such key{suggest(rel, leaf)}", **where))
                continue
            try:
                preset.values.setdefault(component, {})[rel] = \
                    adapter(info).validate_python(value)
            except ValidationError as exc:
                issues.extend(Issue(rule_text(e), value=value, has_value=True, **where)
                              for e in exc.errors())
    if issues:
        raise ConfigValidationError(issues)
    return preset


def unknown_preset(name: str, known: dict[str, Path]) -> ConfigError:
    names = ", ".join(known) or "none found"
    return ConfigError(f"no preset {name!r}{suggest(name, known)} (presets: {names})")


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def _first_comment(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line.strip():
            break
    return ""
