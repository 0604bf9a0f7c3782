"""Scalar editors: check box, spin boxes (plain and scientific), combo box, line edits.

Each editor IS the Qt widget a user sees (``findChild(QSpinBox, "training.lora.r")`` works)
and follows the editor protocol of :mod:`registry`. Limits come from the schema exactly:
``ge``/``le`` become minimum/maximum (``gt``/``lt`` on integers become +-1; on floats the
bound itself, with validation flagging the bound value).
"""

from __future__ import annotations

import math
import re
from typing import Any

import tomlkit
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QValidator, QWheelEvent
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from llamahome_gui.config.introspect import FieldSpec
from llamahome_gui.ui.forms.registry import choices_of, register_widget

INT32 = 2**31 - 1
_ZERO_MEANS = re.compile(r"(?:^|[;.(]\s*|,\s*)0 = ([^;.)]+)")


class _NoWheelUnlessFocused:
    """Scrolling a long form must not change the value under the mouse."""

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt API
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()


def _zero_meaning(spec: FieldSpec) -> str:
    match = _ZERO_MEANS.search(spec.description)
    return match.group(1).strip() if match else ""


def _int_limits(spec: FieldSpec) -> tuple[int, int]:
    low = spec.ge if spec.ge is not None else (spec.gt + 1 if spec.gt is not None else -INT32 - 1)
    high = spec.le if spec.le is not None else (spec.lt - 1 if spec.lt is not None else INT32)
    return int(math.ceil(low)), int(math.floor(high))


def _float_limits(spec: FieldSpec) -> tuple[float, float]:
    low = spec.lower if spec.lower is not None else -1e15
    high = spec.upper if spec.upper is not None else 1e15
    return float(low), float(high)


def _trim(text: str) -> str:
    if "." in text and "e" not in text:
        text = text.rstrip("0")
        return text + "0" if text.endswith(".") else text
    return text


