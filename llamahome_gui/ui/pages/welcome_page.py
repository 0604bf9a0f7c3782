"""Welcome page: what a new user does first, in two buttons.

The app opens here on its first launch (no runs yet and no page remembered, see
``llamahome_gui.app``): "Train the starter model on the sample data" starts a short run on
the Train page, "Chat with the starter model" opens the Chat page. The short run is the
user's current settings with :data:`STARTER_RUN` laid over them as run-plan overrides, so no
config file changes. ``FirstRunPanel`` is also what the empty Runs page shows.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from llamahome_gui.ui.context import AppContext

# The starter model (empty path), the bundled sample data (empty path), a few dozen steps:
# about a minute on a laptop CPU, enough for the answers to change visibly.
STARTER_RUN = ["model.model.path=", "training.training.dataset_path=",
               "training.training.max_steps=30", "training.training.save_steps=30"]
TRAIN_TEXT = "Train the starter model on the sample data"
CHAT_TEXT = "Chat with the starter model"
COLUMN_WIDTH = 620  # fits the page at the smallest window (1024 px wide)


class FirstRunPanel(QWidget):
    """The two first steps as buttons with a line each; ``compact``: the train button only."""

    def __init__(self, ctx: AppContext, *, compact: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.train_button = QPushButton(TRAIN_TEXT)
        self.train_button.setObjectName("welcome.train")
        self.train_button.setProperty("primary", True)
        self.train_button.setMinimumHeight(36)
        self.train_button.setToolTip("Starts a 30-step LoRA run of SmolLM2-135M-Instruct on the "
                                     "bundled sample dataset; your config files stay as they are")
        self.train_button.clicked.connect(self._on_train_clicked)
        self.chat_button = QPushButton(CHAT_TEXT)
        self.chat_button.setObjectName("welcome.chat")
        self.chat_button.setMinimumHeight(36)
        self.chat_button.clicked.connect(self._on_chat_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(14)
        layout.addWidget(_step(self.train_button,
                               "A short LoRA fine-tune (30 steps, about a minute on a laptop "
                               "CPU). The Train page shows the loss falling; when it is done, "
                               "\u201cChat with this adapter\u201d talks to the result."))
        if not compact:
            layout.addWidget(_step(self.chat_button,
                                   "Talk to the model as it is, before any training. It runs on "
                                   "this computer: nothing leaves it."))
        else:
            self.chat_button.hide()

    def _on_train_clicked(self) -> None:
        self.ctx.request_start_run(list(STARTER_RUN))

    def _on_chat_clicked(self) -> None:
        self.ctx.request_chat_with_adapter("")


def _step(button: QPushButton, text: str) -> QWidget:
    """The button, and under it one muted line saying what it does."""
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(4)
    button.setMinimumWidth(340)
    row = QHBoxLayout()
    row.addWidget(button)
    row.addStretch(1)
    column.addLayout(row)
    note = QLabel(text)
    note.setWordWrap(True)
    note.setProperty("muted", True)
    column.addWidget(note)
    return box


def centred(widget: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addStretch(1)
    row.addWidget(widget)
    row.addStretch(1)
    return row


class WelcomePage(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page.welcome")
        self.ctx = ctx
        title = QLabel("Welcome to LlamaHome")
        title.setObjectName("placeholderTitle")
        title.setStyleSheet("font-size: 18pt; font-weight: 600;")
        intro = QLabel("Fine-tune a language model on your own examples and chat with it, on "
                       "this computer. Start with the small model and the sample data that "
                       "come with the app:")
        intro.setWordWrap(True)
        self.panel = FirstRunPanel(ctx)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setProperty("muted", True)
        later = QLabel("Then: choose your own data (JSON lines, one conversation per line) on "
                       "the <b>Train</b> page; every setting is on the <b>Configs</b> page; the "
                       "<b>Runs</b> page keeps every run to compare, chat with or export. "
                       "This page stays under Help \u2192 Getting Started.")
        later.setWordWrap(True)
        later.setProperty("muted", True)
        column = QWidget()
        column.setFixedWidth(COLUMN_WIDTH)  # a known width: the wrapped lines get their height
        box = QVBoxLayout(column)
        box.setSpacing(16)
        box.addWidget(title)
        box.addWidget(intro)
        box.addSpacing(6)
        box.addWidget(self.panel)
        box.addSpacing(6)
        box.addWidget(line)
        box.addWidget(later)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 24, 24, 24)
        outer.addStretch(1)
        outer.addLayout(centred(column))
        outer.addStretch(2)


def create_page(ctx: AppContext) -> QWidget:
    return WelcomePage(ctx)
