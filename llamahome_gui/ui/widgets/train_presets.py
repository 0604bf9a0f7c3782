"""TrainPresetsPanel: the config presets on the Train page, each with a line saying what it
changes in the settings shown now ("Batch size 4 → 1, …"), applied to the forms as one undo
step (saved like any other edit). The presets themselves are config/'s (``Preset``)."""

from __future__ import annotations

from typing import Any

from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from llamahome_gui.config.introspect import humanize
from llamahome_gui.ui.forms.form import value_text

PICK = "Choose a preset…"


def preset_changes(state: Any, values: dict[str, Any]) -> list[str]:
    """``Title old → new`` for each key whose value the preset would change."""
    out = []
    for key, new in values.items():
        try:
            spec, old = state.field(key), state.value(key)
        except (KeyError, ValueError):
            continue
        if old != new:
            out.append(f"{spec.title} {value_text(old, spec)} → {value_text(new, spec)}")
    return out


class TrainPresetsPanel(QWidget):
    """A preset picker, the line of what it changes, and Apply."""

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.combo = QComboBox()
        self.combo.setObjectName("train.preset")
        self.combo.setToolTip("Presets change a few settings at once; you can still edit them")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("train.preset.apply")
        self.apply_button.setEnabled(False)
        self.line = QLabel()
        self.line.setObjectName("train.preset.changes")
        self.line.setWordWrap(True)
        self.line.setProperty("muted", True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("Preset")
        caption.setProperty("fieldLabel", True)
        row.addWidget(caption)
        row.addWidget(self.combo, 1)
        row.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(9, 0, 9, 4)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.line)
        self._names: list[str] = []
        self.fill()
        self.combo.currentIndexChanged.connect(self._on_combo_current_index_changed)
        self.apply_button.clicked.connect(self._on_apply_clicked)
        ctx.state.value_changed.connect(self._on_state_value_changed)

    def fill(self) -> None:
        """The presets of the config folder (shipped ones and the user's own)."""
        try:
            self._names = sorted(self.ctx.config.presets())
        except Exception:  # an unreadable presets folder: the page works without
            self._names = []
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(PICK)
        for name in self._names:
            self.combo.addItem(humanize(name.replace("-", "_")), name)
        self.combo.blockSignals(False)
        self.setVisible(bool(self._names))
        self._describe()

    def chosen(self) -> str | None:
        return self.combo.currentData()

    def _values(self, name: str) -> tuple[str, dict[str, Any]]:
        preset = self.ctx.config.preset(name)
        known = set(self.ctx.state.components())
        values = {k: v for k, v in preset.flat().items() if k.split(".", 1)[0] in known}
        return preset.description, values

    def _describe(self) -> None:
        name = self.chosen()
        if not name:
            self.line.setText("Fast debug, Low memory, Quality: pick one to see what it "
                              "changes.")
            self.apply_button.setEnabled(False)
            return
        try:
            description, values = self._values(name)
        except Exception as exc:  # a broken preset file says why, the others still work
            self.line.setText(f"{name}: {exc}".splitlines()[0])
            self.apply_button.setEnabled(False)
            return
        changes = preset_changes(self.ctx.state, values)
        what = "Changes: " + ", ".join(changes) + "." if changes else \
            "The settings already have these values."
        self.line.setText(f"{description} {what}".strip())
        self.apply_button.setEnabled(bool(changes))

    def apply(self, name: str) -> int:
        """Put the preset's values into the forms; the number of settings changed."""
        _description, values = self._values(name)
        changed = len(preset_changes(self.ctx.state, values))
        self.ctx.state.set_values(values, f"Apply preset {name}")
        self.ctx.show_status(f"Preset {name!r}: {changed} setting{'s' * (changed != 1)} "
                             "changed in the forms; Ctrl+S saves them", 8000)
        return changed

    def _on_combo_current_index_changed(self, _index: int) -> None:
        self._describe()

    def _on_apply_clicked(self) -> None:
        name = self.chosen()
        if name:
            self.apply(name)
            self._describe()

    def _on_state_value_changed(self, _key: str, _value: object) -> None:
        if self.chosen():
            self._describe()
