"""TrainModelPanel: which base model to fine-tune, and what it is.

A combo of the bundled starter model, every model folder in the models folder and folders
the user browsed to; the choice is ``model.model.path`` in the shared config state (empty =
the starter model), so the Configs page shows the same value. Model facts come from
``core.models.model_info`` (reads config and file headers only, off the UI thread).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui import paths
from llamahome_gui.workers.run_task import LatestTask

MODEL_KEY = "model.model.path"


def starter_folder() -> Path | None:
    """The imported starter model's folder, or None while it is not imported yet."""
    from llamahome_gui.core.models.starter import is_imported, starter_dir

    return starter_dir() if is_imported() else None


def model_folders(root: Path) -> list[Path]:
    """Model folders (with a config.json) directly under ``root``, by name."""
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                   and (p / "config.json").is_file()), key=lambda p: p.name.lower())


def describe_model(folder: Path | None) -> str:
    """Facts about a model folder as short HTML (runs in a worker thread)."""
    if folder is None:
        from llamahome_gui.core.models.starter import STARTER_NAME

        return (f"{STARTER_NAME}, bundled with the app (134.5M parameters, Llama architecture, "
                "chat template). It is prepared on first use (about 20 s).")
    from llamahome_gui.core.models.info import human_count, model_info
    from llamahome_gui.core.units import fmt_bytes

    i = model_info(folder)
    return (f"{i.architecture} · {human_count(i.parameters)} parameters · {i.layers} layers · "
            f"context {i.max_context:,} tokens · {i.dtype} · {fmt_bytes(i.size_on_disk)} on disk"
            f" · {'chat template' if i.chat_template else 'no chat template'}"
            f"<br><span style='font-size:small'>{folder}</span>")


class TrainModelPanel(QWidget):
    """Model combo + Browse, bound to ``model.model.path``, with a facts line."""

    model_changed = pyqtSignal(str)

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.combo = QComboBox()
        self.combo.setObjectName("train.model")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(16)
        self.browse = QPushButton("Browse…")
        self.browse.setObjectName("train.model.browse")
        self.browse.setToolTip("Pick a Hugging Face model folder (config.json + safetensors)")
        self.info = QLabel()
        self.info.setObjectName("train.model.info")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setProperty("muted", True)
        row = QHBoxLayout()
        row.addWidget(self.combo, 1)
        row.addWidget(self.browse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.info)
        self._task = LatestTask(self)
        self._task.succeeded.connect(self.info.setText)
        self._task.errored.connect(self._on_task_errored)
        self.reload()
        self.combo.currentIndexChanged.connect(self._on_combo_changed)
        self.browse.clicked.connect(self._on_browse_clicked)
        ctx.state.value_changed.connect(self._on_state_value_changed)

    def current_path(self) -> str:
        return str(self.ctx.state.value(MODEL_KEY) or "")

    def reload(self) -> None:
        """Refill the list from the models folder, keeping the configured choice selected."""
        from llamahome_gui.core.models.starter import STARTER_NAME, starter_dir

        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(f"{STARTER_NAME} (starter)", "")
        starter = starter_dir()
        for folder in model_folders(paths.models_dir()):
            if folder != starter:
                self.combo.addItem(folder.name, str(folder))
        self._select(self.current_path())
        self.combo.blockSignals(False)
        self._show_info()

    def _select(self, path: str) -> None:
        index = self.combo.findData(path)
        if index < 0:
            self.combo.addItem(Path(path).name or path, path)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)
        self.combo.setToolTip(path or "The bundled starter model")

    def _show_info(self) -> None:
        path = self.current_path()
        self.info.setText("Reading the model…")
        folder = Path(path).expanduser() if path else starter_folder()
        if path and not (folder / "config.json").is_file():
            self.info.setText(f"<span style='color:#dc2626'>{path} is not a model folder "
                              "(no config.json inside).</span>")
            return
        self._task.submit(describe_model, folder)

    def _on_task_errored(self, message: str) -> None:
        self.info.setText(f"<span style='color:#dc2626'>{message}</span>")

    def _on_combo_changed(self, _index: int) -> None:
        path = self.combo.currentData() or ""
        if path != self.current_path():
            self.ctx.state.set_value(MODEL_KEY, path)

    def _on_browse_clicked(self) -> None:
        start = self.current_path() or str(paths.models_dir())
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder", start)
        if folder:
            self.ctx.state.set_value(MODEL_KEY, folder)

    def _on_state_value_changed(self, key_path: str, value: object) -> None:
        if key_path == MODEL_KEY:
            self.combo.blockSignals(True)
            self._select(str(value or ""))
            self.combo.blockSignals(False)
            self._show_info()
            self.model_changed.emit(str(value or ""))
