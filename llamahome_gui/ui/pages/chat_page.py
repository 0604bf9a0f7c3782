"""Chat page: talk to the model or to a trained adapter, answers streaming in token by token.

Top: model and adapter pickers (``model.model.path``; the adapter is session state, see
``chat_pickers``),
A/B compare, Load. Left: saved conversations. Middle: the conversation, the message box,
Send / Stop / Regenerate and a status line (time to first token, tokens/s, context used).
Right: the system prompt and generation settings, generated from the schema. The chat session
(core/chat/session.py: state, conversations, adapter, A/B) lives in ``ChatWorker``'s thread, so
loading and answering never freeze the window; the page draws what the session reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.core.chat.conversation import (
    ConversationFileError,
    ab_markdown,
    export_markdown,
    history_dir,
    load_conversation,
    save_conversation,
)
from llamahome_gui.core.chat.session import ChatState
from llamahome_gui.ui.context import AppContext
from llamahome_gui.ui.widgets.chat_history import ChatHistoryWidget
from llamahome_gui.ui.widgets.chat_panel import ChatConversationPanel
from llamahome_gui.ui.widgets.chat_pickers import ChatPickersWidget
from llamahome_gui.ui.widgets.chat_settings import chat_settings_area
from llamahome_gui.ui.widgets.serve_panel import ServeSwitch
from llamahome_gui.workers.chat_worker import ChatWorker

FAILURES = {"load": "Could not load the model", "adapter": "Could not use the adapter",
            "generate": "The answer failed", "unload": "Unloading failed"}


def create_page(ctx: AppContext) -> QWidget:
    return ChatPage(ctx)


class ChatPage(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page.chat")
        self.ctx = ctx
        self.worker = ChatWorker(self)
        self.session = self.worker.session  # what the page draws; changed through the worker
        self._saved_path: Path | None = None
        self._path_before_ab: Path | None = None  # the plain chat to go back to after A/B
        self._settings_before_ab = True
        self._ab_layout = False
        self._build()
        self._connect()
        self._apply_colors()
        self._refresh_history()
        self._update_buttons()
        self.panel.status.setText("The model loads with your first message (or press Load model).")

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        self.pickers = ChatPickersWidget(self.ctx)
        self.ab_check = QCheckBox("A/B compare")
        self.ab_check.setObjectName("chat.ab")
        self.ab_check.setToolTip("Answer each question twice: base model (A) beside the adapter "
                                 "(B). Pick an adapter first.")
        self.load_button = QPushButton("Load model")
        self.load_button.setObjectName("chat.load")
        self.settings_toggle = QPushButton("Settings")
        self.settings_toggle.setObjectName("chat.settings.toggle")
        self.settings_toggle.setCheckable(True)
        self.settings_toggle.setChecked(True)
        self.settings_toggle.setToolTip("Show or hide the system prompt and generation settings")
        top = QHBoxLayout()
        top.addWidget(self.pickers, 1)
        top.addWidget(self.ab_check)
        from llamahome_gui.ui.dialogs.export_dialog import ExportButton  # export: the adapter
        self.export_button = ExportButton(self.ctx, "chat.export")
        top.addWidget(self.export_button)
        top.addWidget(self.load_button)
        self.serve = ServeSwitch(self.ctx, self._serve_choice, self)
        top.addWidget(self.serve.button)
        top.addWidget(self.settings_toggle)

        self.progress = QProgressBar()
        self.progress.setObjectName("chat.progress")
        self.progress.setRange(0, 0)  # busy: loading has no reliable percentage
        self.progress.setMaximumHeight(6)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("chat.progress.label")
        self._show_progress("")

        self.panel = ChatConversationPanel(self.session, self._answer_title)
        self.input, self.status = self.panel.input, self.panel.status
        self.history = ChatHistoryWidget()

        self.settings = chat_settings_area(self.ctx.state)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.history)
        self.splitter.addWidget(self.panel)
        self.splitter.addWidget(self.settings)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([190, 700, self.settings.minimumWidth()])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.serve.panel)
        layout.addWidget(self.splitter, 1)

    def _connect(self) -> None:
        w, p = self.worker, self.panel
        w.load_progressed.connect(self._on_worker_load_progressed)
        w.loaded.connect(self._on_worker_loaded)
        w.adapter_changed.connect(self._on_worker_adapter_changed)
        w.started.connect(p.on_started)
        w.token_received.connect(p.on_token)
        w.finished.connect(p.on_finished)
        w.failed.connect(self._on_worker_failed)
        w.unloaded.connect(self._on_worker_unloaded)
        w.state_changed.connect(self._on_worker_state_changed)
        p.answers_done.connect(self._on_panel_answers_done)
        p.input.submitted.connect(self.send)
        p.send_button.clicked.connect(lambda: self.send(p.input.toPlainText()))
        p.stop_button.clicked.connect(self.stop)
        p.regenerate_button.clicked.connect(self.regenerate)
        self.load_button.clicked.connect(self._on_load_button_clicked)
        self.ab_check.toggled.connect(self._on_ab_check_toggled)
        self.settings_toggle.toggled.connect(self.settings.setVisible)
        self.pickers.model_changed.connect(self._on_pickers_model_changed)
        self.pickers.adapter_changed.connect(self._on_pickers_adapter_changed)
        self.pickers.adapter_changed.connect(self.export_button.set_source)
        self.export_button.set_source(self.pickers.adapter_path())
        self.history.new_requested.connect(self.new_chat)
        self.history.open_requested.connect(self.open_conversation)
        self.history.export_requested.connect(self._on_history_export_requested)
        self.history.delete_requested.connect(self._on_history_delete_requested)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.stop)
        ctx = self.ctx
        if ctx.window is not None:
            ctx.window.close_accepted.connect(self.shutdown)  # the model thread ends with it
        ctx.theme.changed.connect(self._on_theme_changed)  # bound slots: dropped with the page
        ctx.chat_with_adapter_requested.connect(self.set_adapter)

    def _on_theme_changed(self, _dark: bool) -> None:
        self._apply_colors()

    def _apply_colors(self) -> None:
        self.panel.set_colors(self.ctx.theme.colors())

    # -- public API -------------------------------------------------------------------------
    @property
    def generating(self) -> bool:
        return self.panel.generating

    @property
    def conversation(self) -> Any:
        return self.session.conversation

    def set_adapter(self, path: str | Path) -> None:
        """Chat with this adapter (the Train page's "Chat with this adapter"); when the run
        trained it on another model than the one chosen here, that model is chosen too."""
        from llamahome_gui.core.chat.setup import run_model_path

        model = run_model_path(path)
        if model is not None and model != self.pickers.model_path():
            self.pickers.set_model(model)
        if str(path) == self.pickers.adapter_path():
            self.worker.set_adapter(str(path))  # same folder, maybe retrained: reload if changed
        else:
            self.pickers.set_adapter(str(path))

    def send(self, text: str) -> None:
        """Ask ``text``: the session loads the model first when needed, then streams the answer."""
        if not text.strip() or self.generating:
            return
        self.input.clear()
        self.session.add_question(text)
        self.panel.show_question(text)
        self._ask()

    def stop(self) -> None:
        if self.generating:
            self.worker.stop(self.panel.freeze())  # the answer keeps what is on screen now
            self.status.setText("Stopping…")
            self._update_buttons()

    def regenerate(self) -> None:
        """Drop the last answer and ask the last question again."""
        if not self.generating and self.session.drop_last_answers():
            self.panel.remove_last_answers()
            self._ask()

    def new_chat(self) -> None:
        self.stop()
        self._saved_path = None
        self.session.set_ab_mode(self.ab_check.isChecked())
        self.panel.show_ab_mode(self.ab_check.isChecked(), self.pickers.adapter_label())
        self._refresh_history()
        self._update_buttons()
        self.input.setFocus()

    def open_conversation(self, path: Path) -> None:
        if self.generating:
            return
        try:
            conversation = load_conversation(path)
        except ConversationFileError as exc:
            self.panel.transcript.add_notice(str(exc), "error")
            return
        if conversation.is_ab and conversation.adapter and \
                Path(conversation.adapter).is_dir():  # B answers with the adapter it used
            self.pickers.set_adapter(conversation.adapter)
        self.session.open(conversation)
        self._show_ab_layout(self.session.ab_mode)
        if self.session.ab_mode:  # a saved A/B comparison reopens as A/B
            self.panel.show_ab_mode(True, self.pickers.adapter_label(conversation.adapter))
            for side, conv in self.session.conversations().items():
                self.panel.show_conversation(conv, side)
        else:
            self.panel.show_ab_mode(False)
            self.panel.show_conversation(conversation)
        self._saved_path = Path(path)
        self._refresh_history()
        self._update_buttons()

    def export_markdown(self, path: Path) -> Path:
        """The conversation (or the A/B comparison) as a Markdown file."""
        path = Path(path)
        if self.session.ab_mode:
            convs = self.session.conversations()
            path.write_text(ab_markdown(convs["A"], convs["B"], self.pickers.adapter_label()),
                            encoding="utf-8")
            return path
        return export_markdown(self.conversation, path)

    def shutdown(self) -> None:
        self.serve.shutdown()
        self.worker.shutdown()

    def _serve_choice(self) -> tuple[str, dict[str, str]]:
        """What the Serve switch serves: the chosen model, and the adapter under its run name."""
        adapter = self.pickers.adapter_path()
        return self.pickers.model_path(), ({self.pickers.adapter_label(): adapter} if adapter
                                           else {})

    # -- asking -----------------------------------------------------------------------------
    def _setup(self) -> Any:
        from llamahome_gui.core.chat.setup import ChatSetup
        from llamahome_gui.core.models.loading import remote_code_allowed

        state = self.ctx.state
        setup = ChatSetup.from_values(state.values("model"), state.values("inference"))
        # a ./config found in the working folder does not get to run a model's own code
        allowed, note = remote_code_allowed(
            setup.trust_remote_code, flag=False, trusted_source=self.ctx.config.is_users_own,
            source=str(self.ctx.config.path("model")))
        if note:
            self.ctx.show_status(note, 15000)
        return setup.with_overrides(trust_remote_code=allowed, adapter_path=self.pickers.adapter_path())

    def _ask(self) -> None:
        try:
            setup = self._setup()
        except ValueError as exc:
            self.panel.transcript.add_notice(str(exc), "error")
            return
        if setup.load_key() != self.session.loaded_key:
            self._show_progress("Loading the model…")
        self.panel.expect_answers(self.worker.answer(setup), self.pickers.adapter_path())
        self._update_buttons()

    def _answer_title(self, side: str, adapter: str | None = None) -> str:
        """Who answers: side A is always the base model; else the adapter, if any."""
        label = self.pickers.adapter_label(adapter)
        if side == "A":
            return "A · base model"
        prefix = "B · " if side else "Assistant · "
        return f"{prefix}adapter {label}" if label else "Assistant · base model"

    def _show_progress(self, text: str) -> None:
        self.progress_label.setText(text)
        self.progress.setVisible(bool(text))
        self.progress_label.setVisible(bool(text))

    # -- worker events ----------------------------------------------------------------------
    def _on_worker_load_progressed(self, event: Any) -> None:
        self._show_progress(event.message)

    def _on_worker_state_changed(self, _event: Any) -> None:
        self._update_buttons()

    def _on_worker_loaded(self, event: Any) -> None:
        info = event.info
        self._show_progress("")
        engine = info.decode.split(" (")[0] or info.device  # e.g. llama.cpp/f16, llama/float16
        self.status.setText(f"Ready · {engine} on {info.device} · context "
                            f"{info.context_limit:,} · loaded in {info.seconds:.1f} s")
        self.ctx.show_status(f"Chat model {info.model_name} loaded", 4000)
        self.load_button.setText("Unload model")
        self._update_buttons()

    def _on_worker_adapter_changed(self, _event: Any) -> None:
        self._show_progress("")
        self._update_buttons()

    def _on_worker_failed(self, event: Any) -> None:
        what = FAILURES.get(event.stage, "Chat failed")
        if event.stage == "load":
            self.load_button.setText("Load model")
            self.panel.forget_answers()  # no model: the answers asked for will not come
        if event.stage == "adapter" and self.pickers.adapter_path():
            self.pickers.set_adapter("")  # say so, and let the base model answer
            what += " (the base model answers now)"
        self._show_progress("")
        self.panel.on_failed(event, f"{what}: {event.message}")
        self.ctx.show_status(f"{what}: {event.message}", 10000)
        self._update_buttons()

    def _on_worker_unloaded(self, event: Any) -> None:
        self.status.setText(f"Model unloaded · {event.freed_bytes / 2**20:,.0f} MiB freed")
        self.load_button.setText("Load model")
        self._update_buttons()

    def _on_panel_answers_done(self) -> None:
        if any(c.messages for c in self.session.conversations().values()):
            self._save()  # an A/B comparison too: it reopens as A/B
        self._update_buttons()

    # -- other slots ------------------------------------------------------------------------
    def _on_load_button_clicked(self) -> None:
        if self.session.loaded_key is not None and self.session.state != ChatState.LOADING:
            self.stop()
            self.worker.unload()
            return
        self._reload()

    def _reload(self) -> None:
        try:
            setup = self._setup()
        except ValueError as exc:
            self.panel.transcript.add_notice(str(exc), "error")
            return
        self._show_progress("Loading the model…")
        self.worker.load_setup(setup)

    def _on_pickers_model_changed(self, _path: str) -> None:
        if self.session.loaded_key is not None:  # load the new model now, not at the next question
            self.stop()
            self._reload()

    def _on_pickers_adapter_changed(self, path: str) -> None:
        self.worker.set_adapter(path)  # the base model stays loaded
        if not path:
            self.ab_check.setChecked(False)
        elif self.session.ab_mode:
            self.panel.set_b_label(self.pickers.adapter_label(path))
        self.ctx.show_status(f"Adapter: {self.pickers.adapter_label(path) or 'none (base model)'}",
                             4000)
        self._update_buttons()

    def _on_ab_check_toggled(self, on: bool) -> None:
        self.stop()
        self.session.set_ab_mode(on)
        self._show_ab_layout(on)
        self.panel.show_ab_mode(on, self.pickers.adapter_label())
        if on:
            self._path_before_ab, self._saved_path = self._saved_path, None
        else:
            back, self._path_before_ab, self._saved_path = self._path_before_ab, None, None
            if back is not None and back.is_file():
                self.open_conversation(back)
        self._refresh_history()
        self._update_buttons()

    def _show_ab_layout(self, on: bool) -> None:
        """A/B needs the width: the settings pane folds away while it is on and comes back
        as it was after; the check box follows a reopened comparison."""
        self.ab_check.blockSignals(True)
        self.ab_check.setChecked(on)
        self.ab_check.blockSignals(False)
        if on == self._ab_layout:
            return
        self._ab_layout = on
        if on:
            self._settings_before_ab = self.settings_toggle.isChecked()
            self.settings_toggle.setChecked(False)
        else:
            self.settings_toggle.setChecked(self._settings_before_ab)
        self.settings_toggle.setEnabled(not on)
        self.settings_toggle.setToolTip("Hidden while A/B compares: the two answers need the "
                                        "width" if on else "Show or hide the system prompt and "
                                        "generation settings")

    def _on_history_export_requested(self) -> None:
        name = (self.conversation.title or "conversation").replace("/", "-")[:40]
        path, _ = QFileDialog.getSaveFileName(self, "Export conversation as Markdown",
                                              str(Path.home() / f"{name}.md"), "Markdown (*.md)")
        if path:
            self.ctx.show_status(f"Exported to {self.export_markdown(Path(path))}", 6000)

    def _on_history_delete_requested(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        if path == self._saved_path:
            self.new_chat()
        self._refresh_history()

    # -- helpers ----------------------------------------------------------------------------
    def _history_folder(self) -> Path:
        return history_dir(str(self.ctx.state.value("inference.chat.history_dir") or ""))

    def _save(self) -> None:
        try:
            self._saved_path = save_conversation(self.session.saved_form(),
                                                 self._history_folder())
        except OSError as exc:
            self.ctx.show_status(f"Could not save the conversation: {exc}", 10000)
            return
        self._refresh_history()

    def _refresh_history(self) -> None:
        self.history.reload(self._history_folder(), self._saved_path)

    def _update_buttons(self) -> None:
        busy = self.generating
        p = self.panel
        p.send_button.setEnabled(not busy)
        p.stop_button.setEnabled(busy)
        has_messages = any(c.messages for c in p.conversations().values())
        p.regenerate_button.setEnabled(not busy and has_messages)
        self.history.export_button.setEnabled(has_messages)
        self.ab_check.setEnabled(bool(self.pickers.adapter_path()) and not busy)
        self.load_button.setEnabled(self.session.state != ChatState.LOADING)
        self.history.setEnabled(not busy)
