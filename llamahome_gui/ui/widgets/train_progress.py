"""TrainProgressPanel: what a running (or just ended) training run looks like.

Status line, progress bar with step / total, elapsed, ETA, tokens per second, live curves,
the trainer's log, and, once finished, the result with "Chat with this adapter". It only
shows what it is given (events from the worker); it starts and stops nothing itself.
"""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QFont, QFontDatabase, QGuiApplication
from PyQt6.QtWidgets import (
    QFrame,
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
from llamahome_gui.ui.widgets.train_stats import ElidedLabel, StatsGrid

LOG_LINES = 2000
FINAL_MEAN_STEPS = 10  # "Train loss" of a finished run: the mean of this many last steps
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
        self._eval_loss: float | None = None
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

        self.stats = StatsGrid()
        self.stat_labels = self.stats.values

        # the finished run in two short lines: figures; adapter path (elided) and actions
        self.result_box = QFrame()
        self.result_box.setObjectName("train.result")
        self.result_box.setFrameShape(QFrame.Shape.StyledPanel)
        self.result_label = QLabel()
        self.result_label.setObjectName("train.result.summary")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.adapter_label = ElidedLabel()
        self.adapter_label.setObjectName("train.result.adapter")
        self.folder_button = QPushButton("Open")
        self.folder_button.setObjectName("train.result.open")
        self.folder_button.setToolTip("Open the run folder (adapter, checkpoints, logs)")
        self.folder_button.clicked.connect(self._on_folder_clicked)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("train.result.copy")
        self.copy_button.setToolTip("Copy the adapter's path")
        self.copy_button.clicked.connect(self._on_copy_clicked)
        self.chat_button = QPushButton("Chat with it")
        self.chat_button.setObjectName("train.chat")
        self.chat_button.setToolTip("Open the Chat page with this adapter on the base model")
        self.chat_button.clicked.connect(self._on_chat_clicked)
        # Further actions on the finished run (an Export… button) go into this row, before
        # "Chat with it": ``add_result_action(button)``.
        self.result_actions = QHBoxLayout()
        self.result_actions.setSpacing(6)
        self.result_actions.addWidget(self.adapter_label, 1)
        self.result_actions.addWidget(self.folder_button)
        self.result_actions.addWidget(self.copy_button)
        self.result_actions.addWidget(self.chat_button)
        result = QVBoxLayout(self.result_box)
        result.setContentsMargins(8, 4, 8, 4)
        result.setSpacing(2)
        result.addWidget(self.result_label)
        result.addLayout(self.result_actions)
        self.result_box.hide()

        self.plot = LossPlotWidget(x_label="step", show_resources=True, switchable=True)
        self.log = QPlainTextEdit()
        self.log.setObjectName("train.log")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setPlaceholderText("The trainer's output appears here.")
        self.empty_label = QLabel(
            "<p style='font-size:13pt'>No run yet</p>"
            "<p>Live curves appear here once training starts: training and evaluation loss, "
            "the learning rate with checkpoint markers, and CPU / RAM / GPU load, by step or by "
            "time.</p>")
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
        split.setCollapsible(0, False)  # the log gives way first (it can be dragged back)
        split.setSizes([520, 110])

        head = QHBoxLayout()
        head.addWidget(self.state_label)
        head.addWidget(self.run_label, 1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.message_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.stats)
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
            self._eval_loss = None
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
        if event.start_step:
            self.plot.resume_at(event.start_step)
        total = max(event.total_steps, 1)
        self.progress.setRange(0, total)
        self.progress.setValue(event.start_step)
        self.progress.setFormat(f"step {event.start_step} / {event.total_steps}  (%p%)")
        params = f"{event.trainable_params:,} trainable parameters · " if event.trainable_params else ""
        resumed = f"resumed at step {event.start_step} · " if event.start_step else ""
        self.message_label.setText(f"{resumed}{params}{event.total_steps} steps")

    def on_step(self, event: StepLogged) -> None:
        self.plot.add_loss(event.step, event.loss, event.lr, time=self.x_of(event.time))
        self.plot_stack.setCurrentWidget(self.plot)
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
        self.plot.add_eval(event.step, event.eval_loss, time=self.x_of(event.time))
        self._eval_loss = event.eval_loss
        self.stat_labels["eval"].setText(fmt_loss(event.eval_loss))

    def on_checkpoint(self, event: Checkpointed) -> None:
        self.plot.add_checkpoint(event.step, f"ckpt {event.step}", time=self.x_of(event.time))

    def replay(self, history: list[object], *, with_end: bool = False) -> None:
        """Curves and figures of recorded events (a resumed or re-attached run's past; with
        ``with_end`` also how it ended: the last run shown after a restart)."""
        for event in history:
            if isinstance(event, RunStarted):
                self.x_of(event.time)
                if event.start_step:
                    self.plot.resume_at(event.start_step)
            elif isinstance(event, StepLogged):
                self.on_step(event)
            elif isinstance(event, Evaluated):
                self.on_eval(event)
            elif isinstance(event, Checkpointed):
                self.on_checkpoint(event)
            elif isinstance(event, SampleGenerated):
                self.on_sample(event)
            elif with_end and isinstance(event, RunFinished):
                self.on_finished(event)
            elif with_end and isinstance(event, RunStopped):
                self.on_stopped(event)
            elif with_end and isinstance(event, RunFailed):
                self.on_failed(event)

    def show_past_run(self, run_dir: Path, history: list[object]) -> None:
        """A run from an earlier session, as it ended (curves, figures, result)."""
        self.begin(run_dir)
        self.message_label.setText("")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(f"last run: {Path(run_dir).name}")
        self.replay(history, with_end=True)
        self.plot.flush()

    def result_figures(self, final_loss: float | None) -> str:
        """"Final loss" as it deserves to be read: the last evaluation and the mean of the
        last logged steps (one batch's loss is noise), the raw last step only as a fallback."""
        track = next(iter(self.plot.tracks()), None)
        mean = track.recent_mean(FINAL_MEAN_STEPS) if track is not None else None
        values = track.loss.values() if track is not None else []
        count = min(FINAL_MEAN_STEPS, int(sum(1 for v in values if v == v)))
        parts = []
        if self._eval_loss is not None:
            parts.append(f"<b>Eval loss</b> {fmt_loss(self._eval_loss)}")
        if mean is not None:
            parts.append(f"<b>Train loss</b> {fmt_loss(mean)} <span style='color:#64748b'>"
                         f"(mean of the last {count} steps)</span>")
        elif final_loss is not None:
            parts.append(f"<b>Last step loss</b> {fmt_loss(final_loss)}")
        return " &nbsp;·&nbsp; ".join(parts)

    def add_result_action(self, widget: QWidget) -> None:
        """Another action on the finished run, placed before "Chat with it"."""
        self.result_actions.insertWidget(self.result_actions.indexOf(self.chat_button), widget)

    def on_log(self, line: str) -> None:
        self.log.appendPlainText(line)

    def on_finished(self, event: RunFinished) -> None:
        self.set_state("done")
        self._adapter = event.adapter
        self.progress.setRange(0, max(self.progress.maximum(), 1))
        self.progress.setValue(self.progress.maximum())
        self.stat_labels["eta"].setText("–")
        self.message_label.setText("The adapter is saved; chat with it or train again.")
        figures = self.result_figures(event.final_loss)
        self.result_label.setText(" &nbsp;·&nbsp; ".join(
            p for p in (figures, f"<b>Duration</b> {fmt_duration(event.duration_s)}") if p))
        self.adapter_label.set_full_text(f"Adapter: {event.adapter}" if event.adapter else
                                         "No adapter was saved")
        self.adapter_label.setToolTip(event.adapter)
        self.chat_button.setVisible(bool(event.adapter))
        self.copy_button.setVisible(bool(event.adapter))
        self.result_box.show()

    def on_stopped(self, event: RunStopped) -> None:
        self.set_state("stopped")
        self.stat_labels["eta"].setText("–")
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
        self.stat_labels["eta"].setText("–")
        hint = f"<br><i>{_escape(event.hint)}</i>" if event.hint else ""
        self.message_label.setText(f"<b>{_escape(event.message)}</b>{hint}")
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        self.progress.setFormat("failed")

    def _on_chat_clicked(self) -> None:
        if self._adapter:
            self.chat_requested.emit(self._adapter)

    def _on_copy_clicked(self) -> None:
        if self._adapter:
            QGuiApplication.clipboard().setText(self._adapter)

    def _on_folder_clicked(self) -> None:
        if self._run_dir:
            self.open_folder_requested.emit(self._run_dir)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
