"""Chat messages fit the transcript at every window size: nothing is cut at the right edge,
and a long adapter name is shortened on screen with the whole name in its tooltip."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QPoint
from PyQt6.QtWidgets import QApplication, QLabel, QScrollArea

from llamahome_gui.app import build_main_window
from llamahome_gui.ui.widgets.chat_message import ChatMessageWidget

LONG_TITLE = "Assistant · adapter 20261201-153012-a-very-long-run-name-for-the-sample_dataset-r16"
ANSWER = ("The adapter answers with a long paragraph that must wrap inside the transcript "
          "instead of running past its right edge, whatever the window size is. ") * 6


@pytest.mark.parametrize("size", [(1024, 640), (1600, 1000), (640, 480)])
def test_no_message_is_wider_than_the_transcript(qtbot, config_dir, size):
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    window.navigate("chat")
    qtbot.waitUntil(lambda: any(t.isVisible() for t in
                                window.findChildren(QScrollArea, "chat.transcript")))
    transcript = next(t for t in window.findChildren(QScrollArea, "chat.transcript")
                      if t.isVisible())
    transcript.add_message("user", "You", "A short question?")
    answer = transcript.add_message("assistant", LONG_TITLE, ANSWER)
    qtbot.waitUntil(lambda: answer.isVisible() and answer.width() > 0)
    QApplication.processEvents()
    viewport = transcript.viewport()
    for message in transcript.findChildren(ChatMessageWidget):
        right = message.mapTo(viewport, QPoint(message.width(), 0)).x()
        assert right <= viewport.width(), (size, message.header.text()[:20], right,
                                           viewport.width())
    shown = QLabel.text(answer.header)  # what is painted
    if shown != LONG_TITLE:  # shortened on screen, whole in the tooltip
        assert "…" in shown and answer.header.toolTip() == LONG_TITLE
    assert transcript.horizontalScrollBar().maximum() == 0
