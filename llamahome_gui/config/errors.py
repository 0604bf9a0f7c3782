"""Config errors that say what is wrong, where (file:line, key path) and which rule broke.

Every problem is an :class:`Issue`; exceptions carry a list of them so the CLI prints one
line per problem and the forms can put each message next to its editor.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit


def display_path(path: Path | str) -> str:
    """The path as a user typed it: relative to the working folder when inside it."""
    path = Path(path)
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def format_value(value: Any, limit: int = 80) -> str:
    """A value written the way it would appear in a TOML file, on one line."""
    try:
        if isinstance(value, dict):
            table = tomlkit.inline_table()
            table.update(value)
            text = table.as_string()
        else:
            text = tomlkit.item(value).as_string()
    except Exception:  # values TOML cannot hold (None, objects)
        text = repr(value)
    text = " ".join(text.split("\n"))
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass
class Issue:
    """One problem (or warning) in a config file, a preset, an import or the environment."""

    message: str                 # the rule, e.g. "must be <= 1.0"
    key_path: str = ""           # component.section.key
    value: Any = None
    has_value: bool = False
    file: str = ""               # display path of the file, or "" when not from a file
    line: int | None = None
    column: int | None = None
    env_var: str = ""            # the variable the value came from
    severity: str = "error"      # "error" or "warning"

    def where(self) -> str:
        if self.env_var:
            return f"environment {self.env_var}"
        if not self.file:
            return ""
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}"

    def __str__(self) -> str:
        parts = [p for p in (self.where(),) if p]
        if self.severity == "warning":
            parts.append("warning")
        if self.key_path and self.has_value:
            parts.append(f"{self.key_path} = {format_value(self.value)}")
        elif self.key_path:
            parts.append(self.key_path)
        parts.append(self.message)
        return ": ".join(parts)


class ConfigError(ValueError):
    """Any config problem the user must fix; ``str()`` is ready to print."""

    def __init__(self, issues: list[Issue] | str) -> None:
        self.issues = [Issue(issues)] if isinstance(issues, str) else list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class ConfigValidationError(ConfigError):
    """Values break the schema (CLI exit status 2)."""


class TomlSyntaxError(ConfigError):
    """A file is not valid TOML; carries the parser's line and column."""

    def __init__(self, file: Path | str, line: int | None, column: int | None, reason: str) -> None:
        self.file, self.line, self.column, self.reason = display_path(file), line, column, reason
        where = self.file if line is None else f"{self.file}:{line}:{column}"
        super().__init__([Issue(f"invalid TOML: {reason}", file=where)])


class ConfigConflictError(ConfigError):
    """A save would overwrite values someone else changed in the file since it was read.

    ``keys``: the key paths changed on both sides; saving again with ``force`` overwrites."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = list(keys)
        super().__init__(f"changed on disk since loaded: {', '.join(self.keys)}")


class ConfigWriteError(ConfigError):
    """A save the file system refused (read-only file or folder, disk full); nothing written."""


def rule_text(error: dict[str, Any]) -> str:
    """A pydantic error as the rule that was broken, e.g. ``must be <= 1.0``."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    value = error.get("input")
    if isinstance(value, float) and math.isnan(value):
        return "is not a number (nan); give a number"
    bounds = {"less_than_equal": ("<=", "le"), "greater_than_equal": (">=", "ge"),
              "less_than": ("<", "lt"), "greater_than": (">", "gt")}
    if kind in bounds:
        op, name = bounds[kind]
        return f"must be {op} {ctx.get(name)}"
    simple = {
        "int_type": "must be a whole number", "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number", "float_parsing": "must be a number",
        "bool_type": "must be true or false", "bool_parsing": "must be true or false",
        "string_type": "must be a string in quotes, e.g. \"text\"",
        "list_type": "must be a list, e.g. [\"a\", \"b\"]",
        "model_type": "must be a table ([section] with keys)",
        "model_attributes_type": "must be a table ([section] with keys)",
        "dict_type": "must be a table",
        "missing": "is required: the schema has no default, so set it in the file",
    }
    if kind in simple:
        return simple[kind]
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} item(s)"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error.get("msg", "")))
    return str(error.get("msg", kind))
