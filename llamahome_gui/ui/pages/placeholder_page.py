"""What the window shows where a page failed to open: the error, calmly, instead of a crash."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget


class PlaceholderPage(QWidget):
    """A calm, centred note instead of a blank or broken page."""

    def __init__(self, title: str, headline: str, detail: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("placeholderPage")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        head = QLabel(headline)
        head.setObjectName("placeholderTitle")
        head.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body = QLabel(detail)
        body.setProperty("muted", True)
        body.setWordWrap(True)
        body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(head)
        layout.addWidget(body)
        layout.addStretch(2)
        self.page_title = title


def failed_page(title: str, module: str, error: BaseException) -> PlaceholderPage:
    return PlaceholderPage(
        title, f"{title} could not be opened",
        f"{type(error).__name__}: {error}\n\nThe full traceback was written to the terminal "
        f"(module {module}).")
