"""A/B compare as a user meets it: two equal columns wide enough to read (the settings pane
folds away meanwhile and comes back after), and an A/B exchange saved to the conversation
list that reopens as A/B, on the tiny model with a real LoRA adapter."""

from __future__ import annotations

import json

import pytest
from PyQt6.QtWidgets import QApplication

from tests.ui.test_chat_page import ask, chat, lora_adapter_dir  # noqa: F401 - fixtures


def columns(page) -> list[int]:
    QApplication.processEvents()
    return [page.panel.columns.widget(i).width() for i in (0, 1)]


@pytest.mark.parametrize("size", [(1024, 640), (1600, 1000)])
def test_ab_columns_are_equal_and_readable(qtbot, chat, lora_adapter_dir, size):  # noqa: F811
    window, page = chat
    window.resize(*size)
    with qtbot.waitExposed(window):
        window.show()
    page.set_adapter(str(lora_adapter_dir))
    assert page.settings.isVisible()
    page.ab_check.setChecked(True)
    qtbot.waitUntil(lambda: page.panel.transcript_b.isVisible())
    assert not page.settings.isVisible() and not page.settings_toggle.isEnabled()
    a, b = columns(page)
    assert abs(a - b) <= 2, (size, a, b)
    assert a >= 260, (size, a)
    window.resize(size[0] - 100, size[1])          # they stay equal as the window changes
    qtbot.waitUntil(lambda: abs(columns(page)[0] - columns(page)[1]) <= 2)
    page.ab_check.setChecked(False)
    assert page.settings.isVisible() and page.settings_toggle.isEnabled()
    from llamahome_gui.workers.run_task import drain_tasks

    drain_tasks()  # the shown pages' background checks end with this window, not the next


def test_an_ab_exchange_is_saved_and_reopens_as_ab(qtbot, chat, lora_adapter_dir,  # noqa: F811
                                                   tmp_path):
    window, page = chat
    page.set_adapter(str(lora_adapter_dir))
    page.ab_check.setChecked(True)
    ask(qtbot, page, "Tell me about the sea.")
    a_text = [m.text() for m in page.panel.transcript.messages() if m.role == "assistant"]
    b_text = [m.text() for m in page.panel.transcript_b.messages() if m.role == "assistant"]
    assert len(a_text) == len(b_text) == 1

    (saved,) = (tmp_path / "chats").glob("*.json")
    data = json.loads(saved.read_text())
    assert [m["role"] for m in data["base_messages"]] == ["user", "assistant"]
    assert data["messages"][1]["content"] == b_text[0]
    assert page.history.list.item(0).text().startswith("A/B · Tell me about the sea.")

    page.ab_check.setChecked(False)                   # a plain chat again
    page.new_chat()
    assert not page.panel.transcript_b.isVisible() and not page.session.ab_mode
    page.open_conversation(saved)
    assert page.session.ab_mode and page.ab_check.isChecked()
    assert not page.settings.isVisible()
    shown_a = [m.text() for m in page.panel.transcript.messages() if m.role == "assistant"]
    shown_b = [m.text() for m in page.panel.transcript_b.messages() if m.role == "assistant"]
    assert (shown_a, shown_b) == (a_text, b_text)
    heads = [m.header.text() for m in page.panel.transcript_b.messages() if m.role == "assistant"]
    assert heads[0].startswith("B · adapter")
    ask(qtbot, page, "And about the sky?")            # the comparison goes on in the same file
    data = json.loads(saved.read_text())
    assert len(data["messages"]) == len(data["base_messages"]) == 4
    assert list((tmp_path / "chats").glob("*.json")) == [saved]
