"""TrainProgressPanel: what a running (or just ended) training run looks like.

Status line, progress bar with step / total, elapsed, ETA, tokens per second, live curves,
the trainer's log, and, once finished, the result with "Chat with this adapter". It only
shows what it is given (events from the worker); it starts and stops nothing itself.
"""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QFont, QFontDatabase
from PyQt6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.core.runs.events import (
    Checkpointed,
    Evaluated,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    SampleGenerated,
    StepLogged,
)
from llamahome_gui.core.units import fmt_duration
from llamahome_gui.ui.widgets.loss_plot import LossPlotWidget
from llamahome_gui.ui.widgets.train_samples import RewardPlotWidget, SampleTimelineWidget

LOG_LINES = 2000
STATE_STYLES = {
    "idle": ("Ready", "#64748b"),
    "starting": ("Starting…", "#2563eb"),
    "running": ("Running", "#2563eb"),
    "stopping": ("Stopping…", "#d97706"),
    "forcing": ("Stopping (forced)…", "#d97706"),
    "done": ("Finished", "#16a34a"),
    "stopped": ("Stopped", "#d97706"),
    "failed": ("Failed", "#dc2626"),
}


def fmt_loss(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


class TrainProgressPanel(QWidget):
    """The right-hand side of the Train page."""

    chat_requested = pyqtSignal(str)         # adapter folder
    open_folder_requested = pyqtSignal(str)  # any folder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._t0: float | None = None
        self._step_offset = 0
        self._adapter = ""
        self._run_dir = ""
        self.state_label = QLabel()
        self.state_label.setObjectName("train.state")
        bold = QFont(self.font())
        bold.setPointSizeF(bold.pointSizeF() * 1.35)
        bold.setBold(True)
        self.state_label.setFont(bold)
        self.message_label = QLabel()
        self.message_label.setObjectName("train.message")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_label = QLabel()
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_label.setProperty("muted", True)
        self.progress = QProgressBar()
        self.progress.setObjectName("train.progress")
        self.progress.setTextVisible(True)
        self.progress.setFormat("no run yet")
        self.progress.setValue(0)

        stats = QGridLayout()
        stats.setHorizontalSpacing(24)
        self.stat_labels: dict[str, QLabel] = {}
        for col, (key, title) in enumerate((("step", "Step"), ("loss", "Loss"),
                                            ("eval", "Eval loss"), ("elapsed", "Elapsed"),
                                            ("eta", "Remaining"), ("tps", "Tokens / s"))):
            head = QLabel(title)
            head.setProperty("muted", True)
            value = QLabel("–")
            value.setObjectName(f"train.stat.{key}")
            big = QFont(self.font())
            big.setPointSizeF(big.pointSizeF() * 1.25)
            value.setFont(big)
            stats.addWidget(head, 0, col)
            stats.addWidget(value, 1, col)
            self.stat_labels[key] = value

        self.result_box = QFrame()
        self.result_box.setObjectName("train.result")
        self.result_box.setFrameShape(QFrame.Shape.StyledPanel)
        result = QHBoxLayout(self.result_box)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chat_button = QPushButton("Chat with this adapter")
        self.chat_button.setObjectName("train.chat")
        self.chat_button.clicked.connect(self._on_chat_clicked)
        self.folder_button = QPushButton("Open run folder")
        self.folder_button.clicked.connect(self._on_folder_clicked)
        result.addWidget(self.result_label, 1)
        result.addWidget(self.folder_button)
        result.addWidget(self.chat_button)
        self.result_box.hide()

        self.plot = LossPlotWidget(x_label="time", show_resources=True)
        self.log = QPlainTextEdit()
        self.log.setObjectName("train.log")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setPlaceholderText("The trainer's output appears here.")
        self.empty_label = QLabel(
            "<p style='font-size:13pt'>No run yet</p>"
            "<p>Live curves appear here once training starts: training and evaluation loss, "
            "the learning rate with checkpoint markers, and CPU / RAM / GPU load on the same "
            "time axis.</p>")
        self.empty_label.setProperty("muted", True)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMargin(40)
        self.plot_stack = QStackedWidget()
        self.plot_stack.addWidget(self.empty_label)
        self.plot_stack.addWidget(self.plot)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plot_stack)
        self.samples = SampleTimelineWidget()
        self.rewards = RewardPlotWidget()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("train.output")
        self.tabs.addTab(self.log, "Log")
        self.tabs.addTab(self.samples, "Sample answers")
        self.tabs.addTab(self.rewards, "Rewards (DPO)")
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([520, 140])

        head = QHBoxLayout()
        head.addWidget(self.state_label)
        head.addWidget(self.run_label, 1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.message_label)
        layout.addWidget(self.progress)
        layout.addLayout(stats)
        layout.addWidget(self.result_box)
        layout.addWidget(split, 1)
        self.set_state("idle")
        self.message_label.setText("Pick a model and a dataset, check the settings, then press "
                                   "Start training.")

    # ------------------------------------------------------------------ state
    def set_state(self, state: str) -> None:
        text, colour = STATE_STYLES.get(state, (state, "#64748b"))
        self.state_label.setText(text)
        self.state_label.setStyleSheet(f"color: {colour};")
        self.state = state

    def begin(self, run_dir: Path, *, keep_curves: bool = False) -> None:
        """A new run (or a resumed one, whose earlier curve stays) is about to start."""
        self._run_dir = str(run_dir)
        self.run_label.setText(f"Run: {Path(run_dir).name}")
        self.result_box.hide()
        self.plot_stack.setCurrentWidget(self.plot)
        self.message_label.setText("Loading the model and the data…")
        if not keep_curves:
            self.plot.clear()
            self._t0 = None
            self.log.clear()
            self.samples.clear()
            self.rewards.clear()
            for label in self.stat_labels.values():
                label.setText("–")
            self.progress.setRange(0, 0)  # busy until the trainer reports its total
            self.progress.setFormat("starting…")

    def x_of(self, event_time: float | None) -> float:
        """Seconds since the run started, on the clock shared with the machine monitor."""
        now = event_time if event_time is not None else time.time()
        if self._t0 is None:
            self._t0 = now
        return now - self._t0

    @property
    def t0(self) -> float | None:
        return self._t0

    # ------------------------------------------------------------------ events
    def on_started(self, event: RunStarted) -> None:
        self.x_of(event.time)  # the run's clock starts at its first start event
        total = max(event.total_steps, 1)
        self.progress.setRange(0, total)
        self.progress.setValue(event.start_step)
        self.progress.setFormat(f"step {event.start_step} / {event.total_steps}  (%p%)")
        params = f"{event.trainable_params:,} trainable parameters · " if event.trainable_params else ""
        resumed = f"resumed at step {event.start_step} · " if event.start_step else ""
        self.message_label.setText(f"{resumed}{params}{event.total_steps} steps")

    def on_step(self, event: StepLogged) -> None:
        x = self.x_of(event.time)
        self.plot.add_loss(x, event.loss, event.lr)
        self.rewards.add(event)
        if event.max_steps:
            if self.progress.maximum() != event.max_steps:
                self.progress.setRange(0, event.max_steps)
            self.progress.setValue(event.step)
            self.progress.setFormat(f"step {event.step} / {event.max_steps}  (%p%)")
        self.stat_labels["step"].setText(f"{event.step} / {event.max_steps or '?'}")
        self.stat_labels["loss"].setText(fmt_loss(event.loss))
        self.stat_labels["elapsed"].setText(fmt_duration(event.elapsed_s))
        self.stat_labels["eta"].setText(fmt_duration(event.eta_s))
        if event.tokens_per_s is not None:
            self.stat_labels["tps"].setText(f"{event.tokens_per_s:,.0f}")
        if event.epoch is not None:
            self.message_label.setText(f"epoch {event.epoch:.2f}")

    def on_sample(self, event: SampleGenerated) -> None:
        first = not self.samples.samples
        self.samples.add(event)
        if first:  # the answers are what a person watches for: show them once they come
            self.tabs.setCurrentWidget(self.samples)

    def on_eval(self, event: Evaluated) -> None:
        self.plot.add_eval(self.x_of(event.time), event.eval_loss)
        self.stat_labels["eval"].setText(fmt_loss(event.eval_loss))

    def on_checkpoint(self, event: Checkpointed) -> None:
        self.plot.add_checkpoint(self.x_of(event.time), f"ckpt {event.step}")

    def replay(self, history: list[object]) -> None:
        """Curves and figures of recorded events (a resumed or re-attached run's past)."""
        for event in history:
            if isinstance(event, StepLogged):
                self.on_step(event)
            elif isinstance(event, Evaluated):
                self.on_eval(event)
            elif isinstance(event, Checkpointed):
                self.on_checkpoint(event)
            elif isinstance(event, SampleGenerated):
                self.on_sample(event)

    def on_log(self, line: str) -> None:
        self.log.appendPlainText(line)

    def on_finished(self, event: RunFinished) -> None:
        self.set_state("done")
        self._adapter = event.adapter
        self.progress.setValue(self.progress.maximum())
        self.message_label.setText("The adapter is saved; chat with it or train again.")
        self.result_label.setText(
            f"<b>Final loss</b> {fmt_loss(event.final_loss)} &nbsp;·&nbsp; "
            f"<b>Duration</b> {fmt_duration(event.duration_s)}<br>"
            f"<b>Adapter</b> {event.adapter}")
        self.chat_button.setVisible(bool(event.adapter))
        self.result_box.show()

    def on_stopped(self, event: RunStopped) -> None:
        self.set_state("stopped")
        how = "by force " if event.forced else ""
        if event.checkpoint:
            at = f" at step {event.step}" if event.step is not None else ""
            text = (f"Stopped {how}{at}; the checkpoint {event.checkpoint} holds the progress. "
                    "Resume it from the Runs page.")
        else:
            text = f"Stopped {how}before the first checkpoint was written: nothing to resume."
        self.message_label.setText(text.replace("  ", " "))

    def on_failed(self, event: RunFailed) -> None:
        self.set_state("failed")
        hint = f"<br><i>{_escape(event.hint)}</i>" if event.hint else ""
        self.message_label.setText(f"<b>{_escape(event.message)}</b>{hint}")
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        self.progress.setFormat("failed")

    def _on_chat_clicked(self) -> None:
        if self._adapter:
            self.chat_requested.emit(self._adapter)

    def _on_folder_clicked(self) -> None:
        if self._run_dir:
            self.open_folder_requested.emit(self._run_dir)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
