"""ChatConversationPanel: the conversation(s), the message box and the answer controls.

It keeps the conversation data in step with what is on screen and paints streamed text from
the worker (batched every ``FLUSH_MS``). In A/B mode it shows two columns, each with its own
conversation: A is always the base model, B the adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.core.chat.conversation import Conversation
from llamahome_gui.ui.widgets.chat_input import ChatInputWidget
from llamahome_gui.ui.widgets.chat_transcript import ChatTranscriptWidget

FLUSH_MS = 40  # streamed text is painted at most this often
WELCOME = ("<h2>Chat with your model</h2><p>It runs on this computer: nothing leaves it.</p>"
           "<p><b>Enter</b> sends · <b>Shift+Enter</b> starts a new line · <b>Esc</b> stops "
           "an answer</p>")
AB_SIDES = (("A", False), ("B", True))  # side, use_adapter

TitleFor = Callable[[str, str | None], str]  # (side, adapter path) -> bubble title


class ChatConversationPanel(QWidget):
    answers_done = pyqtSignal()  # every queued answer has finished, failed or been stopped

    def __init__(self, title_for: TitleFor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title_for = title_for
        self.conversation = Conversation()
        self.ab_conversations: dict[str, Conversation] = {}
        self._answers: dict[int, tuple[str, Any]] = {}  # request id -> (side, message widget)
        self._buffer: dict[int, str] = {}
        self._frozen = False  # Stop pressed: nothing more is painted, whatever still arrives
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)

        self.transcript = ChatTranscriptWidget(WELCOME)
        self.transcript_b = ChatTranscriptWidget("")
        self.header_a, self.header_b = QLabel("A · base model"), QLabel()
        self.columns = QSplitter(Qt.Orientation.Horizontal)
        for header, view in ((self.header_a, self.transcript), (self.header_b, self.transcript_b)):
            header.setObjectName("chatSideHeader")
            header.setStyleSheet("font-weight: 600; padding: 6px 10px;")
            column = QWidget()
            box = QVBoxLayout(column)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(0)
            box.addWidget(header)
            box.addWidget(view, 1)
            self.columns.addWidget(column)
        self.columns.widget(1).hide()
        self.header_a.hide()

        self.input = ChatInputWidget()
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("chat.send")
        self.send_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("chat.stop")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setObjectName("chat.regenerate")
        self.regenerate_button.setToolTip("Answer the last question again")
        self.status = QLabel()
        self.status.setObjectName("chat.status")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        input_row = QHBoxLayout()
        input_row.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        input_row.addLayout(buttons)
        controls = QHBoxLayout()
        controls.addWidget(self.regenerate_button)
        controls.addStretch(1)
        controls.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.columns, 1)
        layout.addLayout(input_row)
        layout.addLayout(controls)

    # -- state ------------------------------------------------------------------------------
    @property
    def generating(self) -> bool:
        return bool(self._answers)

    @property
    def ab_mode(self) -> bool:
        return bool(self.ab_conversations)

    def conversations(self) -> dict[str, Conversation]:
        """Side -> conversation: {"": the chat} or {"A": base, "B": adapter}."""
        return self.ab_conversations if self.ab_mode else {"": self.conversation}

    def view(self, side: str) -> ChatTranscriptWidget:
        return self.transcript_b if side == "B" else self.transcript

    def set_colors(self, colors: dict[str, str]) -> None:
        self.transcript.set_colors(colors)
        self.transcript_b.set_colors(colors)

    # -- content ----------------------------------------------------------------------------
    def set_ab_mode(self, on: bool, adapter_label: str = "") -> None:
        """Two fresh columns (on), or back to one empty chat (off)."""
        self.forget_answers()
        self.conversation = Conversation()
        self.ab_conversations = {"A": Conversation(), "B": Conversation()} if on else {}
        self.header_b.setText(f"B · adapter {adapter_label}")
        self.columns.widget(1).setVisible(on)
        self.header_a.setVisible(on)
        self.transcript.set_welcome("" if on else WELCOME)
        self.transcript.clear()
        self.transcript_b.clear()

    def show_conversation(self, conversation: Conversation) -> None:
        """A saved conversation, as it was (answers with their figures)."""
        self.forget_answers()
        self.conversation = conversation
        self.transcript.clear()
        for message in conversation.messages:
            if message.role == "user":
                self.transcript.add_message("user", "You", message.content)
            elif message.role == "assistant":
                stats = message.stats or {}
                bubble = self.transcript.add_message(
                    "assistant", self._title_for("", stats.get("adapter", conversation.adapter)),
                    message.content)
                bubble.set_footer(stats.get("summary", ""))

    def add_question(self, text: str) -> None:
        for side, conv in self.conversations().items():
            conv.add("user", text)
            self.view(side).add_message("user", "You", text)

    def drop_last_answers(self) -> bool:
        """Remove the newest answer(s) (Regenerate); True when a question is left to answer."""
        for side, conv in self.conversations().items():
            if conv.messages and conv.messages[-1].role == "assistant":
                conv.messages.pop()
                self.view(side).remove_last_message()
        return any(c.messages and c.messages[-1].role == "user"
                   for c in self.conversations().values())

    def ask(self, worker: Any, setup: Any, adapter_path: str) -> None:
        """Queue the answer(s) to the last question; text streams into new bubbles."""
        sides = AB_SIDES if self.ab_mode else (("", None),)
        for side, use_adapter in sides:
            conv = self.conversations()[side]
            title = self._title_for(side, adapter_path if use_adapter is not False else "")
            bubble = self.view(side).add_message("assistant", title, "")
            bubble.set_footer("Thinking…")
            request_id = worker.generate(setup.system_prompt, conv.turns(), setup.settings,
                                         side=side, use_adapter=use_adapter)
            self._answers[request_id] = (side, bubble)
            conv.system_prompt = setup.system_prompt
        self.status.setText("Generating…")
        self._frozen = False
        self._flush_timer.start()

    def freeze(self) -> None:
        """Stop pressed: show what has arrived and nothing after, at once (the worker may
        still be finishing its current token)."""
        self._flush()
        self._frozen = True

    def forget_answers(self) -> None:
        """Stop painting answers still on their way (new chat, another conversation)."""
        self._answers.clear()
        self._buffer.clear()
        self._flush_timer.stop()

    # -- worker events ----------------------------------------------------------------------
    def on_started(self, event: Any) -> None:
        if event.request_id not in self._answers:
            return
        if event.notice:
            self.view(event.side).add_notice(event.notice)
        self.status.setText(f"Generating… · context {event.prompt_tokens:,}/"
                            f"{event.context_limit:,} tokens")

    def on_token(self, event: Any) -> None:
        if event.request_id in self._answers and not self._frozen:
            self._buffer[event.request_id] = self._buffer.get(event.request_id, "") + event.text

    def on_finished(self, event: Any) -> None:
        self._flush()
        side, bubble = self._answers.pop(event.request_id, (None, None))
        if bubble is None:
            return
        conv = self.conversations().get(side)
        text = bubble.text() if self._frozen else event.text  # what the user saw when stopping
        if event.stats is None or (not text and event.stats.stop_reason == "stopped"):
            self.view(side).remove_last_message()
        elif conv is not None:
            bubble.set_text(text)
            bubble.set_title(self._title_for(side, event.stats.adapter))
            bubble.set_footer(event.stats.summary)
            conv.add("assistant", text, event.stats.to_dict())
            self.status.setText(event.stats.summary)
        self._after_answer()

    def on_failed(self, event: Any, message: str) -> None:
        """A failure; the notice goes to the column of the answer that failed."""
        side, bubble = self._answers.pop(event.request_id, ("", None)) \
            if event.request_id is not None else (event.side, None)
        if bubble is not None and not bubble.text():
            self.view(side).remove_last_message()
        self.view(side).add_notice(message, "error")
        if bubble is not None:
            self._after_answer()

    def _after_answer(self) -> None:
        if not self._answers:
            self._flush_timer.stop()
            self.answers_done.emit()

    def _flush(self) -> None:
        for request_id, text in self._buffer.items():
            if request_id in self._answers:
                bubble = self._answers[request_id][1]
                bubble.append_text(text)
                bubble.set_footer("")
        self._buffer.clear()
