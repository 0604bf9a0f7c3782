"""Model and adapter pickers of the Chat page.

The model combo is ``model.model.path`` in the shared config state (empty = the starter
model; the Configs and Train pages show the same value). The adapter is session state, not
a config edit: picking one never makes the config "unsaved". It is remembered between
launches in the window's settings (``chat/adapter``); without a remembered choice the
config's ``inference.chat.adapter_path`` (the CLI's default too) is where it starts, and an
edit of that key on the Configs page is taken over. Adapters are listed from the run
folders (``training.training.output_dir``) and from folders the user browsed to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from llamahome_gui import paths

MODEL_KEY = "model.model.path"
ADAPTER_KEY = "inference.chat.adapter_path"
RUNS_KEY = "training.training.output_dir"
ADAPTER_SETTING = "chat/adapter"


class _RefreshingComboBox(QComboBox):
    """Re-reads its choices each time it opens (a run may have finished meanwhile)."""

    about_to_open = pyqtSignal()

    def showPopup(self) -> None:  # noqa: N802 - Qt API
        self.about_to_open.emit()
        super().showPopup()


class ChatPickersWidget(QWidget):
    model_changed = pyqtSignal(str)
    adapter_changed = pyqtSignal(str)

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._adapter = self._remembered_adapter()
        self.model_combo = _RefreshingComboBox()
        self.model_combo.setObjectName("chat.model")
        self.model_combo.setMinimumContentsLength(18)
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_browse = QPushButton("…")
        self.model_browse.setObjectName("chat.model.browse")
        self.model_browse.setToolTip("Browse for a model folder (config.json + safetensors)")
        self.model_browse.setFixedWidth(32)
        self.adapter_combo = _RefreshingComboBox()
        self.adapter_combo.setObjectName("chat.adapter")
        self.adapter_combo.setMinimumContentsLength(22)
        self.adapter_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.adapter_combo.setToolTip("LoRA adapter to chat with (runs from the Train page, "
                                      "or any PEFT adapter folder)")
        self.adapter_browse = QPushButton("…")
        self.adapter_browse.setObjectName("chat.adapter.browse")
        self.adapter_browse.setToolTip("Browse for a PEFT adapter folder (adapter_config.json)")
        self.adapter_browse.setFixedWidth(32)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Model"))
        row.addWidget(self.model_combo, 2)
        row.addWidget(self.model_browse)
        row.addSpacing(12)
        row.addWidget(QLabel("Adapter"))
        row.addWidget(self.adapter_combo, 3)
        row.addWidget(self.adapter_browse)
        self.reload_models()
        self.reload_adapters()
        self.model_combo.currentIndexChanged.connect(self._on_model_combo_changed)
        self.adapter_combo.currentIndexChanged.connect(self._on_adapter_combo_changed)
        self.model_combo.about_to_open.connect(self.reload_models)
        self.adapter_combo.about_to_open.connect(self.reload_adapters)
        self.model_browse.clicked.connect(self._on_model_browse_clicked)
        self.adapter_browse.clicked.connect(self._on_adapter_browse_clicked)
        ctx.state.value_changed.connect(self._on_state_value_changed)

    # -- values -----------------------------------------------------------------------------
    def model_path(self) -> str:
        return str(self.ctx.state.value(MODEL_KEY) or "")

    def adapter_path(self) -> str:
        """The adapter chosen for this chat ("" = the base model)."""
        return self._adapter

    def adapter_label(self, path: str | None = None) -> str:
        """A short name for the adapter: its run folder's name, else its own."""
        folder = Path(path if path is not None else self.adapter_path())
        if not str(folder) or str(folder) == ".":
            return ""
        return folder.parent.name if folder.name == "adapter" else folder.name

    def set_adapter(self, path: str) -> None:
        """Choose the adapter (session state, remembered for the next launch)."""
        path = str(path or "")
        if path == self._adapter:
            return
        self._adapter = path
        self.ctx.settings.setValue(ADAPTER_SETTING, path)
        self.reload_adapters()
        self.adapter_changed.emit(path)

    def _remembered_adapter(self) -> str:
        settings = self.ctx.settings
        if settings.contains(ADAPTER_SETTING):
            path = str(settings.value(ADAPTER_SETTING) or "")
        else:
            path = str(self.ctx.state.value(ADAPTER_KEY) or "")
        return path if not path or Path(path).expanduser().is_dir() else ""

    def set_model(self, path: str) -> None:
        self._set(MODEL_KEY, path)

    # -- lists ------------------------------------------------------------------------------
    def reload_models(self) -> None:
        from llamahome_gui.core.models.starter import STARTER_NAME, starter_dir
        from llamahome_gui.ui.widgets.train_model import model_folders

        combo = self.model_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(f"{STARTER_NAME} (starter)", "")
        for folder in model_folders(paths.models_dir()):
            if folder != starter_dir():
                combo.addItem(folder.name, str(folder))
        _select(combo, self.model_path())
        combo.setToolTip(self.model_path() or "The bundled starter model")
        combo.blockSignals(False)

    def reload_adapters(self) -> None:
        from llamahome_gui.core.chat.setup import find_adapters

        combo = self.adapter_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("None (base model)", "")
        try:
            choices = find_adapters(self.ctx.state.value(RUNS_KEY) or "")
        except OSError:
            choices = []
        for choice in choices:
            combo.addItem(choice.label, str(choice.path))
            combo.setItemData(combo.count() - 1, str(choice.path), 3)  # tooltip role
        _select(combo, self.adapter_path(), self.adapter_label())
        combo.setToolTip(self.adapter_path() or "No adapter: the base model answers")
        combo.blockSignals(False)

    # -- slots ------------------------------------------------------------------------------
    def _set(self, key: str, value: str) -> None:
        from llamahome_gui.ui.state import ConfigStateError

        try:
            self.ctx.state.set_value(key, value)
        except ConfigStateError as exc:
            self.ctx.show_status(str(exc), 8000)

    def _on_model_combo_changed(self, _index: int) -> None:
        path = self.model_combo.currentData() or ""
        if path != self.model_path():
            self._set(MODEL_KEY, path)

    def _on_adapter_combo_changed(self, _index: int) -> None:
        self.set_adapter(self.adapter_combo.currentData() or "")

    def _on_model_browse_clicked(self) -> None:
        start = self.model_path() or str(paths.models_dir())
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder", start)
        if folder:
            self._set(MODEL_KEY, folder)

    def _on_adapter_browse_clicked(self) -> None:
        start = self.adapter_path() or str(paths.runs_dir())
        folder = QFileDialog.getExistingDirectory(self, "Choose a LoRA adapter folder", start)
        if folder:
            self.set_adapter(folder)

    def _on_state_value_changed(self, key_path: str, value: object) -> None:
        if key_path == MODEL_KEY:
            self.reload_models()
            self.model_changed.emit(str(value or ""))
        elif key_path == ADAPTER_KEY:  # the config default was edited: take it over
            self.set_adapter(str(value or ""))
        elif key_path == RUNS_KEY:
            self.reload_adapters()


def _select(combo: QComboBox, value: str, label: str = "") -> None:
    index = combo.findData(value)
    if index < 0:
        combo.addItem(label or Path(value).name or value, value)
        index = combo.count() - 1
    combo.setCurrentIndex(index)
