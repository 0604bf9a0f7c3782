"""ChatInputWidget: the message box. Enter sends, Shift+Enter starts a new line."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QKeyEvent
from PyQt6.QtWidgets import QPlainTextEdit, QWidget

MAX_LINES = 8


class ChatInputWidget(QPlainTextEdit):
    """Grows with its text up to ``MAX_LINES`` lines, then scrolls."""

    submitted = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chat.input")
        self.setPlaceholderText("Message the model…  (Enter sends, Shift+Enter for a new line)")
        self.setTabChangesFocus(True)
        self.document().contentsChanged.connect(self._on_document_contents_changed)
        self._on_document_contents_changed()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            event.accept()
            text = self.toPlainText()
            if text.strip():
                self.submitted.emit(text)
            return
        super().keyPressEvent(event)

    def _on_document_contents_changed(self) -> None:
        lines = max(2, min(MAX_LINES, self.document().blockCount()))
        margins = self.contentsMargins()
        height = (lines * self.fontMetrics().lineSpacing() + 2 * int(self.document().documentMargin())
                  + margins.top() + margins.bottom() + 4)
        self.setFixedHeight(height)
