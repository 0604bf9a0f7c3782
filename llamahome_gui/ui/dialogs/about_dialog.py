"""Help menu dialogs: About (versions, folders in use) and the keyboard shortcut list."""

from __future__ import annotations

import platform

from PyQt6.QtCore import QT_VERSION_STR, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui import APP_NAME, __version__, paths
from llamahome_gui.ui.context import AppContext
from llamahome_gui.ui.theme import app_icon


class AboutDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dialog.about")
        self.setWindowTitle(f"About {APP_NAME}")
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(72, 72))
        top.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        text = QLabel(
            f"<h2>{APP_NAME} {__version__}</h2>"
            "<p>Fine-tune local language models with LoRA and chat with them, "
            "on your own machine.</p>"
            f"<p>Config folder: <code>{ctx.config.config_dir}</code><br>"
            f"Data folder: <code>{paths.user_data_dir()}</code></p>"
            f"<p style='color:gray'>Python {platform.python_version()} · Qt {QT_VERSION_STR} · "
            "MIT licence</p>")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(text, 1)
        layout.addLayout(top)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 240)


class ShortcutsDialog(QDialog):
    """Every window action that has a shortcut, read from the actions themselves."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dialog.shortcuts")
        self.setWindowTitle("Keyboard Shortcuts")
        rows = [((a.property("shortcutLabel") or a.text()).replace("&", ""), ", ".join(
                    s.toString(QKeySequence.SequenceFormat.NativeText) for s in a.shortcuts()))
                for a in actions if a.shortcuts()]
        table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (name, keys) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(name))
            table.setItem(row, 1, QTableWidgetItem(keys))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(440, 420)
