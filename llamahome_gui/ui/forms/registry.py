"""The type -> editor registry: which widget edits which schema field.

Lookup order for a field (first match wins):

1. ``json_schema_extra={"widget": NAME}`` on the field -> the editor registered under NAME;
2. types registered with :func:`register_type` (by subclass; the latest registration first);
3. ``Literal`` / ``Enum`` -> ``"choice"``; a list of ``Literal`` choices -> ``"checklist"``;
   ``list[str]`` -> ``"strlist"``; ``list[int | float]`` -> ``"numberlist"``;
4. the built-in types: bool -> ``"check"``, int -> ``"int"``, float -> ``"float"``,
   str -> ``"line"``, ``pathlib.Path`` -> ``"path"``;
5. anything else -> ``"toml"`` (a line edit reading a TOML value).

An editor factory is ``factory(spec: FieldSpec, parent: QWidget | None) -> QWidget``; the
widget it returns has the editor protocol: a ``field_edited(object)`` signal emitted on user
edits only, ``field_value()``, ``set_field_value(value)`` (never emits) and
``set_field_read_only(bool)``.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from PyQt6.QtWidgets import QWidget

from llamahome_gui.config.introspect import FieldSpec

EditorFactory = Callable[[FieldSpec, "QWidget | None"], QWidget]


def _unwrap_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def choices_of(annotation: Any) -> list[Any] | None:
    """The fixed choices of a ``Literal`` or ``Enum`` annotation, else None."""
    annotation = _unwrap_optional(annotation)
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return list(annotation)
    return None


def list_item_type(annotation: Any) -> Any | None:
    """``X`` for ``list[X]`` / ``tuple[X, ...]`` / ``set[X]``, else None."""
    annotation = _unwrap_optional(annotation)
    if typing.get_origin(annotation) in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return args[0] if args else Any
    return None


class EditorRegistry:
    """Maps field types and widget names to editor factories."""

    def __init__(self) -> None:
        self._named: dict[str, EditorFactory] = {}
        self._types: list[tuple[type, EditorFactory]] = []
        self._builtin_types: list[tuple[type, str]] = [
            (bool, "check"), (int, "int"), (float, "float"), (Path, "path"), (str, "line")]

    # -- registration -------------------------------------------------------------------
    def register_widget(self, name: str, factory: EditorFactory | None = None):
        """Register an editor under a widget name (usable as a decorator)."""
        def add(f: EditorFactory) -> EditorFactory:
            self._named[name] = f
            return f
        return add if factory is None else add(factory)

    def register_type(self, tp: type, factory: EditorFactory | str | None = None):
        """Edit fields of type ``tp`` (or a subclass) with ``factory`` (or a widget name)."""
        def add(f: EditorFactory | str) -> EditorFactory | str:
            resolved = (lambda spec, parent, _n=f: self._named[_n](spec, parent)) \
                if isinstance(f, str) else f
            self._types.insert(0, (tp, resolved))
            return f
        return add if factory is None else add(factory)

    @contextmanager
    def restored(self) -> Iterator[EditorRegistry]:
        """Undo every registration made inside the block (tests use it)."""
        named, types_ = dict(self._named), list(self._types)
        try:
            yield self
        finally:
            self._named, self._types = named, types_

    # -- lookup ---------------------------------------------------------------------------
    def widget_name(self, spec: FieldSpec) -> str | None:
        """The built-in widget name chosen for a field (None: a registered type decides)."""
        override = spec.extra.get("widget")
        if isinstance(override, str):
            if override not in self._named:
                raise KeyError(f"{spec.key}: no editor named {override!r} "
                               f"(known: {', '.join(sorted(self._named))})")
            return override
        annotation = _unwrap_optional(spec.annotation)
        if self._registered_type(annotation) is not None:
            return None
        if choices_of(annotation) is not None:
            return "choice"
        item = list_item_type(annotation)
        if item is not None:
            if choices_of(item) is not None:
                return "checklist"
            if item in (int, float):
                return "numberlist"
            return "strlist" if item is str else "toml"
        for tp, name in self._builtin_types:
            if isinstance(annotation, type) and issubclass(annotation, tp):
                return name
        return "toml"

    def _registered_type(self, annotation: Any) -> EditorFactory | None:
        if not isinstance(annotation, type):
            return None
        for tp, factory in self._types:
            if issubclass(annotation, tp):
                return factory
        return None

    def factory_for(self, spec: FieldSpec) -> EditorFactory:
        name = self.widget_name(spec)
        if name is None:
            factory = self._registered_type(_unwrap_optional(spec.annotation))
            assert factory is not None
            return factory
        return self._named[name]

    def create(self, spec: FieldSpec, parent: QWidget | None = None) -> QWidget:
        return self.factory_for(spec)(spec, parent)


REGISTRY = EditorRegistry()
register_widget = REGISTRY.register_widget
register_type = REGISTRY.register_type
