"""TrainDatasetPanel: pick the training data and see it as the model will.

The path and format are the schema's own editors (bound to the shared config state); below
them the validation result (bad records by file:line), a table of the first rendered
examples, and a histogram of token lengths against ``max_seq_length``. The check runs off
the UI thread because it loads the model's tokenizer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QPalette
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.core.runs.plan import dataset_file
from llamahome_gui.workers.run_task import LatestTask

DATASET_KEYS = ("training.training.dataset_path", "training.training.dataset_format")
WATCHED_KEYS = (*DATASET_KEYS, "training.training.max_seq_length", "model.model.path")
PREVIEW_ROWS = 8
HISTOGRAM_RECORDS = 5000
_TOKENIZERS: dict[str, Any] = {}
_TOKENIZER_LOCK = threading.Lock()


@dataclass
class DatasetCheck:
    path: Path
    report: Any  # core.data.DatasetReport
    items: list[Any] = field(default_factory=list)  # core.data.PreviewItem
    questions: list[str] = field(default_factory=list)  # what the user says, per item
    lengths: list[int] = field(default_factory=list)
    note: str = ""


def question_of(record: Any) -> str:
    """The last user turn of a conversation record (the whole text of a text record)."""
    if isinstance(record, str):
        return record
    users = [m["content"] for m in record if m.get("role") == "user"]
    return users[-1] if users else ""


def tokenizer_for(model_dir: Path) -> Any:
    from llamahome_gui.core.models.loading import load_tokenizer

    with _TOKENIZER_LOCK:
        key = str(model_dir)
        if key not in _TOKENIZERS:
            _TOKENIZERS[key] = load_tokenizer(model_dir)
        return _TOKENIZERS[key]


def inspect_dataset(path: Path, fmt: str, model_dir: Path | None,
                    max_seq_length: int) -> DatasetCheck:
    """Validation, preview rows and token lengths (runs in a worker thread)."""
    from llamahome_gui.core.data import check_dataset, parse_dataset, render_examples
    from llamahome_gui.core.data.preview import describe
    from llamahome_gui.core.data.records import DatasetError

    tokenizer = tokenizer_for(model_dir) if model_dir is not None else None
    report = check_dataset(path, fmt, tokenizer, max_seq_length)
    check = DatasetCheck(path, report)
    if tokenizer is None:
        check.note = ("Token lengths and the rendered preview appear once the model is available "
                      "(the starter model is prepared on the first training run).")
        return check
    try:
        dataset, _problems = parse_dataset(path, fmt)
    except DatasetError:
        return check
    records = dataset.records[:HISTOGRAM_RECORDS]
    examples = render_examples(records, tokenizer, None)
    check.lengths = [len(e) for e in examples]
    shown = render_examples(records[:PREVIEW_ROWS], tokenizer, max_seq_length)
    check.items = [describe(e, tokenizer, loc) for e, loc in zip(shown, dataset.locations,
                                                                    strict=False)]
    check.questions = [question_of(r) for r in records[:PREVIEW_ROWS]]
    if dataset.format == "preference":  # both answers: the one to prefer and the other
        from llamahome_gui.core.data.preview import add_rejected

        add_rejected(check.items, path, tokenizer, max_seq_length)
    return check


class TrainDatasetPanel(QWidget):
    """Dataset editors, check result, preview table and length histogram."""

    def __init__(self, ctx: Any, model_dir_fn: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._model_dir_fn = model_dir_fn  # () -> Path | None (None: tokenizer not available)
        self.last_check: DatasetCheck | None = None
        from llamahome_gui.ui.forms import build_form

        self.form = build_form(ctx.state, "training", keys=list(DATASET_KEYS), group_titles=False)
        for group in self.form.groups.values():  # already inside the page's "Dataset" box
            group.setProperty("formSection", False)
            group.setStyleSheet("QGroupBox { border: none; margin: 0; padding: 0; }")
        self.status = QLabel("Checking the dataset…")
        self.status.setObjectName("train.dataset.status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("train.dataset.preview")
        self.table.setHorizontalHeaderLabels(["Where", "Input", "Answer (trained)", "Tokens"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(150)
        pal = self.palette()
        self.histogram = pg.PlotWidget(background=pal.color(QPalette.ColorRole.Base))
        self.histogram.setObjectName("train.dataset.histogram")
        self.histogram.setMinimumHeight(130)
        self.histogram.setMaximumHeight(170)
        fg = pal.color(QPalette.ColorRole.Text)
        plot = self.histogram.getPlotItem()
        plot.setTitle("Tokens per example", color=fg.name(), size="9pt")
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setTextPen(fg)
        self._bars: pg.BarGraphItem | None = None
        self._limit_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#dc2626", width=1.5,
                                                                   style=Qt.PenStyle.DashLine),
                                           label="max_seq_length",
                                           labelOpts={"position": 0.85, "color": "#dc2626"})
        plot.addItem(self._limit_line)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.form)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.histogram)
        self.histogram.hide()
        self._task = LatestTask(self)
        self._task.succeeded.connect(self._on_task_succeeded)
        self._task.errored.connect(self._on_task_errored)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(400)
        self._debounce.timeout.connect(self.refresh)
        ctx.state.value_changed.connect(self._on_state_value_changed)

    def _on_state_value_changed(self, key_path: str, _value: object) -> None:
        if key_path in WATCHED_KEYS:
            self._debounce.start()

    def refresh(self) -> None:
        state = self.ctx.state
        path = dataset_file(state.value("training.training.dataset_path"))
        fmt = state.value("training.training.dataset_format")
        max_len = int(state.value("training.training.max_seq_length"))
        self._limit_line.setPos(max_len)
        self.status.setText(f"Checking {path.name}…")
        self._task.submit(inspect_dataset, path, fmt, self._model_dir_fn(), max_len)

    def _on_task_errored(self, message: str) -> None:
        self.status.setText(f"<span style='color:#dc2626'>Could not check the dataset: "
                            f"{message}</span>")

    def _on_task_succeeded(self, check: DatasetCheck) -> None:
        self.last_check = check
        self._show_status(check)
        preference = any(item.rejected for item in check.items)
        self.table.setHorizontalHeaderLabels(
            ["Where", "Input", "Answers (✓ preferred, ✗ rejected)" if preference
             else "Answer (trained)", "Tokens"])
        self.table.setRowCount(len(check.items))
        for row, item in enumerate(check.items):
            question = check.questions[row] if row < len(check.questions) else item.prompt
            answer = _strip_markup(item.answer)
            if item.rejected:
                answer = f"✓ {answer}   ✗ {_strip_markup(item.rejected)}"
            cells = [item.location.rsplit("/", 1)[-1], _one_line(question), _one_line(answer),
                     f"{item.tokens}{' ✂' if item.truncated else ''}"]
            for col, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(item.marked if col in (1, 2) else text)
                self.table.setItem(row, col, cell)
        self._show_histogram(check.lengths)

    def _show_status(self, check: DatasetCheck) -> None:
        report = check.report
        if report.problems:
            from llamahome_gui.core.data.records import format_problems

            bad = format_problems(report.problems).replace("\n", "<br>")
            self.status.setText(f"<b style='color:#dc2626'>{len(report.problems)} bad record"
                                f"{'s' if len(report.problems) != 1 else ''} in "
                                f"{check.path.name}</b> ({report.records} good)<br>{bad}")
            return
        parts = [f"<b style='color:#16a34a'>✓ {report.records} records</b> · {report.format}"
                 f" · {check.path.name}"]
        tokens = report.tokens
        if tokens is not None:
            parts.append(f"tokens per example: median {tokens.median:.0f}, p95 {tokens.p95}, "
                         f"max {tokens.max}")
            if tokens.truncated:
                parts.append(f"<span style='color:#d97706'>{tokens.truncated} longer than "
                             f"max_seq_length ({tokens.max_seq_length}), truncated</span>")
        if check.note:
            parts.append(f"<i>{check.note}</i>")
        self.status.setText("<br>".join(parts))

    def _show_histogram(self, lengths: list[int]) -> None:
        plot = self.histogram.getPlotItem()
        if self._bars is not None:
            plot.removeItem(self._bars)
            self._bars = None
        self.histogram.setVisible(bool(lengths))
        if not lengths:
            return
        counts, edges = np.histogram(lengths, bins=min(30, max(5, len(set(lengths)))))
        width = float(edges[1] - edges[0]) if len(edges) > 1 else 1.0
        self._bars = pg.BarGraphItem(x0=edges[:-1], width=width * 0.9, height=counts,
                                     brush="#3b82f6", pen=None)
        plot.addItem(self._bars)


def _strip_markup(text: str) -> str:
    """The answer without the template's end-of-turn tokens (``<|im_end|>`` and the like)."""
    import re

    return re.sub(r"<\|[^|>]*\|>|</s>", "", text).strip()


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
