"""LoRA target modules as checkable choices: the linear layer names of the model actually
selected (read from its safetensors headers, no weights loaded), plus "all-linear".

Checking boxes writes ``training.lora.target_modules``; an edit elsewhere (the list editor,
a file reload) ticks the boxes again with their signals blocked, so there is no loop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtWidgets import QCheckBox, QGridLayout, QLabel, QVBoxLayout, QWidget

from llamahome_gui.core.train.lora import ALL_LINEAR

KEY = "training.lora.target_modules"
COLUMNS = 3


def layer_names(model_dir: Path | None) -> list[str]:
    """The model's linear layer names (``q_proj``...), output head excluded; [] if unknown."""
    if model_dir is None:
        return []
    from llamahome_gui.core.models.info import ModelInfoError, model_info

    try:
        return list(model_info(model_dir).linear_layers())
    except (ModelInfoError, OSError, ValueError):
        return []


class LoraTargetsWidget(QWidget):
    def __init__(self, ctx: Any, model_dir_fn: Callable[[], Path | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("train.lora.targets")
        self.ctx = ctx
        self._model_dir_fn = model_dir_fn
        self.title = QLabel("Adapt these layers:")
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(self.grid)
        self.boxes: dict[str, QCheckBox] = {}
        ctx.state.value_changed.connect(self._on_state_value_changed)
        self.rebuild()

    def rebuild(self) -> None:
        """One box per linear layer of the selected model (after a model change)."""
        for box in self.boxes.values():
            self.grid.removeWidget(box)
            box.deleteLater()
        self.boxes = {}
        names = layer_names(self._model_dir_fn())
        self.title.setText("Adapt these layers of the model:" if names else
                           "The model's layer names appear once the model is available.")
        for i, name in enumerate([ALL_LINEAR, *names]):
            box = QCheckBox(name)
            box.setObjectName(f"{KEY}.{name}")
            box.toggled.connect(lambda on, n=name: self._on_box_toggled(n, on))
            self.grid.addWidget(box, i // COLUMNS, i % COLUMNS)
            self.boxes[name] = box
        self._show(self.ctx.state.value(KEY))

    def _show(self, value: Any) -> None:
        chosen = {value} if isinstance(value, str) else set(value or [])
        for name, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(name in chosen)
            box.blockSignals(False)

    def _on_box_toggled(self, name: str, on: bool) -> None:
        if name == ALL_LINEAR:
            chosen = [ALL_LINEAR] if on else []
        else:
            chosen = [n for n, box in self.boxes.items() if n != ALL_LINEAR and box.isChecked()]
        if chosen:
            self.ctx.state.set_value(KEY, chosen)
        else:  # at least one target: the schema's own rule
            self._show(self.ctx.state.value(KEY))

    def _on_state_value_changed(self, key_path: str, value: Any) -> None:
        if key_path == KEY:
            self._show(value)
        elif key_path == "model.model.path":
            self.rebuild()
