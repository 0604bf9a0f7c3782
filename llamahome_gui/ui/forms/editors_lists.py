"""Composite editors: paths with Browse, editable string lists, checkable fixed choices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.config.introspect import FieldSpec
from llamahome_gui.ui.forms.editors import LineEditor
from llamahome_gui.ui.forms.registry import choices_of, list_item_type, register_widget


@register_widget("path")
class PathEditor(QWidget):
    """A line edit for a file or folder path, with a Browse button.

    ``json_schema_extra={"widget": "path", "path_kind": "file" | "dir"}`` picks the dialog.
    The line edit itself is ``self.line`` (objectName ``<key>.text``).
    """

    field_edited = pyqtSignal(object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = str(spec.extra.get("path_kind", "file"))
        self.line = LineEditor(spec, self)
        self.line.setObjectName(f"{spec.key}.text")
        self.browse = QPushButton("Browse\u2026", self)
        self.browse.setObjectName(f"{spec.key}.browse")
        self.browse.setToolTip("Choose a folder" if self.kind == "dir" else "Choose a file")
        self.browse.clicked.connect(self._on_browse_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.browse)
        self.setFocusProxy(self.line)
        self.line.field_edited.connect(self.field_edited)
        self._title = spec.title

    def field_value(self) -> str:
        return self.line.text()

    def set_field_value(self, value: Any) -> None:
        self.line.set_field_value("" if value is None else str(value))

    def set_field_read_only(self, read_only: bool) -> None:
        self.line.set_field_read_only(read_only)
        self.browse.setEnabled(not read_only)

    def _on_browse_clicked(self) -> None:
        start = self.line.text() or str(Path.home())
        if self.kind == "dir":
            chosen = QFileDialog.getExistingDirectory(self, self._title, start)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, self._title, start)
        if chosen:
            self.line.setText(chosen)  # textChanged -> field_edited


@register_widget("strlist")
class StringListEditor(QWidget):
    """An editable list of strings: double-click to edit, + to add, - to remove."""

    field_edited = pyqtSignal(object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setObjectName(f"{spec.key}.items")
        self.list.setAlternatingRowColors(True)
        rows = 3
        self.list.setFixedHeight(self.list.fontMetrics().lineSpacing() * rows + 24)
        self.list.itemChanged.connect(self._on_list_item_changed)
        self.add_button = QToolButton(self)
        self.add_button.setText("+")
        self.add_button.setObjectName(f"{spec.key}.add")
        self.add_button.setToolTip("Add an entry")
        self.add_button.clicked.connect(self._on_add_clicked)
        self.remove_button = QToolButton(self)
        self.remove_button.setText("\u2212")
        self.remove_button.setObjectName(f"{spec.key}.remove")
        self.remove_button.setToolTip("Remove the selected entry")
        self.remove_button.clicked.connect(self._on_remove_clicked)
        buttons = QVBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.setFocusProxy(self.list)
        self._read_only = False

    def field_value(self) -> list[str]:
        items = (self.list.item(i).text().strip() for i in range(self.list.count()))
        return [text for text in items if text]

    def set_field_value(self, value: Any) -> None:
        values = [value] if isinstance(value, str) else list(value or [])
        self.list.blockSignals(True)
        self.list.clear()
        for text in values:
            self._append(str(text))
        self.list.blockSignals(False)

    def set_field_read_only(self, read_only: bool) -> None:
        self._read_only = read_only
        self.add_button.setEnabled(not read_only)
        self.remove_button.setEnabled(not read_only)
        self.set_field_value(self.field_value())

    def _append(self, text: str) -> QListWidgetItem:
        item = QListWidgetItem(text, self.list)
        if not self._read_only:
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        return item

    def _on_list_item_changed(self, _item: QListWidgetItem) -> None:
        self.field_edited.emit(self.field_value())

    def _on_add_clicked(self) -> None:
        self.list.blockSignals(True)
        item = self._append("")
        self.list.blockSignals(False)
        self.list.setCurrentItem(item)
        self.list.editItem(item)

    def _on_remove_clicked(self) -> None:
        row = self.list.currentRow()
        if row < 0:
            row = self.list.count() - 1
        if row >= 0:
            self.list.takeItem(row)
            self.field_edited.emit(self.field_value())


@register_widget("checklist")
class ChecklistEditor(QWidget):
    """A list of fixed choices as check boxes (objectName ``<key>.<choice>``)."""

    field_edited = pyqtSignal(object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._choices = choices_of(list_item_type(spec.annotation)) or []
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setHorizontalSpacing(16)
        self.boxes: list[QCheckBox] = []
        per_row = 4
        for i, choice in enumerate(self._choices):
            label = str(getattr(choice, "value", choice))
            box = QCheckBox(label, self)
            box.setObjectName(f"{spec.key}.{label}")
            box.toggled.connect(self._on_box_toggled)
            layout.addWidget(box, i // per_row, i % per_row)
            self.boxes.append(box)
        layout.setColumnStretch(per_row, 1)

    def field_value(self) -> list[Any]:
        return [c for c, box in zip(self._choices, self.boxes, strict=True) if box.isChecked()]

    def set_field_value(self, value: Any) -> None:
        chosen = list(value or [])
        for choice, box in zip(self._choices, self.boxes, strict=True):
            box.blockSignals(True)
            box.setChecked(choice in chosen or getattr(choice, "value", None) in chosen)
            box.blockSignals(False)

    def set_field_read_only(self, read_only: bool) -> None:
        for box in self.boxes:
            box.setEnabled(not read_only)

    def _on_box_toggled(self, _on: bool) -> None:
        self.field_edited.emit(self.field_value())
