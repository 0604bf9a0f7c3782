"""Questions asked of the schema: which keys exist, their types, defaults and how a typed
value (from the command line or the environment) becomes the field's type."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Any, Literal

import tomlkit
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo


def is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def leaves(model: type[BaseModel], prefix: str = "") -> dict[str, FieldInfo]:
    """Every leaf field keyed by its dotted path inside the component, in schema order."""
    out: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        if is_model(info.annotation):
            out.update(leaves(info.annotation, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = info
    return out


def sections(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    return {n: i.annotation for n, i in model.model_fields.items() if is_model(i.annotation)}


def field_at(model: type[BaseModel], dotted: str) -> FieldInfo | None:
    return leaves(model).get(dotted)


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
