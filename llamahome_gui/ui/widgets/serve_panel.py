"""ServePanel: what the Chat page shows while its model is served over the OpenAI API.

The base URL, the model ids, a copyable curl / Python snippet, the request counts and the
live request log (one line per request, as the server writes it).
"""

from __future__ import annotations

import json
from typing import Any

from PyQt6.QtCore import QObject
from PyQt6.QtGui import QFontDatabase, QGuiApplication
from PyQt6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

LOG_LINES = 500


def curl_snippet(base_url: str, model: str, api_key: str = "") -> str:
    key = f' \\\n  -H "Authorization: Bearer {api_key}"' if api_key else ""
    body = json.dumps({"model": model, "stream": True,
                       "messages": [{"role": "user", "content": "Hello!"}]})
    return (f"curl {base_url}/chat/completions{key} \\\n  -H \"Content-Type: application/json\" "
            f"\\\n  -d '{body}'")


def python_snippet(base_url: str, model: str, api_key: str = "") -> str:
    return ("from openai import OpenAI\n\n"
            f"client = OpenAI(base_url=\"{base_url}\", api_key=\"{api_key or 'none'}\")\n"
            "stream = client.chat.completions.create(\n"
            f"    model=\"{model}\", stream=True,\n"
            "    messages=[{\"role\": \"user\", \"content\": \"Hello!\"}])\n"
            "for chunk in stream:\n"
            "    print(chunk.choices[0].delta.content or \"\", end=\"\", flush=True)\n")


