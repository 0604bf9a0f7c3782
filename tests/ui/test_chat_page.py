"""The Chat page in a real (offscreen) window on the tiny model: typing and Enter, tokens
arriving one after another, Stop, saved conversations, export, adapters and A/B."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QPushButton, QWidget

from llamahome_gui.app import build_main_window
from tests.core import test_chat_helpers as helpers

lora_adapter_dir = helpers.lora_adapter_dir  # fixture
TIMEOUT_MS = 120_000  # the CPU is shared with other work


@pytest.fixture
def chat(qtbot, config_dir, tiny_model_dir, tmp_path):
    """(window, chat page) over the tiny model with greedy settings, saved so the window
    closes without asking."""
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    state = window.ctx.state
    state.set_values({"model.model.path": str(tiny_model_dir), "model.model.device": "cpu",
                      "inference.generation.temperature": 0.0,
                      "inference.generation.repetition_penalty": 1.0,
                      "inference.generation.max_new_tokens": 8,
                      "inference.chat.history_dir": str(tmp_path / "chats")})
    state.save()
    window.navigate("chat")
    page = window.ctx.page("chat")
    yield window, page
    page.shutdown()


def configure(window, values: dict) -> None:
    window.ctx.state.set_values(values)
    window.ctx.state.save()


def button(window, name: str) -> QPushButton:
    found = window.findChild(QPushButton, name)
    assert found is not None, name
    return found


def answers(page) -> list:
    return [m for m in page.panel.transcript.messages() if m.role == "assistant"]


def test_enter_streams_tokens_and_stop_halts(qtbot, chat):
    window, page = chat
    configure(window, {"inference.generation.max_new_tokens": 980})
    box = window.findChild(QWidget, "chat.input")
    stop = button(window, "chat.stop")
    assert not stop.isEnabled()
    qtbot.keyClicks(box, "Tell me")
    qtbot.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(box, "about the sea.")
    assert box.toPlainText() == "Tell me\nabout the sea." and not page.panel.transcript.messages()
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert box.toPlainText() == ""
    assert page.panel.transcript.messages()[0].text() == "Tell me\nabout the sea."

    qtbot.waitUntil(lambda: bool(answers(page) and answers(page)[0].text()), timeout=TIMEOUT_MS)
    assert stop.isEnabled() and not button(window, "chat.send").isEnabled()
    first = answers(page)[0].text()
    qtbot.waitUntil(lambda: len(answers(page)[0].text()) > len(first), timeout=TIMEOUT_MS)
    assert answers(page)[0].text().startswith(first)  # grows at the end, token by token

    with qtbot.waitSignal(page.worker.finished, timeout=TIMEOUT_MS) as done:
        qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
        at_stop = answers(page)[0].text()  # the text stops growing the moment Stop is clicked
    stats = done.args[0].stats
    assert stats.stop_reason == "stopped" and stats.new_tokens < 980
    qtbot.waitUntil(lambda: not stop.isEnabled())
    bubble = answers(page)[0]
    assert bubble.text() == at_stop and done.args[0].text.startswith(at_stop)
    assert page.conversation.messages[-1].content == at_stop
    assert "stopped" in bubble.footer.text()
    assert "tokens/s" in page.status.text() and "context" in page.status.text()
    assert button(window, "chat.send").isEnabled()


def ask(qtbot, page, text: str) -> None:
    with qtbot.waitSignal(page.panel.answers_done, timeout=TIMEOUT_MS):
        page.send(text)


def test_conversations_are_saved_reopened_regenerated_and_exported(qtbot, chat, tmp_path):
    window, page = chat
    ask(qtbot, page, "What is a llama?")
    ask(qtbot, page, "And an alpaca?")
    reply = answers(page)[1].text()
    saved = page.history.paths()
    assert len(saved) == 1 and saved[0].parent == tmp_path / "chats"

    with qtbot.waitSignal(page.panel.answers_done, timeout=TIMEOUT_MS):
        qtbot.mouseClick(button(window, "chat.regenerate"), Qt.MouseButton.LeftButton)
    assert len(answers(page)) == 2 and answers(page)[1].text() == reply  # greedy: same answer

    qtbot.mouseClick(button(window, "chat.new"), Qt.MouseButton.LeftButton)
    assert page.panel.transcript.messages() == []
    page.open_conversation(saved[0])
    texts = [m.text() for m in page.panel.transcript.messages()]
    assert texts[0] == "What is a llama?" and texts[2] == "And an alpaca?" and texts[3] == reply
    assert "tokens/s" in answers(page)[0].footer.text()

    exported = page.export_markdown(tmp_path / "chat.md").read_text()
    assert exported.startswith("# What is a llama?") and "## You\n\nAnd an alpaca?" in exported


def test_adapter_from_train_page_and_ab_side_by_side(qtbot, chat, lora_adapter_dir):
    window, page = chat
    ab = window.findChild(QWidget, "chat.ab")
    assert not ab.isEnabled()
    window.ctx.page("chat").set_adapter(str(lora_adapter_dir))  # what the Train page calls
    assert page.pickers.adapter_path() == str(lora_adapter_dir)
    assert ab.isEnabled() and not window.ctx.state.is_dirty()  # session state, not a config edit
    ask(qtbot, page, "Tell me about the sea.")
    assert "adapter" in answers(page)[0].header.text()

    ab.setChecked(True)
    ask(qtbot, page, "Tell me about the sea.")
    side_a = [m for m in page.panel.transcript.messages() if m.role == "assistant"]
    side_b = [m for m in page.panel.transcript_b.messages() if m.role == "assistant"]
    assert side_a[0].header.text().startswith("A · base")
    assert side_b[0].header.text().startswith("B · adapter")
    assert side_a[0].text() != side_b[0].text()


def test_load_failure_is_shown_and_send_works_again(qtbot, chat, tmp_path):
    window, page = chat
    configure(window, {"model.model.path": str(tmp_path / "no-model")})
    with qtbot.waitSignal(page.worker.failed, timeout=TIMEOUT_MS):
        page.send("hello")
    notices = page.panel.transcript.notices()
    assert notices and "Could not load the model" in notices[-1].text()
    assert "no-model" in notices[-1].text()
    assert button(window, "chat.send").isEnabled()
    assert Path(tmp_path / "no-model").exists() is False


def test_long_conversation_tells_the_user_old_turns_were_left_out(qtbot, chat):
    window, page = chat
    configure(window, {"model.resources.max_sequence_length": 96})
    for i in range(4):
        ask(qtbot, page, f"Question number {i}: " + "tell me more " * 6)
    notices = [n.text() for n in page.panel.transcript.notices()]
    assert any("left out" in n for n in notices), notices
    assert page.panel.conversation.messages[0].content.startswith("Question number 0")  # kept
