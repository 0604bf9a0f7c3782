"""ChatHistoryWidget: saved conversations, newest first, with New chat and Export."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.core.chat.conversation import list_conversations


def _when(stamp: str) -> str:
    try:
        moment = datetime.fromisoformat(stamp).astimezone()
    except ValueError:
        return ""
    today = datetime.now().astimezone().date()
    return moment.strftime("%H:%M" if moment.date() == today else "%d %b %Y")


class ChatHistoryWidget(QWidget):
    open_requested = pyqtSignal(Path)
    new_requested = pyqtSignal()
    export_requested = pyqtSignal()
    delete_requested = pyqtSignal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.new_button = QPushButton("New chat")
        self.new_button.setObjectName("chat.new")
        self.new_button.setToolTip("Start a new conversation (this one stays in the list)")
        self.list = QListWidget()
        self.list.setObjectName("chat.history")
        self.list.setWordWrap(True)
        self.list.setToolTip("Saved conversations: click one to reopen it")
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("chat.export")
        self.export_button.setToolTip("Save this conversation as a Markdown file")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setObjectName("chat.delete")
        self.delete_button.setToolTip("Delete the selected saved conversation")
        self.delete_button.setEnabled(False)
        title = QLabel("Conversations")
        title.setObjectName("chatSidebarTitle")
        title.setStyleSheet("font-weight: 600;")
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.new_button)
        layout.addWidget(title)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.new_button.clicked.connect(self.new_requested)
        self.export_button.clicked.connect(self.export_requested)
        self.delete_button.clicked.connect(self._on_delete_button_clicked)
        self.list.itemActivated.connect(self._on_list_item_activated)
        self.list.itemClicked.connect(self._on_list_item_activated)
        self.list.currentItemChanged.connect(
            lambda item, _old: self.delete_button.setEnabled(item is not None))
        self._folder: Path | None = None

    def reload(self, folder: Path, current: Path | None = None) -> None:
        self._folder = folder
        self.list.blockSignals(True)
        self.list.clear()
        for saved in list_conversations(folder):
            kind = "A/B · " if saved.ab else ""
            item = QListWidgetItem(f"{kind}{saved.title}\n{_when(saved.updated)} · {saved.turns} messages")
            item.setData(Qt.ItemDataRole.UserRole, str(saved.path))
            item.setToolTip(str(saved.path))
            self.list.addItem(item)
            if current is not None and saved.path == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.delete_button.setEnabled(self.list.currentItem() is not None)

    def paths(self) -> list[Path]:
        return [Path(self.list.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.list.count())]

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        self.open_requested.emit(Path(item.data(Qt.ItemDataRole.UserRole)))

    def _on_delete_button_clicked(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.delete_requested.emit(Path(item.data(Qt.ItemDataRole.UserRole)))
