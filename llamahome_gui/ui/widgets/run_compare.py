"""RunDetailsPanel: one run's curves and config, or two runs overlaid with a config diff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit
from PyQt6.QtGui import QFontDatabase
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.core.runs.events import (
    Checkpointed,
    Evaluated,
    StepLogged,
    read_events,
)
from llamahome_gui.core.runs.folders import RUN_CONFIG
from llamahome_gui.ui.widgets.loss_plot import LossPlotWidget


def flat_config(run_dir: Path) -> dict[str, Any]:
    """``{"training.training.learning_rate": 0.0002, ...}`` from a run's snapshot."""
    try:
        data = tomlkit.parse((Path(run_dir) / RUN_CONFIG).read_text(encoding="utf-8")).unwrap()
    except (OSError, ValueError):
        return {}
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            out[prefix] = value

    walk("", data)
    return out


def config_diff(a: Path, b: Path) -> list[tuple[str, Any, Any]]:
    """Settings whose values differ between two runs (missing = None), sorted by key."""
    fa, fb = flat_config(a), flat_config(b)
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb))
            if fa.get(k) != fb.get(k) and not k.endswith("schema_version")]


def load_curves(plot: LossPlotWidget, run_dir: Path, track: str) -> int:
    """Draw a run's history on ``plot`` by step; returns the number of steps drawn."""
    steps = 0
    for event in read_events(run_dir):
        if isinstance(event, StepLogged):
            plot.add_loss(event.step, event.loss, event.lr, track)
            steps += 1
        elif isinstance(event, Evaluated):
            plot.add_eval(event.step, event.eval_loss, track)
        elif isinstance(event, Checkpointed):
            plot.add_checkpoint(event.step, f"ckpt {event.step}", track)
    plot.track(track)
    return steps


class RunDetailsPanel(QWidget):
    """Curves (by step) above; the config, or the differences between two configs, below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = LossPlotWidget(x_label="step", show_resources=False)
        self.plot.setObjectName("runs.plot")
        self.summary = QLabel("Select a run to see its curves; select two to compare them.")
        self.summary.setObjectName("runs.summary")
        self.summary.setWordWrap(True)
        self.config_text = QPlainTextEdit()
        self.config_text.setObjectName("runs.config")
        self.config_text.setReadOnly(True)
        self.config_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.diff_table = QTableWidget(0, 3)
        self.diff_table.setObjectName("runs.diff")
        self.diff_table.verticalHeader().hide()
        self.diff_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.diff_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.config_stack = QStackedWidget()
        self.config_stack.addWidget(self.config_text)
        self.config_stack.addWidget(self.diff_table)
        self.log_text = QPlainTextEdit()
        self.log_text.setReadOnly(True)
        self.log_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.tabs = QTabWidget()
        self.tabs.addTab(self.config_stack, "Config")
        self.tabs.addTab(self.log_text, "Trainer log")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.plot, 3)
        layout.addWidget(self.tabs, 2)
        self.runs: list[Path] = []

    def show_runs(self, runs: list[Path]) -> None:
        self.runs = list(runs)
        self.plot.clear()
        if not runs:
            self.config_text.clear()
            self.log_text.clear()
            self.diff_table.setRowCount(0)
            self.summary.setText("Select a run to see its curves; select two to compare them.")
            return
        for index, run in enumerate(runs[:2]):
            load_curves(self.plot, run, "AB"[index] if len(runs) > 1 else "run")
        self.plot.flush()
        if len(runs) == 1:
            self._show_one(runs[0])
        else:
            self._show_two(runs[0], runs[1])

    def _show_one(self, run: Path) -> None:
        self.config_stack.setCurrentWidget(self.config_text)
        self.tabs.setTabText(0, "Config")
        try:
            self.config_text.setPlainText((run / RUN_CONFIG).read_text(encoding="utf-8"))
        except OSError:
            self.config_text.setPlainText(f"{run / RUN_CONFIG} is missing.")
        try:
            lines = (run / "trainer.log").read_text(encoding="utf-8", errors="replace")
            self.log_text.setPlainText("\n".join(lines.splitlines()[-400:]))
        except OSError:
            self.log_text.setPlainText("No trainer log in this run folder.")

    def _show_two(self, a: Path, b: Path) -> None:
        diff = config_diff(a, b)
        self.config_stack.setCurrentWidget(self.diff_table)
        self.tabs.setTabText(0, f"Config differences ({len(diff)})")
        self.diff_table.setHorizontalHeaderLabels(["Setting", f"A: {a.name}", f"B: {b.name}"])
        self.diff_table.setRowCount(len(diff))
        for row, (key, va, vb) in enumerate(diff):
            for col, value in enumerate((key, _show(va), _show(vb))):
                self.diff_table.setItem(row, col, QTableWidgetItem(value))
        self.log_text.setPlainText("Select a single run to see its log.")
        if not diff:
            self.diff_table.setRowCount(1)
            self.diff_table.setItem(0, 0, QTableWidgetItem("The two runs used the same settings."))


def _show(value: Any) -> str:
    return "(not set)" if value is None else str(value)
