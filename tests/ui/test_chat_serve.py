"""The Chat page's Serve switch in a real (offscreen) window: it starts ``llamahome serve`` on
the chosen model and adapter, shows the URL, ids, a snippet and the live request log, marks
the status bar, and stopping it frees the port."""

from __future__ import annotations

import socket

import openai
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import QLabel, QPushButton

from tests.core import test_chat_helpers as helpers
from tests.ui import test_chat_page as chat_page

lora_adapter_dir = helpers.lora_adapter_dir  # fixtures
chat = chat_page.chat
START_MS = 300_000  # the server process loads its own model; the CPU is shared


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_switch_serves_the_chosen_model_and_adapter(qtbot, chat, lora_adapter_dir):
    window, page = chat
    port = free_port()
    page.set_adapter(str(lora_adapter_dir))
    chat_page.configure(window, {"inference.serving.port": port})
    switch = window.findChild(QPushButton, "chat.serve")
    assert page.serve.panel.isHidden()

    with qtbot.waitSignal(page.serve.worker.started, timeout=START_MS):
        qtbot.mouseClick(switch, Qt.MouseButton.LeftButton)
    panel = page.serve.panel
    url = f"http://127.0.0.1:{port}/v1"
    label = page.pickers.adapter_label()
    assert not panel.isHidden() and panel.url.text() == url
    assert panel.models.text() == f"tiny-llama, {label}"
    assert f'base_url="{url}"' in panel.snippet_text() and f'model="{label}"' in panel.snippet_text()
    qtbot.mouseClick(window.findChild(QPushButton, "chat.serve.copy"), Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == panel.snippet_text()
    mark = window.findChild(QLabel, "chat.serve.statusbar")
    assert not mark.isHidden() and url in mark.text()

    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=120)
    answer = client.chat.completions.create(model=label, max_tokens=4, temperature=0,
                                            messages=[{"role": "user", "content": "Hi"}])
    assert answer.usage.completion_tokens == 4
    qtbot.waitUntil(lambda: panel.requests == 1, timeout=60_000)
    assert "/v1/chat/completions 200" in panel.log.toPlainText()
    assert panel.counts.text().startswith("1 request(s) · 0 error(s) · 4 tokens out")

    with qtbot.waitSignal(page.serve.worker.stopped, timeout=60_000):
        qtbot.mouseClick(switch, Qt.MouseButton.LeftButton)
    assert not switch.isChecked() and panel.isHidden() and mark.isHidden()
    with socket.socket() as sock:  # the port is free again for a server
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()


def test_a_server_that_cannot_start_says_why(qtbot, chat):
    window, page = chat
    chat_page.configure(window, {"inference.serving.host": "0.0.0.0"})  # no api_key
    with qtbot.waitSignal(page.serve.worker.stopped, timeout=START_MS) as stopped:
        qtbot.mouseClick(window.findChild(QPushButton, "chat.serve"), Qt.MouseButton.LeftButton)
    assert stopped.args[0].exit_code == 2
    assert "LLAMAHOME_SERVING_API_KEY" in page.serve.panel.state_label.text()
    assert not window.findChild(QPushButton, "chat.serve").isChecked()
