"""Schema files ``config/schemas/<component>_config.toml``: one inline table per key.

``memory_fraction = { type = "float", min = 0.0, max = 1.0, default = 0.9, description = "…" }``

The files of the built-in components are generated from the pydantic models (``llamahome
config schema --write``; a test keeps them in sync). A schema file with no model behind it
becomes a dynamic pydantic model, so a user can add a component without writing Python.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types as at
import tomlkit
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic.fields import FieldInfo

from llamahome_gui.config import schema as builtin
from llamahome_gui.config.errors import ConfigError, Issue, display_path, rule_text
from llamahome_gui.config.introspect import default_of, is_model, type_name
from llamahome_gui.config.store import atomic_write, locate, parse, read_text

HEADER = (
    "# Schema of {name}_config.toml: type, limits, default and help of every key.\n"
    "# Generated from the pydantic models by `llamahome config schema --write`; do not edit.\n"
    "# A schema file here with no model behind it (e.g. my_config.toml) defines a new\n"
    "# component: its keys are validated and the app gives it a form.\n"
)
_TYPES: dict[str, Any] = {"str": str, "int": int, "float": float, "bool": bool}
_FORMATS = {"size": builtin._check_size, "device": builtin._check_device}
_EXTRA_KEYS = ("unit", "widget", "path_kind", "informational", "advanced",
               "placeholder")
_NUMBER_KEYS = ("min", "max", "exclusive_min", "exclusive_max")
_COUNT_KEYS = ("min_items", "max_items")
_SPEC_KEYS = {"type", "items", "choices", "min", "max", "exclusive_min", "exclusive_max",
              "min_items", "max_items", "default", "description", "title", "format",
              "allow_single", *_EXTRA_KEYS}


class SchemaFileError(ConfigError):
    """A schema file that cannot become a model."""


# ------------------------------------------------------------------------ writing

def field_spec(info: FieldInfo) -> dict[str, Any]:
    """One field as the inline table written in a schema file."""
    spec: dict[str, Any] = {"type": type_name(info)}
    annotation = info.annotation
    if typing.get_origin(annotation) is Literal:
        spec["choices"] = list(typing.get_args(annotation))
    if spec["type"] == "list":
        (item,) = typing.get_args(annotation) or (str,)
        if typing.get_origin(item) is Literal:
            spec["items"] = type(typing.get_args(item)[0]).__name__
            spec["choices"] = list(typing.get_args(item))
        else:
            spec["items"] = getattr(item, "__name__", "str")
    for meta in info.metadata:
        for kind, key, attr in ((at.Ge, "min", "ge"), (at.Le, "max", "le"),
                                (at.Gt, "exclusive_min", "gt"), (at.Lt, "exclusive_max", "lt"),
                                (at.MinLen, "min_items", "min_length"),
                                (at.MaxLen, "max_items", "max_length")):
            if isinstance(meta, kind):
                spec[key] = getattr(meta, attr)
        func = getattr(meta, "func", None)
        for name, check in _FORMATS.items():
            if func is check:
                spec["format"] = name
        if func is builtin._one_or_many:
            spec["allow_single"] = True
    default = default_of(info)
    if default is not None:
        spec["default"] = default
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    spec.update({k: extra[k] for k in _EXTRA_KEYS if k in extra})
    if info.title:
        spec["title"] = info.title
    spec["description"] = info.description or ""
    return spec


def schema_text(name: str, model: type[builtin.Component]) -> str:
    """The whole schema file of one component."""
    lines = [*HEADER.format(name=name).splitlines(), ""]
    for field_name, info in model.model_fields.items():
        if not is_model(info.annotation):
            lines.append(f"{field_name} = {_inline(field_spec(info))}")
    for field_name, info in model.model_fields.items():
        if is_model(info.annotation):
            lines += ["", f"[{field_name}]"]
            if info.description:
                lines.append(f"_description = {tomlkit.item(info.description).as_string()}")
            for key, sub in info.annotation.model_fields.items():
                lines.append(f"{key} = {_inline(field_spec(sub))}")
    return "\n".join(lines) + "\n"


def _inline(spec: dict[str, Any]) -> str:
    body = ", ".join(f"{k} = {tomlkit.item(v).as_string()}" for k, v in spec.items())
    return f"{{ {body} }}"


def write_schemas(folder: Path, models: dict[str, type[builtin.Component]]) -> list[Path]:
    """Write every built-in component's schema file; return the files that changed."""
    changed = []
    folder.mkdir(parents=True, exist_ok=True)
    for name, model in models.items():
        path = folder / f"{name}_config.toml"
        text = schema_text(name, model)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write(path, text)
            changed.append(path)
    return changed


# ------------------------------------------------------------------------ reading

def model_from_schema(path: Path, name: str | None = None) -> type[builtin.Component]:
    """A pydantic model built from a schema file (raises :class:`SchemaFileError`)."""
    name = name or path.name.removesuffix(".toml").removesuffix("_config")
    text = read_text(path).text
    doc = parse(text, path).unwrap()
    where = display_path(path)
    issues: list[Issue] = []
    fields: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "schema_version":
            continue
        bad_name = _bad_name(key)
        if bad_name:
            issues.append(_issue(text, where, [key], bad_name))
        elif _is_spec(value):
            fields[key] = _field(value, [key], text, where, issues)
        elif isinstance(value, dict):
            fields[key] = _section(name, key, value, text, where, issues)
        else:
            issues.append(_issue(text, where, [key], "expected a [section] table or a key spec "
                                 "like { type = \"int\", default = 1, description = \"...\" }"))
    if issues:
        raise SchemaFileError(issues)
    try:
        return create_model(f"{_camel(name)}Config", __base__=builtin.Component, **fields)
    except Exception as exc:  # noqa: BLE001 - whatever pydantic refuses, say where
        raise SchemaFileError([Issue(f"cannot be used as a schema: {_first_line(exc)}",
                                     file=where)]) from None


