"""RunDetailsPanel: one run's curves and config, or two runs overlaid with a config diff.

Two runs are drawn in distinct styles (A solid with round eval points, B dashed with square
ones), so they stay apart in grey print and for colour-blind eyes; the legend is a line above
the plots, never on top of the curves.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pyqtgraph as pg
import tomlkit
from PyQt6.QtCore import Qt
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
        self.legend = QLabel()
        self.legend.setObjectName("runs.legend")
        self.legend.setWordWrap(True)
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
        layout.addWidget(self.legend)
        self.plot.setMinimumHeight(220)  # loss and LR stay readable in a small window
        self.tabs.setMinimumHeight(90)
        layout.addWidget(self.plot, 3)
        layout.addWidget(self.tabs, 1)
        self.runs: list[Path] = []

    def show_runs(self, runs: list[Path], labels: list[str] | None = None) -> None:
        """Draw one run, or the first two overlaid as A and B (``labels``: their names)."""
        self.runs = list(runs)
        self.plot.clear()
        legend = getattr(self.plot, "loss_legend", None)
        if legend is not None:
            legend.setVisible(False)  # the legend line above the plots says it instead
        self.legend.setVisible(bool(runs))
        if not runs:
            self.config_text.clear()
            self.log_text.clear()
            self.diff_table.setRowCount(0)
            self.summary.setText("Select a run to see its curves; select two to compare them.")
            return
        names = list(labels or [r.name for r in runs])
        self._names = names
        for index, run in enumerate(runs[:2]):
            load_curves(self.plot, run, "AB"[index] if len(runs) > 1 else "run")
        if len(runs) > 1:
            restyle_b(self.plot.track("B"))
        self.legend.setText(legend_html(self.plot, names[:2], len(runs) > 1))
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
        names = getattr(self, "_names", [a.name, b.name])
        self.diff_table.setHorizontalHeaderLabels(["Setting", f"A: {names[0]}", f"B: {names[1]}"])
        self.diff_table.setRowCount(len(diff))
        for row, (key, va, vb) in enumerate(diff):
            for col, value in enumerate((key, _show(va), _show(vb))):
                self.diff_table.setItem(row, col, QTableWidgetItem(value))
        self.log_text.setPlainText("Select a single run to see its log.")
        if not diff:
            self.diff_table.setRowCount(1)
            self.diff_table.setItem(0, 0, QTableWidgetItem("The two runs used the same settings."))


def restyle_b(track: Any) -> None:
    """Run B in dashes, its eval points as squares (A keeps the plot's solid lines, dots)."""
    colour = track.colour
    curves = track.curves
    dash = Qt.PenStyle.DashLine
    if "smooth" in curves:
        curves["smooth"].setPen(pg.mkPen(colour, width=2.5, style=dash))
    if "lr" in curves:
        curves["lr"].setPen(pg.mkPen(colour, width=2, style=dash))
    if "eval" in curves:
        curves["eval"].setPen(pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DotLine))
        curves["eval"].setSymbol("s")


def legend_html(plot: Any, names: list[str], compare: bool) -> str:
    """One line naming each run's colour and line style, and what each curve is."""
    if not compare:
        colour = plot.track("run").colour
        return (f"<span style='color:{colour}'>━━</span> train loss, smoothed "
                f"(faint: each step) &nbsp; <span style='color:{colour}'>●</span> eval loss"
                " &nbsp;·&nbsp; by optimizer step")
    parts = []
    for side, mark, line in (("A", "●", "━━"), ("B", "■", "┄┄")):
        colour = plot.track(side).colour
        name = html.escape(names["AB".index(side)] if len(names) > 1 else side)
        parts.append(f"<span style='color:{colour}; font-weight:600'>{line} {side}</span> "
                     f"{name} <span style='color:{colour}'>{mark}</span>")
    return (" &nbsp;&nbsp; ".join(parts) + " &nbsp;·&nbsp; thick: smoothed train loss, "
            "faint: each step, marks: eval loss")


def _show(value: Any) -> str:
    return "(not set)" if value is None else str(value)
