"""Questions asked of the schema: which keys exist, their types, limits, defaults and help
text (``FieldSpec``), and how a typed value (from the command line or the environment)
becomes the field's type. The one owner of the leaf walk: the manager, the CLI and the
forms all read the schema through here."""

from __future__ import annotations

import difflib
import functools
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import annotated_types as at
import tomlkit
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo


def is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


@dataclass(frozen=True)
class FieldSpec:
    """One leaf field of a component, as the schema describes it."""

    key: str                      # "section.key" inside the component
    name: str                     # last part of the key
    annotation: Any
    info: FieldInfo
    default: Any
    section: str                  # "section" (dotted for deeper nesting); "" = top level
    extra: Mapping[str, Any] = field(default_factory=dict)
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_length: int | None = None

    @property
    def title(self) -> str:
        return self.info.title or humanize(self.name)

    @property
    def description(self) -> str:
        return self.info.description or ""

    @property
    def unit(self) -> str:
        return str(self.extra.get("unit", ""))

    @property
    def advanced(self) -> bool:
        """A setting a first run can leave alone: forms fold it away (the schema says which)."""
        return bool(self.extra.get("advanced", False))

    @property
    def informational(self) -> bool:
        """Describes something for the reader; no code acts on it (the form says so)."""
        return bool(self.extra.get("informational", False))

    @property
    def lower(self) -> float | None:
        return self.ge if self.ge is not None else self.gt

    @property
    def upper(self) -> float | None:
        return self.le if self.le is not None else self.lt


@dataclass(frozen=True)
class SectionSpec:
    path: str
    title: str
    description: str


_ACRONYMS = {"lr": "LR", "gpu": "GPU", "cpu": "CPU", "tf32": "TF32", "lora": "LoRA", "id": "ID",
             "url": "URL", "ram": "RAM", "cuda": "CUDA", "temp": "temperature"}


def humanize(name: str) -> str:
    """``per_device_train_batch_size`` -> ``Per device train batch size``."""
    words = [_ACRONYMS.get(w.lower(), w) for w in re.split(r"[_\s]+", name) if w]
    if not words:
        return name
    first = words[0]
    words[0] = first if first.isupper() or first[:1].isupper() else first[:1].upper() + first[1:]
    return " ".join(words)


def _spec(key: str, name: str, info: FieldInfo, section: str) -> FieldSpec:
    bounds: dict[str, Any] = {}
    for meta in info.metadata:
        if isinstance(meta, at.Interval):
            bounds.update(ge=meta.ge, gt=meta.gt, le=meta.le, lt=meta.lt)
        elif isinstance(meta, at.Ge | at.Gt | at.Le | at.Lt):
            attr = type(meta).__name__.lower()
            bounds[attr] = getattr(meta, attr)
        elif isinstance(meta, at.MinLen):
            bounds["min_length"] = meta.min_length
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return FieldSpec(key=key, name=name, annotation=info.annotation, info=info,
                     default=default_of(info), section=section, extra=dict(extra), **bounds)


@functools.cache
def _walk_specs(model: type[BaseModel], prefix: str = "") -> tuple[tuple[str, FieldSpec], ...]:
    out: list[tuple[str, FieldSpec]] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        if is_model(info.annotation):
            out += _walk_specs(info.annotation, f"{key}.")
        else:
            out.append((key, _spec(key, name, info, prefix.rstrip("."))))
    return tuple(out)


def leaf_fields(model: type[BaseModel], hidden: frozenset[str] = frozenset()
                ) -> dict[str, FieldSpec]:
    """Every leaf field keyed by its dotted path inside the component, in schema order
    (computed once per model class); ``hidden``: top-level names to leave out."""
    return {k: s for k, s in _walk_specs(model) if k.split(".", 1)[0] not in hidden}


