"""One chat message: Markdown text with code blocks that have their own Copy button.

The text is split at fenced code blocks; prose renders as Qt Markdown, code as monospaced,
unwrapped text. While an answer streams in, ``set_text`` is called again and again: the
widgets of unchanged parts are kept, only the growing tail is updated, so nothing flickers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QFontDatabase, QGuiApplication
from PyQt6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*$", re.MULTILINE)


@dataclass(frozen=True)
class Segment:
    kind: str  # "text" or "code"
    text: str
    language: str = ""


def split_markdown(text: str) -> list[Segment]:
    """Prose and fenced code blocks in order. An unclosed fence (still streaming) runs to the end."""
    segments: list[Segment] = []
    pos = 0
    while True:
        opening = _FENCE.search(text, pos)
        if opening is None:
            break
        if opening.start() > pos and text[pos:opening.start()].strip():
            segments.append(Segment("text", text[pos:opening.start()].strip("\n")))
        fence = opening.group(1)
        body_start = opening.end() + 1
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        end = closing.search(text, body_start)
        body = text[body_start:end.start() if end else len(text)]
        segments.append(Segment("code", body.rstrip("\n"), opening.group(2)))
        if end is None:
            return segments
        pos = end.end() + 1
    if text[pos:].strip():
        segments.append(Segment("text", text[pos:].strip("\n")))
    return segments


class ChatCodeBlockWidget(QFrame):
    """A code block: language, Copy button, monospaced text that scrolls sideways."""

    copied = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatCode")
        self._language = QLabel()
        self._language.setObjectName("chatCodeLanguage")
        self.copy_button = QToolButton()
        self.copy_button.setObjectName("chat.copy_code")
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy this code to the clipboard")
        self.copy_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        self.code = QPlainTextEdit()
        self.code.setObjectName("chatCodeText")
        self.code.setReadOnly(True)
        self.code.setFrameShape(QFrame.Shape.NoFrame)
        self.code.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.code.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.code.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.code.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        header = QHBoxLayout()
        header.setContentsMargins(10, 4, 4, 0)
        header.addWidget(self._language)
        header.addStretch(1)
        header.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.code)

    def set_code(self, text: str, language: str = "") -> None:
        self._language.setText(language or "code")
        if self.code.toPlainText() != text:
            self.code.setPlainText(text)
            lines = max(1, text.count("\n") + 1)
            metrics = self.code.fontMetrics()
            bar = self.code.horizontalScrollBar().sizeHint().height()
            self.code.setFixedHeight(min(lines, 24) * metrics.lineSpacing() + 12 + bar // 2)

    def text(self) -> str:
        return self.code.toPlainText()

    def _on_copy_button_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
        self.copy_button.setText("Copied")
        QTimer.singleShot(1500, lambda: self.copy_button.setText("Copy"))
        self.copied.emit(self.text())


class ChatTextWidget(QTextBrowser):
    """Prose of a message: Markdown (or plain text), selectable, exactly as tall as its text.

    A word-wrapped QLabel guesses its height from an arbitrary width, which leaves gaps in a
    long transcript; this widget lays its document out at its real width instead.
    """

    def __init__(self, markdown: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatText")
        self._markdown = markdown
        self._source = ""
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setOpenExternalLinks(True)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().setDocumentMargin(0)
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("background: transparent;")

    def text(self) -> str:
        return self._source

    def setText(self, text: str) -> None:  # noqa: N802 - the QLabel-like name callers use
        self._source = text
        if self._markdown:
            self.setMarkdown(text)
        else:
            self.setPlainText(text)
        self._fit_height()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        self.document().setTextWidth(self.viewport().width())
        height = int(self.document().size().height()) + 2
        if height != self.height():
            self.setFixedHeight(height)


class ElidedLabel(QLabel):
    """One line that never asks for more width than it gets: a long text ends in "…" and the
    whole of it is in the tooltip (a long adapter name must not widen a message past the
    transcript, which clipped every answer at its right edge)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        self._full = text
        self._elide()

    def text(self) -> str:  # the whole text, not the elided one on screen
        return self._full

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle,
                                              max(self.width(), 40))
        super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")


class ChatMessageWidget(QFrame):
    """A user question or an assistant answer, with a header and an optional stats line."""

    def __init__(self, role: str, title: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.setObjectName("chatUser" if role == "user" else "chatAssistant")
        self.setProperty("chatRole", role)
        self._text = ""
        self._parts: list[tuple[Segment, QWidget]] = []
        self.header = ElidedLabel(title)
        self.header.setObjectName("chatHeader")
        self.footer = QLabel()
        self.footer.setObjectName("chatFooter")
        self.footer.setWordWrap(True)
        self.footer.hide()
        self._body = QVBoxLayout()
        self._body.setSpacing(8)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(6)
        layout.addWidget(self.header)
        layout.addLayout(self._body)
        layout.addWidget(self.footer)
        self.set_text(text)

    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        if text == self._text and self._parts:
            return
        self._text = text
        segments = split_markdown(text) or [Segment("text", "")]
        keep = 0
        while (keep < len(self._parts) and keep < len(segments)
               and self._parts[keep][0].kind == segments[keep].kind):
            keep += 1
        for _segment, widget in self._parts[keep:]:
            self._body.removeWidget(widget)
            widget.deleteLater()
        self._parts = self._parts[:keep]
        for i, segment in enumerate(segments):
            if i < keep:
                widget = self._parts[i][1]
                self._parts[i] = (segment, widget)
            else:
                widget = self._make_part(segment)
                self._body.addWidget(widget)
                self._parts.append((segment, widget))
            self._fill(widget, segment)

    def append_text(self, piece: str) -> None:
        self.set_text(self._text + piece)

    def set_footer(self, text: str) -> None:
        self.footer.setText(text)
        self.footer.setVisible(bool(text))

    def set_title(self, text: str) -> None:
        self.header.setText(text)

    def natural_width(self) -> int:
        """Width the text needs on one line per paragraph (short questions stay one line)."""
        metrics = self.fontMetrics()
        longest = max((metrics.horizontalAdvance(line) for line in self._text.splitlines()),
                      default=0)
        header = metrics.horizontalAdvance(self.header.full_text())
        return max(longest, header) + 40

    def code_blocks(self) -> list[ChatCodeBlockWidget]:
        return [w for _s, w in self._parts if isinstance(w, ChatCodeBlockWidget)]

    def _make_part(self, segment: Segment) -> QWidget:
        if segment.kind == "code":
            return ChatCodeBlockWidget()
        return ChatTextWidget(markdown=self.role == "assistant")

    @staticmethod
    def _fill(widget: QWidget, segment: Segment) -> None:
        if isinstance(widget, ChatCodeBlockWidget):
            widget.set_code(segment.text, segment.language)
        elif isinstance(widget, ChatTextWidget) and widget.text() != segment.text:
            widget.setText(segment.text)


class ChatNoticeWidget(QLabel):
    """A line between messages: context trimmed, a failure, an adapter switch."""

    def __init__(self, text: str, kind: str = "info", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setObjectName("chatNotice")
        self.setProperty("kind", kind)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
