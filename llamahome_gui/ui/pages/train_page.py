"""Train page: choose model and data, tune the settings, press Start, watch it learn.

Left: the model picker, the dataset panel, the training and LoRA settings (generated from
the schema and bound to the same config state as the Configs page), the memory gauge and
Start / Stop. Right: the run as it happens (``TrainProgressPanel``). The trainer runs as a
child process owned by ``TrainWorker``; nothing the trainer does can freeze this window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import QCoreApplication, QSize, Qt, QTimer, QUrl
from PyQt6.QtGui import QDesktopServices
from PyQt6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.core.runs.events import (
    RunFailed,
    RunFinished,
    RunStopped,
    last_start_index,
    read_events,
)
from llamahome_gui.core.runs.folders import RUN_COMPONENTS
from llamahome_gui.core.units import fmt_duration
from llamahome_gui.ui.context import AppContext
from llamahome_gui.ui.widgets.train_dataset import DATASET_KEYS, TrainDatasetPanel
from llamahome_gui.ui.widgets.train_memory import TrainMemoryWidget
from llamahome_gui.ui.widgets.train_model import TrainModelPanel, starter_folder
from llamahome_gui.ui.widgets.train_presets import TrainPresetsPanel
from llamahome_gui.ui.widgets.train_progress import TrainProgressPanel
from llamahome_gui.workers.run_task import LatestTask
from llamahome_gui.workers.train_worker import TrainState, TrainWorker

ESTIMATE_KEYS_PREFIX = ("training.", "model.")


class TrainPage(QWidget):
    """Start, watch, stop and resume LoRA runs."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._shown_once = False
        self._monitor = None
        self.worker = TrainWorker(self)
        self.progress = TrainProgressPanel()

        self.model_panel = TrainModelPanel(ctx)
        self.dataset_panel = TrainDatasetPanel(ctx, self.tokenizer_dir)
        from llamahome_gui.ui.forms import build_form

        training_keys = [k for k in ctx.state.keys("training")
                         if k.startswith("training.training.") and k not in DATASET_KEYS]
        self.training_form = build_form(ctx.state, "training", keys=training_keys,
                                        group_titles=False, fold_advanced=True)
        self.lora_form = build_form(ctx.state, "training", sections=["lora"], group_titles=False,
                                    fold_advanced=True)
        self.presets = TrainPresetsPanel(ctx)
        self.dpo_form = build_form(ctx.state, "training", sections=["dpo"], group_titles=False)

        setup = QWidget()
        setup_layout = QVBoxLayout(setup)
        model_box = QGroupBox("Base model")
        model_box.setProperty("formSection", True)
        QVBoxLayout(model_box).addWidget(self.model_panel)
        data_box = QGroupBox("Dataset")
        data_box.setProperty("formSection", True)
        QVBoxLayout(data_box).addWidget(self.dataset_panel)
        setup_layout.addWidget(model_box)
        from llamahome_gui.ui.widgets.train_gpus import GpuPickerWidget

        self.gpus = GpuPickerWidget(ctx)
        gpu_box = QGroupBox("GPUs")
        gpu_box.setProperty("formSection", True)
        QVBoxLayout(gpu_box).addWidget(self.gpus)
        setup_layout.addWidget(gpu_box)
        setup_layout.addWidget(data_box, 1)
        training_tab = QWidget()
        training_layout = QVBoxLayout(training_tab)
        training_layout.setContentsMargins(0, 4, 0, 0)
        training_layout.addWidget(self.presets)
        training_layout.addWidget(self.training_form, 1)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("train.tabs")
        self.tabs.addTab(_scrolled(setup), "Model && data")
        self.tabs.addTab(_scrolled(training_tab), "Training")
        from llamahome_gui.ui.widgets.train_targets import LoraTargetsWidget

        self.lora_targets = LoraTargetsWidget(ctx, self.tokenizer_dir)
        lora_tab = QWidget()
        lora_layout = QVBoxLayout(lora_tab)
        lora_layout.addWidget(self.lora_targets)
        lora_layout.addWidget(self.lora_form, 1)
        self.tabs.addTab(_scrolled(lora_tab), "LoRA")
        self.tabs.addTab(_scrolled(self.dpo_form), "DPO")

        self.memory = TrainMemoryWidget()
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("train.start")
        self.start_button.setDefault(True)
        self.start_button.setMinimumHeight(34)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("train.stop")
        self.stop_button.setMinimumHeight(34)
        self.stop_button.setToolTip("First press: save a checkpoint and stop. Second press: "
                                    "stop at once.")
        self.settings_button = QToolButton()
        self.settings_button.setObjectName("train.settings.toggle")
        self.settings_button.setCheckable(True)
        self.settings_button.setChecked(True)
        self.settings_button.setAutoRaise(True)
        self.settings_button.setToolTip("Show or hide the settings (more room for the curves)")
        self.settings_button.toggled.connect(self._on_settings_button_toggled)

        self.settings_pane = QWidget()
        self.settings_pane.setObjectName("train.settings")
        left_layout = QVBoxLayout(self.settings_pane)
        left_layout.setContentsMargins(0, 0, 6, 0)
        left_layout.addWidget(self.tabs, 1)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.settings_pane)
        self.split.addWidget(self.progress)
        self.split.setCollapsible(1, False)
        self.split.setStretchFactor(0, 2)
        self.split.setStretchFactor(1, 3)
        self.split.setSizes([460, 700])
        # the actions stay in one bar below both panes: on screen at any window size, with
        # the settings shown or hidden
        actions = QHBoxLayout()
        actions.setSpacing(10)
        actions.addWidget(self.settings_button, 0, Qt.AlignmentFlag.AlignBottom)
        actions.addWidget(self.memory, 1)
        actions.addWidget(self.start_button, 0, Qt.AlignmentFlag.AlignBottom)
        actions.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignBottom)
        self.start_button.setMinimumWidth(150)
        self.stop_button.setMinimumWidth(90)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 6)
        layout.addWidget(self.split, 1)
        layout.addLayout(actions)
        self._on_settings_button_toggled(True)

        self._estimate = LatestTask(self)
        self._estimate.succeeded.connect(self._on_estimate_succeeded)
        self._estimate.errored.connect(self.memory.set_error)
        self._estimate_timer = QTimer(self)
        self._estimate_timer.setSingleShot(True)
        self._estimate_timer.setInterval(350)
        self._estimate_timer.timeout.connect(self.refresh_estimate)

        self.start_button.clicked.connect(self._on_start_clicked)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.progress.chat_requested.connect(self._on_progress_chat_requested)
        self.progress.open_folder_requested.connect(open_folder)
        self.worker.state_changed.connect(self._on_worker_state_changed)
        self.worker.started.connect(self.progress.on_started)
        self.worker.started.connect(self._on_worker_started)
        self.worker.step_logged.connect(self.progress.on_step)
        self.worker.evaluated.connect(self.progress.on_eval)
        self.worker.checkpointed.connect(self.progress.on_checkpoint)
        self.worker.sampled.connect(self.progress.on_sample)
        self.worker.log_received.connect(self.progress.on_log)
        self.worker.status_reported.connect(self.progress.message_label.setText)
        self.worker.finished.connect(self.progress.on_finished)
        self.worker.finished.connect(self._on_worker_finished)
        from llamahome_gui.ui.dialogs.export_dialog import ExportButton  # the finished run
        self.export_button = ExportButton(ctx, "train.export")
        self.progress.result_box.layout().addWidget(self.export_button)
        self.worker.finished.connect(lambda e: self.export_button.set_source(e.adapter))
        self.worker.stopped.connect(self.progress.on_stopped)
        self.worker.stopped.connect(self._on_worker_stopped)
        self.worker.failed.connect(self.progress.on_failed)
        self.worker.failed.connect(self._on_worker_failed)
        ctx.state.value_changed.connect(self._on_state_value_changed)
        ctx.resume_run_requested.connect(self.resume_run)
        ctx.start_run_requested.connect(self._on_ctx_start_run_requested)
        self._update_buttons()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_app_about_to_quit)
        QTimer.singleShot(0, self.reattach_live_run)

    # ------------------------------------------------------------------ helpers
    def tokenizer_dir(self) -> Path | None:
        """The model folder whose tokenizer renders the data (None: starter not imported)."""
        path = str(self.ctx.state.value("model.model.path") or "")
        if path:
            folder = Path(path).expanduser()
            return folder if (folder / "config.json").is_file() else None
        return starter_folder()

    def runs_root(self) -> Path:
        from llamahome_gui.core.runs import runs_root

        return runs_root(self.ctx.state.value("training.training.output_dir"))

    def run_plan(self, overrides: list[str] | tuple[str, ...] = ()) -> Any:
        """Core's run plan for what the forms show now (saved or not): the run's snapshot,
        with ``overrides`` ("key=value", e.g. the welcome page's short run) laid over it."""
        from llamahome_gui.config.schema import COMPONENTS
        from llamahome_gui.core.runs.plan import plan_run

        return plan_run(lambda name: COMPONENTS[name].model_validate(self.ctx.state.values(name)),
                        overrides)

    def effective_configs(self) -> dict[str, Any]:
        return self.run_plan().configs

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if not self._shown_once:  # the first look starts the slow checks, not the window
            self._shown_once = True
            self.dataset_panel.refresh()
            self.refresh_estimate()

    def refresh_estimate(self) -> None:
        folder = self.tokenizer_dir()
        if folder is None:
            self.memory.set_error("The estimate appears once the starter model is prepared "
                                  "(`llamahome models import-starter`, or the first run).")
            return
        try:
            configs = self.effective_configs()
        except Exception as exc:  # an invalid field: the form shows where
            self.memory.set_error(f"Fix the settings first: {exc}".splitlines()[0])
            return
        self.memory.set_busy()
        from llamahome_gui.core.runs.plan import estimate_memory

        self._estimate.submit(estimate_memory, configs, folder)

    def _on_estimate_succeeded(self, estimate: Any) -> None:
        self.memory.set_estimate(estimate)

    def _on_state_value_changed(self, key_path: str, _value: object) -> None:
        if key_path.startswith(ESTIMATE_KEYS_PREFIX) and self._shown_once:
            self._estimate_timer.start()

    # ------------------------------------------------------------------ actions
    def start_run(self, *, confirm: bool = True,
                  overrides: list[str] | tuple[str, ...] = ()) -> Path | None:
        """Snapshot the config into a new run folder and start the trainer on it."""
        if self.worker.is_active():
            return None
        errors = {k: v for c in RUN_COMPONENTS for k, v in self.ctx.state.errors(c).items()}
        if errors:
            text = "\n".join(f"{k}: {v}" for k, v in errors.items())
            QMessageBox.warning(self, "Fix the settings first",
                                f"Some settings are not valid:\n\n{text}")
            return None
        extra: list[str] = []
        if confirm and self.memory.verdict == "won't fit":
            answer = QMessageBox.warning(
                self, "This run will not fit in memory",
                f"{self.memory.detail.text()}\n\nLower the batch size, max_seq_length or the LoRA "
                "rank, or turn on gradient checkpointing. Start anyway?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return None
            extra.append("--force")  # the user was warned; the trainer would refuse again
        plan = self.run_plan(overrides)
        try:
            run_dir = plan.create()
        except OSError as exc:
            QMessageBox.warning(self, "Cannot create the run folder", str(exc))
            return None
        if plan.configs["model"].model.trust_remote_code and self.ctx.config.is_users_own:
            extra.append("--trust-remote-code")  # the user's own setting: their choice
        self.progress.begin(run_dir)
        # run.toml is the config (what the forms show); the trainer reads it from the run folder
        self.worker.start(run_dir, extra_args=extra)
        self.ctx.show_status(f"Training started: {run_dir}", 5000)
        return run_dir

    def resume_run(self, run_dir: Path) -> None:
        """Continue a stopped or failed run from its last checkpoint, curves included."""
        if self.worker.is_active():
            QMessageBox.information(self, "A run is active",
                                    "Stop the current run before resuming another one.")
            return
        run_dir = Path(run_dir)
        self.progress.begin(run_dir)
        self._replay(run_dir)
        self.progress.begin(run_dir, keep_curves=True)
        self.worker.start(run_dir, resume=run_dir)
        self.ctx.navigate("train")

    def reattach_live_run(self) -> None:
        """A run still training from an earlier session: show it and follow it live."""
        if self.worker.is_active():
            return
        try:
            from llamahome_gui.core.runs import list_runs

            live = [r for r in list_runs(self.runs_root()) if r.status == "running"]
        except OSError as exc:  # an unreadable runs folder must not break the page
            self.ctx.show_status(f"Cannot look for running trainings: {exc}", 8000)
            return
        if live:
            run = live[0]
            self.progress.begin(run.path)
            self._replay(run.path, earlier_segments_only=True)
            self.progress.begin(run.path, keep_curves=True)
            self.worker.attach(run.path, run.pid)
            self.ctx.show_status(f"Following the run still training: {run.name}", 8000)
        else:
            self.show_last_run()

    def show_last_run(self) -> bool:
        """After a restart: the newest run as it ended (curves, figures, result), not an
        empty "No run yet". False when there is no run with events."""
        from llamahome_gui.core.runs import list_runs

        try:
            runs = [r for r in list_runs(self.runs_root()) if r.status != "created"]
            history = read_events(runs[0].path) if runs else []
        except OSError:
            return False
        if not history or self.worker.is_active():
            return False
        self.progress.show_past_run(runs[0].path, history)
        return True

    def _replay(self, run_dir: Path, *, earlier_segments_only: bool = False) -> None:
        """Draw a run's recorded curve (all of it, or only the segments before its newest
        start, which the worker replays itself when attaching)."""
        history = read_events(run_dir)
        if earlier_segments_only:
            history = history[:last_start_index(history)]
        self.progress.replay(history)

    def _on_app_about_to_quit(self) -> None:
        """A run in progress keeps training; the next start of the app follows it again."""
        if self.worker.state in (TrainState.STARTING, TrainState.RUNNING):
            self.worker.detach()

    def _on_settings_button_toggled(self, shown: bool) -> None:
        self.settings_pane.setVisible(shown)
        self.settings_button.setArrowType(Qt.ArrowType.LeftArrow if shown
                                          else Qt.ArrowType.RightArrow)
        self.settings_button.setText("Hide settings" if shown else "Settings")
        self.settings_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)

    def _on_ctx_start_run_requested(self, overrides: list[str]) -> None:
        self.start_run(overrides=overrides)

    def _on_start_clicked(self) -> None:
        self.start_run()

    def _on_stop_clicked(self) -> None:
        self.worker.stop()

    # ------------------------------------------------------------------ worker events
    def _on_worker_state_changed(self, state: str) -> None:
        self.progress.set_state(state)
        self._update_buttons()

    def _update_buttons(self) -> None:
        state = self.worker.state
        active = self.worker.is_active()
        self.start_button.setEnabled(not active)
        self.stop_button.setEnabled(active and state != TrainState.FORCING)
        self.stop_button.setText({TrainState.STOPPING: "Stopping… (force)",
                                  TrainState.FORCING: "Stopping (forced)…"}.get(state, "Stop"))
        self.tabs.setEnabled(not active)

    def _on_worker_started(self, event: Any) -> None:
        monitor = self._monitor_service()
        if monitor is None:
            return
        if event.pid:
            try:
                monitor.watch_pid(int(event.pid))
            except (ValueError, OSError):
                pass

    def _monitor_service(self) -> Any:
        if self._monitor is None:
            try:
                self._monitor = self.ctx.monitor
                self._monitor.sampled.connect(self._on_monitor_sampled)
            except Exception:  # no monitor in this build: the loss curves still work
                self._monitor = False
        return self._monitor or None

    def _on_monitor_sampled(self, sample: Any) -> None:
        t0 = self.progress.t0
        if t0 is None or not self.worker.is_active():
            return
        values = {"CPU": sample.cpu_percent,
                  "RAM": 100.0 * sample.ram_used_bytes / max(sample.ram_total_bytes, 1)}
        if sample.gpus:
            gpu = sample.gpus[0]
            values["GPU"] = gpu.utilization_percent
            if gpu.memory_used_bytes is not None and gpu.memory_total_bytes:
                values["GPU mem"] = 100.0 * gpu.memory_used_bytes / gpu.memory_total_bytes
        self.progress.plot.add_resource(sample.time - t0, values)

    def _on_worker_finished(self, event: RunFinished) -> None:
        figures = _plain(self.progress.result_figures(event.final_loss))
        self.ctx.notify("Training finished",
                        f"{figures} in {fmt_duration(event.duration_s)}. Adapter: {event.adapter}")
        self._refresh_runs_page()

    def _on_worker_stopped(self, event: RunStopped) -> None:
        self.ctx.show_status(f"Training stopped at step {event.step}", 8000)
        self._refresh_runs_page()

    def _on_worker_failed(self, event: RunFailed) -> None:
        self.ctx.alert("Training failed", event.message, run_error=True)
        self._refresh_runs_page()

    def _refresh_runs_page(self) -> None:
        self.ctx.runs_changed.emit()

    def _on_progress_chat_requested(self, adapter: str) -> None:
        self.ctx.request_chat_with_adapter(adapter)


class VerticalScrollArea(QScrollArea):
    """Scrolls up and down only, and is never narrower than its content: a narrow pane
    wraps its text, the splitter stops where the fields would be cut."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        inner = self.widget().minimumSizeHint().width() if self.widget() is not None else 0
        bar = self.verticalScrollBar().sizeHint().width()
        return QSize(inner + bar + 2 * self.frameWidth(), 80)


def _scrolled(widget: QWidget) -> QScrollArea:
    area = VerticalScrollArea()
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(widget)
    return area


def _plain(html_text: str) -> str:
    """Rich text as one plain line (a desktop notification shows no markup)."""
    import re

    return re.sub(r"<[^>]+>", "", html_text).replace("&nbsp;", " ")


def open_folder(path: str) -> None:
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def create_page(ctx: AppContext) -> QWidget:
    return TrainPage(ctx)
