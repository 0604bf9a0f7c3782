"""ChatConversationPanel: draws the chat session's conversation(s), the message box and the
answer controls.

The conversations live in the session (core/chat/session.py); this panel paints them and the
streamed text of the answers on their way (batched every ``FLUSH_MS``). In A/B mode it shows
two columns: A is always the base model, B the adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.core.chat.conversation import Conversation
from llamahome_gui.core.chat.session import AB_SIDES, ChatSession
from llamahome_gui.ui.widgets.chat_input import ChatInputWidget
from llamahome_gui.ui.widgets.chat_message import ElidedLabel
from llamahome_gui.ui.widgets.chat_transcript import ChatTranscriptWidget

FLUSH_MS = 40  # streamed text is painted at most this often
AB_MIN_COLUMN = 260  # px: below this an A/B answer reads one word per line
WELCOME = ("<h2>Chat with your model</h2><p>It runs on this computer: nothing leaves it.</p>"
           "<p><b>Enter</b> sends · <b>Shift+Enter</b> starts a new line · <b>Esc</b> stops "
           "an answer</p>")

TitleFor = Callable[[str, str | None], str]  # (side, adapter path) -> bubble title


class ChatConversationPanel(QWidget):
    answers_done = pyqtSignal()  # every queued answer has finished, failed or been stopped

    def __init__(self, session: ChatSession, title_for: TitleFor,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._title_for = title_for
        self._answers: dict[int, tuple[str, str]] = {}  # request id -> (side, bubble title)
        self._bubbles: dict[int, Any] = {}  # request id -> message widget, once it started
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
            header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            column = QWidget()
            box = QVBoxLayout(column)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(0)
            box.addWidget(header)
            box.addWidget(view, 1)
            self.columns.addWidget(column)
        self.columns.setChildrenCollapsible(False)
        for index in (0, 1):
            self.columns.setStretchFactor(index, 1)  # equal shares when the window resizes
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
        self.status = ElidedLabel()  # a long line ends in "…" (whole in its tooltip)
        self.status.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
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
        controls.addWidget(self.status, 1)
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
        return self.session.ab_mode

    @property
    def conversation(self) -> Conversation:
        return self.session.conversation

    def conversations(self) -> dict[str, Conversation]:
        return self.session.conversations()

    def view(self, side: str) -> ChatTranscriptWidget:
        return self.transcript_b if side == "B" else self.transcript

    def set_colors(self, colors: dict[str, str]) -> None:
        self.transcript.set_colors(colors)
        self.transcript_b.set_colors(colors)

    # -- drawing ----------------------------------------------------------------------------
    def show_ab_mode(self, on: bool, adapter_label: str = "") -> None:
        """Two empty columns (on), or one empty chat (off)."""
        self.forget_answers()
        self.set_b_label(adapter_label)
        self.columns.widget(1).setVisible(on)
        self.header_a.setVisible(on)
        for index in (0, 1):
            self.columns.widget(index).setMinimumWidth(AB_MIN_COLUMN if on else 0)
        if on:
            self.equalize_columns()
        self.transcript.set_welcome("" if on else WELCOME)
        self.transcript.clear()
        self.transcript_b.clear()

    def set_b_label(self, adapter_label: str) -> None:
        """Column B's title; a long run name is shortened in the middle (whole in the tooltip)."""
        shown = adapter_label if len(adapter_label) <= 34 else \
            f"{adapter_label[:16]}…{adapter_label[-16:]}"
        self.header_b.setText(f"B · adapter {shown}")
        self.header_b.setToolTip(adapter_label)

    def equalize_columns(self) -> None:
        """A and B get the same width (the splitter keeps the shares as the window resizes)."""
        total = max(self.columns.width(), 2 * AB_MIN_COLUMN)
        self.columns.setSizes([total // 2, total - total // 2])

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self.ab_mode:
            self.equalize_columns()

    def show_conversation(self, conversation: Conversation, side: str = "") -> None:
        """A saved conversation (or one side of an A/B one), as it was: answers with their
        figures."""
        if side != "B":
            self.forget_answers()
        view = self.view(side)
        view.clear()
        for message in conversation.messages:
            if message.role == "user":
                view.add_message("user", "You", message.content)
            elif message.role == "assistant":
                stats = message.stats or {}
                adapter = "" if side == "A" else stats.get("adapter", conversation.adapter)
                bubble = view.add_message("assistant", self._title_for(side, adapter),
                                          message.content)
                bubble.set_footer(stats.get("summary", ""))

    def show_question(self, text: str) -> None:
        for side in self.conversations():
            self.view(side).add_message("user", "You", text)

    def remove_last_answers(self) -> None:
        """The session dropped the newest answer(s) (Regenerate): so do the columns."""
        for side in self.conversations():
            shown = self.view(side).messages()
            if shown and shown[-1].role == "assistant":
                self.view(side).remove_last_message()

    def expect_answers(self, request_ids: list[int], adapter_path: str) -> None:
        """Answers are on their way under these ids; each gets its bubble when it starts."""
        sides = AB_SIDES if self.ab_mode else (("", None),)
        for request_id, (side, use_adapter) in zip(request_ids, sides, strict=False):
            title = self._title_for(side, adapter_path if use_adapter is not False else "")
            self._answers[request_id] = (side, title)
        self.status.setText("Generating…")
        self._frozen = False
        self._flush_timer.start()

    def freeze(self) -> dict[int, str]:
        """Stop pressed: show what has arrived and nothing after, at once (the worker may
        still be finishing its current token). Returns what each answer shows."""
        self._flush()
        self._frozen = True
        return {request_id: bubble.text() for request_id, bubble in self._bubbles.items()}

    def forget_answers(self) -> None:
        """Stop painting answers still on their way (new chat, another conversation)."""
        self._answers.clear()
        self._bubbles.clear()
        self._buffer.clear()
        self._flush_timer.stop()

    # -- session events ---------------------------------------------------------------------
    def on_started(self, event: Any) -> None:
        if event.request_id not in self._answers:
            return
        side, title = self._answers[event.request_id]
        if event.notice:
            self.view(side).add_notice(event.notice)
        bubble = self.view(side).add_message("assistant", title, "")
        bubble.set_footer("Thinking…")
        self._bubbles[event.request_id] = bubble
        self.status.setText(f"Generating… · context {event.prompt_tokens:,}/"
                            f"{event.context_limit:,} tokens")

    def on_token(self, event: Any) -> None:
        if event.request_id in self._bubbles and not self._frozen:
            self._buffer[event.request_id] = self._buffer.get(event.request_id, "") + event.text

    def on_finished(self, event: Any) -> None:
        self._flush()
        side, _title = self._answers.pop(event.request_id, (None, ""))
        if side is None:
            return
        bubble = self._bubbles.pop(event.request_id, None)
        if bubble is not None:
            if event.stats is None or (not event.text and event.stats.stop_reason == "stopped"):
                self._remove(bubble)
            else:
                bubble.set_text(event.text)  # the session kept what the user saw at Stop
                bubble.set_title(self._title_for(side, event.stats.adapter))
                bubble.set_footer(event.stats.summary)
                self.status.setText(event.stats.summary)
        self._after_answer()

    def on_failed(self, event: Any, message: str) -> None:
        """A failure; the notice goes to the column of the answer that failed."""
        side = event.side
        if event.request_id is not None:
            side = self._answers.pop(event.request_id, (side, ""))[0]
            bubble = self._bubbles.pop(event.request_id, None)
            if bubble is not None and not bubble.text():
                self._remove(bubble)
        self.view(side).add_notice(message, "error")
        if event.request_id is not None:
            self._after_answer()

    def _remove(self, bubble: Any) -> None:
        view = self.transcript_b if bubble in self.transcript_b.messages() else self.transcript
        if view.messages() and view.messages()[-1] is bubble:
            view.remove_last_message()

    def _after_answer(self) -> None:
        if not self._answers:
            self._flush_timer.stop()
            self.answers_done.emit()

    def _flush(self) -> None:
        for request_id, text in self._buffer.items():
            bubble = self._bubbles.get(request_id)
            if bubble is not None:
                bubble.append_text(text)
                bubble.set_footer("")
        self._buffer.clear()
