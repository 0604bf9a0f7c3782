"""The Chat page's settings column: the system prompt, then how answers are sampled, both
generated from the schema (bound to the shared config state)."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QScrollArea, QVBoxLayout, QWidget


def chat_settings_area(state: Any) -> QScrollArea:
    """The system prompt, then how answers are sampled; both generated from the schema."""
    from llamahome_gui.ui.forms import build_form

    forms = QWidget()
    column = QVBoxLayout(forms)
    column.setContentsMargins(0, 0, 6, 0)
    column.addWidget(build_form(state, "inference", keys=["chat.system_prompt"]))
    column.addWidget(build_form(state, "inference", sections=["generation"]))
    column.addStretch(1)
    area = QScrollArea()
    area.setObjectName("chat.settings")
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(forms)
    area.setMinimumWidth(forms.minimumSizeHint().width() + 16)
    return area