class ServePanel(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chat.serve.panel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._ids: list[str] = []
        self._api_key_hint = ""
        self.requests = self.errors = self.tokens_out = 0
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.state_label = QLabel()
        self.state_label.setObjectName("chat.serve.state")
        self.url = QLineEdit()
        self.url.setObjectName("chat.serve.url")
        self.url.setReadOnly(True)
        self.models = QLabel()
        self.models.setObjectName("chat.serve.models")
        self.models.setWordWrap(True)
        self.counts = QLabel()
        self.counts.setObjectName("chat.serve.counts")
        self.snippet_kind = QComboBox()
        self.snippet_kind.setObjectName("chat.serve.snippet.kind")
        self.snippet_kind.addItems(["Python (openai)", "curl"])
        self.model_choice = QComboBox()
        self.model_choice.setObjectName("chat.serve.snippet.model")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("chat.serve.copy")
        self.copy_button.setToolTip("Copy the snippet to the clipboard")
        self.snippet = QPlainTextEdit()
        self.snippet.setObjectName("chat.serve.snippet")
        self.snippet.setReadOnly(True)
        self.snippet.setFont(mono)
        self.snippet.setMaximumHeight(130)
        self.log = QPlainTextEdit()
        self.log.setObjectName("chat.serve.log")
        self.log.setReadOnly(True)
        self.log.setFont(mono)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setMaximumHeight(130)
        self.log.setPlaceholderText("Requests appear here, one line each.")

        grid = QGridLayout()
        grid.addWidget(QLabel("Base URL"), 0, 0)
        grid.addWidget(self.url, 0, 1)
        grid.addWidget(QLabel("Model ids"), 1, 0)
        grid.addWidget(self.models, 1, 1)
        snippet_row = QHBoxLayout()
        snippet_row.addWidget(self.snippet_kind)
        snippet_row.addWidget(self.model_choice, 1)
        snippet_row.addWidget(self.copy_button)
        column = QVBoxLayout(self)
        column.addWidget(self.state_label)
        column.addLayout(grid)
        column.addLayout(snippet_row)
        column.addWidget(self.snippet)
        column.addWidget(self.counts)
        column.addWidget(self.log)
        self.snippet_kind.currentIndexChanged.connect(self._update_snippet)
        self.model_choice.currentIndexChanged.connect(self._update_snippet)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        self.show_starting()

    # -- states -----------------------------------------------------------------------------
    def show_starting(self, api_key_hint: str = "") -> None:
        self._api_key_hint = api_key_hint
        self.requests = self.errors = self.tokens_out = 0
        self.state_label.setText("Starting the server (it loads its own copy of the model)…")
        self.url.clear()
        self.models.clear()
        self.model_choice.clear()
        self.snippet.clear()
        self.log.clear()
        self._update_counts()

    def show_progress(self, line: str) -> None:
        self.state_label.setText(line)

    def show_started(self, base_url: str, model_ids: list[str]) -> None:
        self._ids = list(model_ids)
        self.state_label.setText("Serving: any OpenAI client can use this model now. "
                                 "Stop it with the Serve switch.")
        self.url.setText(base_url)
        self.models.setText(", ".join(model_ids))
        self.model_choice.blockSignals(True)
        self.model_choice.clear()
        self.model_choice.addItems(model_ids)
        self.model_choice.setCurrentIndex(len(model_ids) - 1)  # the adapter, when there is one
        self.model_choice.blockSignals(False)
        self._update_snippet()

    def show_stopped(self, error: str = "") -> None:
        self.state_label.setText(f"The server stopped: {error}" if error else "Server stopped.")

    def add_record(self, record: Any) -> None:
        self.requests += 1
        self.errors += record.status >= 400
        self.tokens_out += record.completion_tokens
        self.log.appendPlainText(record.line())
        self._update_counts()

    # -- helpers ----------------------------------------------------------------------------
    def snippet_text(self) -> str:
        return self.snippet.toPlainText()

    def _update_counts(self) -> None:
        self.counts.setText(f"{self.requests} request(s) · {self.errors} error(s) · "
                            f"{self.tokens_out:,} tokens out")

    def _update_snippet(self) -> None:
        base, model = self.url.text(), self.model_choice.currentText()
        if not base or not model:
            return
        make = curl_snippet if self.snippet_kind.currentIndex() == 1 else python_snippet
        self.snippet.setPlainText(make(base, model, self._api_key_hint))

    def _on_copy_button_clicked(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.snippet_text())


class ServeSwitch(QObject):
    """The Chat page's "Serve" switch: starts ``llamahome serve`` (ServeWorker) on the model
    and adapter chosen on the page, shows the panel while on, and a mark in the status bar.
    ``choice()`` returns (model folder, {model id: adapter folder})."""

    def __init__(self, ctx: Any, choice: Any, parent: QObject | None = None) -> None:
        from llamahome_gui.workers.serve_worker import ServeWorker

        super().__init__(parent)
        self.ctx = ctx
        self._choice = choice
        self.button = QPushButton("Serve")
        self.button.setObjectName("chat.serve")
        self.button.setCheckable(True)
        self.button.setToolTip("Serve the model and adapter over an OpenAI-compatible API "
                               "(inference.serving.host / port)")
        self.panel = ServePanel()
        self.panel.hide()
        self.status_mark = QLabel()
        self.status_mark.setObjectName("chat.serve.statusbar")
        self.worker = ServeWorker(self)
        self.worker.progressed.connect(self.panel.show_progress)
        self.worker.started.connect(self._on_worker_started)
        self.worker.request_logged.connect(self.panel.add_record)
        self.worker.stopped.connect(self._on_worker_stopped)
        self.button.toggled.connect(self._on_button_toggled)
        window = getattr(ctx, "window", None)
        if window is not None and hasattr(window, "close_accepted"):
            window.close_accepted.connect(self.worker.shutdown)

    def _on_button_toggled(self, on: bool) -> None:
        if not on:
            self.worker.stop()
            self.panel.show_progress("Stopping the server…")
            return
        if self.worker.running:
            return
        state = self.ctx.state
        model, adapters = self._choice()
        key = str(state.value("inference.serving.api_key") or "")
        self.panel.show_starting("<your inference.serving.api_key>" if key else "")
        self.panel.show()
        self.worker.start(model_path=model, adapters=adapters,
                          host=str(state.value("inference.serving.host")),
                          port=int(state.value("inference.serving.port")),
                          config_dir=str(state.config.config_dir))
        self._mark("Serve: starting…")

    def _on_worker_started(self, event: Any) -> None:
        self.panel.show_started(event.base_url, event.model_ids)
        self._mark(f"● Serving {event.base_url}")
        self.ctx.show_status(f"Serving {', '.join(event.model_ids)} at {event.base_url}", 6000)

    def _on_worker_stopped(self, event: Any) -> None:
        self.panel.show_stopped(event.error)
        self._mark("")
        if not event.error:
            self.panel.hide()
        else:
            self.ctx.show_status(f"The server stopped: {event.error}", 10000)
        self.button.blockSignals(True)
        self.button.setChecked(False)
        self.button.blockSignals(False)

    def _mark(self, text: str) -> None:
        """The status bar's permanent mark while the server runs."""
        window = getattr(self.ctx, "window", None)
        if window is None:
            return
        bar = window.statusBar()
        if text and self.status_mark.parent() is not bar:
            bar.addPermanentWidget(self.status_mark)
        self.status_mark.setText(text)
        self.status_mark.setVisible(bool(text))

    def shutdown(self) -> None:
        self.worker.shutdown()