def _bad_name(key: str) -> str:
    """Why a key cannot be a config key name ("" when it can)."""
    if not key.isidentifier():
        return "a key name must be letters, digits and _ (not starting with a digit)"
    if key.startswith("_"):
        return "names starting with _ are reserved (only _description, inside a [section])"
    if key.startswith("model_") or hasattr(builtin.Section, key):
        return f"the name {key} is reserved by the config validator; rename the key"
    return ""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _is_spec(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str)


def _section(component: str, key: str, body: dict[str, Any], text: str, where: str,
             issues: list[Issue]) -> Any:
    fields: dict[str, Any] = {}
    for sub, spec in body.items():
        if sub == "_description":
            continue
        bad_name = _bad_name(sub)
        if bad_name:
            issues.append(_issue(text, where, [key, sub], bad_name))
            continue
        if not _is_spec(spec):
            issues.append(_issue(text, where, [key, sub], "expected a key spec like "
                                 "{ type = \"float\", min = 0.0, default = 1.0, description = \"...\" }"))
            continue
        fields[sub] = _field(spec, [key, sub], text, where, issues)
    try:
        model = create_model(f"{_camel(component)}{_camel(key)}Section",
                             __base__=builtin.Section, **fields)
    except Exception as exc:  # noqa: BLE001 - whatever pydantic refuses, say where
        issues.append(_issue(text, where, [key], f"cannot be used as a section: "
                             f"{_first_line(exc)}"))
        return (Any, Field(None))
    required = any(info.is_required() for info in model.model_fields.values())
    description = str(body.get("_description", ""))
    if required:
        return (model, Field(..., description=description))
    return (model, Field(default_factory=model, description=description))


def _field(spec: dict[str, Any], parts: list[str], text: str, where: str,
           issues: list[Issue]) -> Any:
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        issues.append(_issue(text, where, parts, f"unknown spec key(s) {', '.join(unknown)}; "
                             f"allowed: {', '.join(sorted(_SPEC_KEYS))}"))
    for name in _NUMBER_KEYS:
        if name in spec and (isinstance(spec[name], bool)
                             or not isinstance(spec[name], int | float)):
            issues.append(_issue(text, where, parts, f"{name} = {spec[name]!r}: must be a "
                                 "number, e.g. min = 0"))
            return (Any, Field(spec.get("default")))
    for name in _COUNT_KEYS:
        if name in spec and (isinstance(spec[name], bool) or not isinstance(spec[name], int)
                             or spec[name] < 0):
            issues.append(_issue(text, where, parts, f"{name} = {spec[name]!r}: must be a "
                                 "whole number >= 0"))
            return (Any, Field(spec.get("default")))
    if "choices" in spec and (not isinstance(spec["choices"], list) or not spec["choices"]):
        issues.append(_issue(text, where, parts, "choices must be a non-empty list, e.g. "
                             "choices = [\"a\", \"b\"]"))
        return (Any, Field(spec.get("default")))
    kind = spec["type"]
    if kind not in (*_TYPES, "list"):
        issues.append(_issue(text, where, parts, f"type = {kind!r}: use str, int, float, bool "
                             "or list"))
        return (Any, Field(spec.get("default")))
    if kind == "list":
        item = _TYPES.get(str(spec.get("items", "str")), str)
        if spec.get("choices"):
            item = Literal[tuple(spec["choices"])]  # type: ignore[misc]
        annotation: Any = list[item]
        if spec.get("allow_single"):
            annotation = Annotated[annotation, BeforeValidator(builtin._one_or_many)]
    else:
        annotation = _TYPES[kind]
        if spec.get("choices"):
            annotation = Literal[tuple(spec["choices"])]  # type: ignore[misc]
        check = _FORMATS.get(str(spec.get("format", "")))
        if check is not None:
            annotation = Annotated[annotation, AfterValidator(check)]
    extra = {k: spec[k] for k in _EXTRA_KEYS if k in spec}
    kwargs: dict[str, Any] = dict(
        description=str(spec.get("description", "")), title=spec.get("title"),
        ge=spec.get("min"), le=spec.get("max"), gt=spec.get("exclusive_min"),
        lt=spec.get("exclusive_max"), min_length=spec.get("min_items"),
        max_length=spec.get("max_items"), json_schema_extra=extra or None)
    default = spec.get("default", ...)
    info = Field(default, **{k: v for k, v in kwargs.items() if v is not None})
    try:
        checker = TypeAdapter(Annotated[annotation, info])
        if default is not ...:
            checker.validate_python(default)
    except ValidationError as exc:
        issues.append(_issue(text, where, parts,
                             f"default = {default!r} {rule_text(exc.errors()[0])}"))
    except Exception as exc:  # noqa: BLE001 - a spec pydantic cannot build a check from
        issues.append(_issue(text, where, parts, f"not a usable key spec: {_first_line(exc)}"))
        return (Any, Field(None))
    return (annotation, info)


def _issue(text: str, where: str, parts: list[str], message: str) -> Issue:
    pos = locate(text, parts)
    return Issue(message, key_path=".".join(parts), file=where,
                 line=pos[0] if pos else None, column=pos[1] if pos else None)


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.replace("-", "_").split("_") if p)
