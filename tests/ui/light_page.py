"""A one-label page for the shell's tests: the host's behaviour without building real pages."""

from __future__ import annotations

from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget


class LightPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        QVBoxLayout(self).addWidget(QLabel("light page"))


def create_page(ctx) -> QWidget:
    return LightPage()
