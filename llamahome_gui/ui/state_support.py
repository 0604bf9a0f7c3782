"""Schema facts and config-file helpers behind ConfigState (no widgets here).

``leaf_fields`` walks a component model into flat ``section.key`` field specs (the form
generator and the state both read them); the rest adapts the ConfigManager's files:
raw values of a file that does not validate, which environment variables override which
field, and the diff a save would produce.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import annotated_types as at
import tomlkit
from pydantic import BaseModel
from pydantic.fields import FieldInfo


@dataclass
class FieldSpec:
    """One editable leaf field of a component, as the schema describes it."""

    key: str                      # "section.key" inside the component
    name: str                     # last part of the key
    annotation: Any
    info: FieldInfo
    default: Any
    section: str                  # "section" (dotted for deeper nesting); "" = top level
    extra: dict[str, Any] = field(default_factory=dict)
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
    def lower(self) -> float | None:
        return self.ge if self.ge is not None else self.gt

    @property
    def upper(self) -> float | None:
        return self.le if self.le is not None else self.lt


@dataclass
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


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _default(info: FieldInfo) -> Any:
    try:
        return info.get_default(call_default_factory=True)
    except TypeError:  # a factory that wants validated data
        return None


def leaf_fields(model: type[BaseModel], hidden: frozenset[str] = frozenset(),
                prefix: str = "") -> dict[str, FieldSpec]:
    """Every leaf field of ``model`` keyed by its dotted path, in schema order."""
    out: dict[str, FieldSpec] = {}
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        if not prefix and name in hidden:
            continue
        if _is_model(info.annotation):
            out.update(leaf_fields(info.annotation, hidden, f"{key}."))
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        spec = FieldSpec(key=key, name=name, annotation=info.annotation, info=info,
                         default=_default(info), section=prefix.rstrip("."), extra=dict(extra))
        for meta in info.metadata:
            if isinstance(meta, at.Ge):
                spec.ge = meta.ge
            elif isinstance(meta, at.Gt):
                spec.gt = meta.gt
            elif isinstance(meta, at.Le):
                spec.le = meta.le
            elif isinstance(meta, at.Lt):
                spec.lt = meta.lt
            elif isinstance(meta, at.MinLen):
                spec.min_length = meta.min_length
            elif isinstance(meta, at.Interval):
                spec.ge, spec.gt, spec.le, spec.lt = meta.ge, meta.gt, meta.le, meta.lt
        out[key] = spec
    return out


def section_specs(model: type[BaseModel], prefix: str = "") -> dict[str, SectionSpec]:
    """Titles and descriptions of the (nested) sections of a component model."""
    out: dict[str, SectionSpec] = {}
    for name, info in model.model_fields.items():
        if _is_model(info.annotation):
            path = f"{prefix}{name}"
            out[path] = SectionSpec(path, info.title or humanize(name), info.description or "")
            out.update(section_specs(info.annotation, f"{path}."))
    return out


def flat_values(instance: BaseModel, fields: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """``{section.key: value}`` of a validated component, for the given leaf fields."""
    data = instance.model_dump(mode="python")
    return {k: v for k in fields if (v := _walk(data, k)) is not _NOTHING}


def read_raw_values(config: Any, component: str, fields: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """The file's values as written (for a file that does not validate)."""
    data = config.read_document(component).unwrap()
    return {k: v for k in fields if (v := _walk(data, k)) is not _NOTHING}


_NOTHING = object()


def _walk(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return _NOTHING
        data = data[part]
    return data


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


def env_sources(config: Any, component: str, fields: Mapping[str, FieldSpec],
                environ: Mapping[str, str]) -> dict[str, str]:
    """``{section.key: VARIABLE}`` for the fields the environment overrides.

    Uses the manager's own answer when it offers one; otherwise recognises the explicit
    ``LLAMAHOME__<COMPONENT>__<SECTION>__<KEY>`` form.
    """
    for api in ("env_overrides", "env_sources"):
        method = getattr(config, api, None)
        if callable(method):
            try:
                found = method(component, env=environ)
            except TypeError:
                found = method(component)
            return {_strip_component(component, k): str(v) for k, v in dict(found).items()
                    if _strip_component(component, k) in fields}
    prefix = f"LLAMAHOME__{component.upper()}__"
    out: dict[str, str] = {}
    for var in environ:
        if var.startswith(prefix):
            key = var[len(prefix):].lower().replace("__", ".")
            if key in fields:
                out[key] = var
    return out


def _strip_component(component: str, key: str) -> str:
    return key[len(component) + 1:] if key.startswith(f"{component}.") else key


def preview_diff(config: Any, component: str, changes: Mapping[str, Any]) -> str:
    """The unified diff a save of ``changes`` ({section.key: value}) would make.

    The manager's own preview is used when it has one (it renders exactly what it writes).
    """
    own = getattr(config, "preview_diff", None)
    if callable(own):
        return own(component, dict(changes))
    path = config.path(component)
    try:
        old_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old_text = ""
    doc = tomlkit.parse(old_text)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node: Any = doc
        for part in parents:
            if part not in node:
                node[part] = tomlkit.table()
            node = node[part]
        node[leaf] = value
    new_text = tomlkit.dumps(doc)
    name = path.name
    return "".join(difflib.unified_diff(
        old_text.splitlines(keepends=True), new_text.splitlines(keepends=True),
        fromfile=f"a/{name}", tofile=f"b/{name}", n=1))


def rule_message(error: Mapping[str, Any]) -> str:
    """A pydantic error as the rule broken (``must be <= 1.0``), worded like the CLI's."""
    try:
        from llamahome_gui.config.errors import rule_text
    except ImportError:
        return str(error.get("msg", "")).removeprefix("Value error, ")
    return rule_text(dict(error))
