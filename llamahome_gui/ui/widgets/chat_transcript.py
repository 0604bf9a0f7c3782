"""ChatTranscriptWidget: the scrolling conversation (questions right, answers full width).

It follows new text to the bottom unless the user scrolled up to read, and shows a short
welcome while the conversation is empty.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QPalette, QResizeEvent
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from llamahome_gui.ui.widgets.chat_message import ChatMessageWidget, ChatNoticeWidget

USER_WIDTH = 0.78  # a question takes at most this share of the width


def chat_style(c: dict[str, str]) -> str:
    """Style sheet for the transcript from the theme colours (light or dark)."""
    return f"""
    QWidget#chatCanvas {{ background: {c['base']}; }}
    QFrame#chatUser {{ background: {c['alt']}; border: 1px solid {c['border']};
        border-radius: 12px; }}
    QFrame#chatAssistant {{ background: transparent; border: none;
        border-left: 3px solid {c['accent']}; border-radius: 0; }}
    QLabel#chatHeader {{ color: {c['muted']}; font-weight: 600; }}
    QLabel#chatFooter {{ color: {c['muted']}; font-size: 11px; }}
    QTextBrowser#chatText {{ color: {c['text']}; background: transparent; }}
    QFrame#chatCode {{ background: {c['window']}; border: 1px solid {c['border']};
        border-radius: 8px; }}
    QFrame#chatCode QPlainTextEdit {{ background: transparent; color: {c['text']}; }}
    QFrame#chatCode QScrollBar:horizontal {{ height: 8px; background: transparent;
        margin: 0 6px 2px 6px; }}
    QFrame#chatCode QScrollBar::handle:horizontal {{ background: {c['border']};
        border-radius: 4px; min-width: 32px; }}
    QFrame#chatCode QScrollBar::add-line, QFrame#chatCode QScrollBar::sub-line {{ width: 0; }}
    QFrame#chatCode QScrollBar::add-page, QFrame#chatCode QScrollBar::sub-page {{
        background: transparent; }}
    QLabel#chatCodeLanguage {{ color: {c['muted']}; font-size: 11px; }}
    QLabel#chatNotice {{ color: {c['muted']}; background: {c['alt']}; border-radius: 8px;
        padding: 6px 12px; }}
    QLabel#chatNotice[kind="error"] {{ color: {c['error']}; background: {c['error_bg']}; }}
    QLabel#chatWelcome {{ color: {c['muted']}; }}
    """


def palette_colors(widget: QWidget) -> dict[str, str]:
    """Theme-like colours from a palette, for when no theme manager is at hand."""
    p = widget.palette()
    get = lambda role: p.color(role).name()  # noqa: E731
    return {"base": get(QPalette.ColorRole.Base), "alt": get(QPalette.ColorRole.AlternateBase),
            "border": get(QPalette.ColorRole.Mid), "accent": get(QPalette.ColorRole.Highlight),
            "muted": get(QPalette.ColorRole.PlaceholderText), "text": get(QPalette.ColorRole.Text),
            "window": get(QPalette.ColorRole.Window), "error": "#c62828", "error_bg": "#fdecea"}


class ChatTranscriptWidget(QScrollArea):
    def __init__(self, welcome: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chat.transcript")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        canvas = QWidget()
        canvas.setObjectName("chatCanvas")
        self._column = QVBoxLayout(canvas)
        self._column.setContentsMargins(20, 16, 20, 16)
        self._column.setSpacing(14)
        self._column.addStretch(1)
        self.setWidget(canvas)
        self._welcome = QLabel(welcome)
        self._welcome.setObjectName("chatWelcome")
        self._welcome.setWordWrap(True)
        self._welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._welcome.setTextFormat(Qt.TextFormat.RichText)
        self._column.insertWidget(0, self._welcome)
        self._items: list[QWidget] = []
        self._follow = True
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_bar_range_changed)
        bar.valueChanged.connect(self._on_bar_value_changed)

    # -- content ----------------------------------------------------------------------------
    def add_message(self, role: str, title: str, text: str = "") -> ChatMessageWidget:
        message = ChatMessageWidget(role, title, text)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        if role == "user":
            row.addStretch(1)
        row.addWidget(message, 0 if role == "user" else 1)
        holder = QWidget()
        holder.setLayout(row)
        holder.setProperty("message", True)
        self._append(holder)
        self._fit_width(message)
        return message

    def add_notice(self, text: str, kind: str = "info") -> ChatNoticeWidget:
        notice = ChatNoticeWidget(text, kind)
        self._append(notice)
        return notice

    def clear(self) -> None:
        for item in self._items:
            self._column.removeWidget(item)
            item.deleteLater()
        self._items.clear()
        self._welcome.show()
        self._follow = True

    def set_welcome(self, html: str) -> None:
        self._welcome.setText(html)

    def messages(self) -> list[ChatMessageWidget]:
        return [w for item in self._items for w in item.findChildren(ChatMessageWidget)]

    def notices(self) -> list[ChatNoticeWidget]:
        return [item for item in self._items if isinstance(item, ChatNoticeWidget)]

    def remove_last_message(self) -> None:
        """Drop the newest message (Regenerate) and any notices after it."""
        while self._items:
            item = self._items.pop()
            self._column.removeWidget(item)
            item.deleteLater()
            if item.property("message"):
                break
        self._welcome.setVisible(not self._items)

    def set_colors(self, colors: dict[str, str]) -> None:
        self.setStyleSheet(chat_style(colors))

    def scroll_to_bottom(self) -> None:
        self._follow = True
        QTimer.singleShot(0, lambda: self.verticalScrollBar().setValue(
            self.verticalScrollBar().maximum()))

    # -- internals --------------------------------------------------------------------------
    def _append(self, widget: QWidget) -> None:
        self._welcome.hide()
        self._column.insertWidget(self._column.count() - 1, widget)
        self._items.append(widget)
        self.scroll_to_bottom()

    def _fit_width(self, message: ChatMessageWidget) -> None:
        if message.role == "user":
            widest = max(240, int(self.viewport().width() * USER_WIDTH))
            message.setMaximumWidth(widest)
            message.setMinimumWidth(min(widest, message.natural_width()))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        for message in self.messages():
            self._fit_width(message)

    def _on_bar_range_changed(self, _low: int, high: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(high)

    def _on_bar_value_changed(self, value: int) -> None:
        # Reading older messages pauses following; scrolling back down resumes it.
        self._follow = value >= self.verticalScrollBar().maximum() - 24