@register_widget("check")
class CheckEditor(QCheckBox):
    field_edited = pyqtSignal(object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggled.connect(lambda on: self.field_edited.emit(bool(on)))

    def field_value(self) -> bool:
        return self.isChecked()

    def set_field_value(self, value: Any) -> None:
        self.blockSignals(True)
        self.setChecked(bool(value))
        self.blockSignals(False)

    def set_field_read_only(self, read_only: bool) -> None:
        self.setEnabled(not read_only)


@register_widget("int")
def int_editor(spec: FieldSpec, parent: QWidget | None = None) -> QWidget:
    low, high = _int_limits(spec)
    if low < -INT32 - 1 or high > INT32:
        return BigIntEditor(spec, parent)
    return IntEditor(spec, parent)


class IntEditor(_NoWheelUnlessFocused, QSpinBox):
    field_edited = pyqtSignal(object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(*_int_limits(spec))
        self.setAccelerated(True)
        if spec.unit:
            self.setSuffix(f" {spec.unit}")
        meaning = _zero_meaning(spec)
        if meaning and self.minimum() == 0:
            self.setSpecialValueText(f"0 ({meaning})")
        self.valueChanged.connect(lambda v: self.field_edited.emit(int(v)))

    def field_value(self) -> int:
        return int(self.value())

    def set_field_value(self, value: Any) -> None:
        self.blockSignals(True)
        try:
            self.setValue(int(value))
        except (TypeError, ValueError):
            pass
        self.blockSignals(False)

    def set_field_read_only(self, read_only: bool) -> None:
        self.setReadOnly(read_only)
        self.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.NoButtons if read_only
                              else QAbstractSpinBox.ButtonSymbols.UpDownArrows)


class BigIntEditor(_NoWheelUnlessFocused, QDoubleSpinBox):
    """Integers beyond 32 bits (e.g. a 0..2**32-1 seed) in a spin box with 0 decimals."""

    field_edited = pyqtSignal(object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(0)
        self.setRange(*[float(x) for x in _int_limits(spec)])
        self.valueChanged.connect(lambda v: self.field_edited.emit(int(round(v))))

    def field_value(self) -> int:
        return int(round(self.value()))

    set_field_value = IntEditor.set_field_value
    set_field_read_only = IntEditor.set_field_read_only


@register_widget("float")
class FloatEditor(_NoWheelUnlessFocused, QDoubleSpinBox):
    field_edited = pyqtSignal(object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        low, high = _float_limits(spec)
        self.setDecimals(4)
        self.setRange(low, high)
        span = high - low
        self.setSingleStep(0.01 if span <= 2 else 0.1 if span <= 20 else 1.0)
        if spec.unit:
            self.setSuffix(f" {spec.unit}")
        meaning = _zero_meaning(spec)
        if meaning and low == 0:
            self.setSpecialValueText(f"0 ({meaning})")
        self.valueChanged.connect(lambda v: self.field_edited.emit(float(v)))

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt API
        return _trim(f"{value:.{self.decimals()}f}")

    def field_value(self) -> float:
        return float(self.value())

    def set_field_value(self, value: Any) -> None:
        self.blockSignals(True)
        try:
            self.setValue(float(value))
        except (TypeError, ValueError):
            pass
        self.blockSignals(False)

    set_field_read_only = IntEditor.set_field_read_only


def format_scientific(value: float) -> str:
    """``0.0002`` -> ``2e-4``; plain notation between 0.01 and 10000."""
    if value == 0:
        return "0"
    if 1e-2 <= abs(value) < 1e4:
        return _trim(f"{value:.6f}")
    mantissa, exponent = f"{value:.4e}".split("e")
    return f"{_trim(mantissa).removesuffix('.0')}e{int(exponent)}"


@register_widget("scientific")
class ScientificEditor(FloatEditor):
    """Learning rates: shown as ``2e-4``; arrows step 1-2-5 per decade (1e-4, 2e-4, 5e-4)."""

    _STEPS = (1.0, 2.0, 5.0)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.setDecimals(12)
        self.setSpecialValueText("")

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt API
        return format_scientific(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt API
        try:
            return float(text.strip().removesuffix(self.suffix().strip()))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        body = text.strip()
        if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", body):
            value = float(body)
            if self.minimum() <= value <= self.maximum():
                return QValidator.State.Acceptable, text, pos
        if re.fullmatch(r"[-+]?\d*\.?\d*([eE][-+]?\d*)?", body):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt API
        value = self.value()
        if value <= 0:
            value = max(self.minimum(), 1e-6) if steps > 0 else value
        grid = [m * 10.0**e for e in range(-12, 4) for m in self._STEPS]
        for _ in range(abs(steps)):
            if steps > 0:
                value = next((g for g in grid if g > value * (1 + 1e-9)), value)
            else:
                value = next((g for g in reversed(grid) if g < value * (1 - 1e-9)), value)
        self.setValue(min(max(value, self.minimum()), self.maximum()))


@register_widget("choice")
class ChoiceEditor(_NoWheelUnlessFocused, QComboBox):
    field_edited = pyqtSignal(object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._choices = choices_of(spec.annotation) or []
        for choice in self._choices:
            self.addItem(str(getattr(choice, "value", choice)), choice)
        self.currentIndexChanged.connect(
            lambda i: self.field_edited.emit(self._choices[i]) if i >= 0 else None)

    def field_value(self) -> Any:
        return self.currentData()

    def set_field_value(self, value: Any) -> None:
        self.blockSignals(True)
        index = next((i for i, c in enumerate(self._choices)
                      if c == value or getattr(c, "value", c) == value), -1)
        if index < 0 and value is not None:  # a value outside the choices (invalid file)
            self.addItem(f"{value} (not a valid choice)", value)
            self._choices.append(value)
            index = len(self._choices) - 1
        self.setCurrentIndex(index)
        self.blockSignals(False)

    def set_field_read_only(self, read_only: bool) -> None:
        self.setEnabled(not read_only)


@register_widget("line")
class LineEditor(QLineEdit):
    field_edited = pyqtSignal(object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        match = re.search(r"[Ee]mpty\s*=\s*([^;.]+)", spec.description)
        if spec.extra.get("placeholder"):  # the schema's short form, for narrow fields
            self.setPlaceholderText(str(spec.extra["placeholder"]))
        elif match:
            self.setPlaceholderText(f"empty = {match.group(1).strip()}")
        if self.placeholderText():  # never cut: the placeholder is all an empty field says
            self.setMinimumWidth(self.fontMetrics().horizontalAdvance(self.placeholderText()) + 36)
        self.setClearButtonEnabled(True)
        self.textChanged.connect(lambda t: self.field_edited.emit(self.parse(t)))

    def parse(self, text: str) -> Any:
        return text

    def show_value(self, value: Any) -> str:
        return "" if value is None else str(value)

    def field_value(self) -> Any:
        return self.parse(self.text())

    def set_field_value(self, value: Any) -> None:
        self.blockSignals(True)
        self.setText(self.show_value(value))
        self.blockSignals(False)

    def set_field_read_only(self, read_only: bool) -> None:
        self.setReadOnly(read_only)
        self.setClearButtonEnabled(not read_only)


@register_widget("size")
class SizeEditor(LineEditor):
    """A size such as ``12GB`` or ``512MiB``; the schema's validator judges the text."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        if not self.placeholderText():
            self.setPlaceholderText("e.g. 12GB, 512MiB")


@register_widget("toml")
class TomlValueEditor(LineEditor):
    """Any other type, written as a TOML value (``[1, 2]``, ``true``, ``"text"``)."""

    def parse(self, text: str) -> Any:
        try:
            return tomlkit.parse(f"v = {text}")["v"].unwrap()
        except Exception:
            return text

    def show_value(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        try:
            return tomlkit.dumps({"v": value}).strip()[4:]
        except Exception:
            return str(value)


@register_widget("numberlist")
class NumberListEditor(LineEditor):
    """Numbers separated by commas (``0, 1, 3``); empty = an empty list."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.setPlaceholderText("comma-separated, e.g. 0, 1 (empty = all)")

    def parse(self, text: str) -> Any:
        parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
        try:
            return [int(p) if re.fullmatch(r"[-+]?\d+", p) else float(p) for p in parts]
        except ValueError:
            return text

    def show_value(self, value: Any) -> str:
        return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


@register_widget("text")
class MultilineEditor(QPlainTextEdit):
    """Several lines of text (system prompts)."""

    field_edited = pyqtSignal(object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)
        line = self.fontMetrics().lineSpacing()
        self.setFixedHeight(line * 4 + 14)
        self.textChanged.connect(lambda: self.field_edited.emit(self.toPlainText()))

    def field_value(self) -> str:
        return self.toPlainText()

    def set_field_value(self, value: Any) -> None:
        self.blockSignals(True)
        self.setPlainText("" if value is None else str(value))
        self.blockSignals(False)

    def set_field_read_only(self, read_only: bool) -> None:
        self.setReadOnly(read_only)