def leaves(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """``{dotted key: FieldInfo}`` of every leaf field, in schema order."""
    return {k: s.info for k, s in _walk_specs(model)}


def section_specs(model: type[BaseModel], prefix: str = "") -> dict[str, SectionSpec]:
    """Titles and descriptions of the (nested) sections of a component model."""
    out: dict[str, SectionSpec] = {}
    for name, info in model.model_fields.items():
        if is_model(info.annotation):
            path = f"{prefix}{name}"
            out[path] = SectionSpec(path, info.title or humanize(name), info.description or "")
            out.update(section_specs(info.annotation, f"{path}."))
    return out


_NOTHING = object()


def value_at(data: Any, dotted: str, default: Any = _NOTHING) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return default
        data = data[part]
    return data


def flat_values(data: Mapping[str, Any] | BaseModel, keys: typing.Iterable[str]
                ) -> dict[str, Any]:
    """``{section.key: value}`` of nested ``data`` (a dict or a validated component) for
    the given leaf keys; keys the data lacks are left out."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="python")
    return {k: v for k in keys if (v := value_at(data, k)) is not _NOTHING}


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def default_of(info: FieldInfo) -> Any:
    return info.get_default(call_default_factory=True)


_ADAPTERS: dict[int, tuple[FieldInfo, TypeAdapter]] = {}


def adapter(info: FieldInfo) -> TypeAdapter:
    """A validator for one field alone (type, bounds and custom checks)."""
    hit = _ADAPTERS.get(id(info))
    if hit is None or hit[0] is not info:
        annotation = Annotated[info.annotation, *info.metadata] if info.metadata \
            else info.annotation
        hit = _ADAPTERS[id(info)] = (info, TypeAdapter(annotation))
    return hit[1]


def _base_types(annotation: Any) -> set[Any]:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _base_types(typing.get_args(annotation)[0])
    if origin is Literal:
        return {type(a) for a in typing.get_args(annotation)}
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_base_types(a) for a in typing.get_args(annotation)))
    if origin is not None:
        return {origin}
    return {annotation}


def is_text(info: FieldInfo) -> bool:
    """A string field (plain, size, device or a choice of strings)."""
    return _base_types(info.annotation) <= {str, type(None)}


def is_list(info: FieldInfo) -> bool:
    return bool(_base_types(info.annotation) & {list, tuple})


def is_bool(info: FieldInfo) -> bool:
    return _base_types(info.annotation) == {bool}


def parse_toml_value(raw: str) -> tuple[bool, Any]:
    """``(True, value)`` when ``raw`` is a TOML value (``32``, ``0.5``, ``[1, 2]``)."""
    try:
        return True, tomlkit.parse(f"v = {raw}\n")["v"].unwrap()
    except Exception:
        return False, raw


def parse_typed(raw: str, info: FieldInfo | None) -> Any:
    """A value typed by a person (CLI argument), read as TOML, else as a plain string.

    A string field always gets the text itself, so ``set model.name 123`` stores "123"."""
    if info is not None and is_text(info):
        ok, value = parse_toml_value(raw)
        return value if ok and isinstance(value, str) else raw
    return parse_toml_value(raw)[1]


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_env(raw: str, info: FieldInfo) -> Any:
    """An environment value parsed to the field's type: words for booleans, and lists
    either as TOML (``["q_proj","v_proj"]``) or comma-separated (``q_proj,v_proj``)."""
    text = raw.strip()
    if is_bool(info) and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    if is_list(info) and not text.startswith("["):
        items = [part.strip() for part in text.split(",") if part.strip()]
        return [parse_typed(item, None) if not _list_of_text(info) else item for item in items]
    return parse_typed(raw, info)


def _list_of_text(info: FieldInfo) -> bool:
    args = typing.get_args(info.annotation)
    return bool(args) and _base_types(args[0]) <= {str}


def type_name(info: FieldInfo) -> str:
    """Short type name used in messages and schema files."""
    base = _base_types(info.annotation) - {type(None)}
    if base <= {bool}:
        return "bool"
    if base <= {int}:
        return "int"
    if base <= {int, float}:
        return "float"
    if base <= {str}:
        return "str"
    if base & {list, tuple}:
        return "list"
    return "any"


def suggest(name: str, candidates: typing.Iterable[str]) -> str:
    """`` (did you mean x?)`` for a likely typo, else ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""
