"""Runs page: every training run, sortable; curves and config of one, or two side by side.

Name and Note are edited in the table (double-click) and kept in the run folder
(``core.runs.meta``). Resume hands a stopped or failed run to the Train page (one trainer at
a time); "Chat with this adapter" goes through the ``AppContext`` request, "Export…" opens
the Export dialog. The table re-reads the run folders every few seconds while the page is visible, so a run
training in the background (even one started before the app was restarted) shows live.
Without any run the page says how to make the first one instead of drawing empty axes.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QTimer, QUrl
from PyQt6.QtGui import QColor, QDesktopServices
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.core.units import fmt_duration
from llamahome_gui.ui.context import AppContext
from llamahome_gui.ui.pages.welcome_page import COLUMN_WIDTH, FirstRunPanel, centred
from llamahome_gui.ui.widgets.run_compare import RunDetailsPanel
from llamahome_gui.ui.widgets.train_progress import fmt_loss

COLUMNS = ("Status", "Name", "Started", "Model", "Dataset", "Steps", "Final loss", "Eval loss",
           "LR", "Rank", "Duration", "Note")
COL = {name: i for i, name in enumerate(COLUMNS)}
EDITABLE = {COL["Name"]: "name", COL["Note"]: "note"}
STATUS_COLOURS = {"running": "#2563eb", "done": "#16a34a", "stopped": "#d97706",
                  "failed": "#dc2626", "created": "#64748b"}
REFRESH_MS = 2000


class _SortItem(QTableWidgetItem):
    """Sorts by a hidden key (numbers as numbers, missing values last)."""

    def __init__(self, text: str, key: Any) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        other_key = getattr(other, "key", other.text())
        a, b = self.key, other_key
        if a is None or b is None:
            return b is None and a is not None
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


class RunsPage(QWidget):
    """The run history under ``training.training.output_dir``."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._runs: dict[str, Any] = {}  # folder path -> RunInfo
        self._signature: tuple = ()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runs.table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setSortingEnabled(True)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL["Name"], QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL["Note"], QHeaderView.ResizeMode.Stretch)
        header.resizeSection(COL["Name"], 220)
        self.table.sortByColumn(COL["Started"], Qt.SortOrder.DescendingOrder)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        self.table.itemDoubleClicked.connect(self._on_table_double_clicked)
        self.table.itemChanged.connect(self._on_table_item_changed)

        self.location = QLabel()
        self.location.setProperty("muted", True)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("runs.resume")
        self.resume_button.setToolTip("Continue a stopped or failed run from its last checkpoint")
        self.open_button = QPushButton("Open folder")
        self.open_button.setObjectName("runs.open")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("runs.delete")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("runs.refresh")
        self.chat_button = QPushButton("Chat with this adapter")
        self.chat_button.setObjectName("runs.chat")
        self.chat_button.setToolTip("Open the Chat page with this run's adapter")
        for button, slot in ((self.resume_button, self._on_resume_clicked),
                             (self.open_button, self._on_open_clicked),
                             (self.delete_button, self._on_delete_clicked),
                             (self.refresh_button, self.refresh),
                             (self.chat_button, self._on_chat_clicked)):
            button.clicked.connect(slot)
        from llamahome_gui.ui.dialogs.export_dialog import ExportButton  # the selected run

        self.export_button = ExportButton(ctx, "runs.export")
        bar = QHBoxLayout()
        bar.addWidget(self.location, 1)
        for button in (self.refresh_button, self.open_button, self.delete_button,
                       self.resume_button, self.export_button, self.chat_button):
            bar.addWidget(button)
        self.location.setMinimumWidth(80)

        self.details = RunDetailsPanel()
        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(bar)
        top_layout.addWidget(self.table)
        split.addWidget(top)
        split.addWidget(self.details)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        self.empty = _EmptyRuns(ctx)
        self.views = QStackedWidget()
        self.views.addWidget(split)
        self.views.addWidget(self.empty)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 6)
        layout.addWidget(self.views)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        ctx.runs_changed.connect(self.refresh)
        self.refresh()
        self._update_buttons()

    # ------------------------------------------------------------------ data
    def runs_root(self) -> Path:
        from llamahome_gui.core.runs import runs_root

        return runs_root(self.ctx.state.value("training.training.output_dir"))

    def selected_runs(self) -> list[Any]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        out = []
        for row in rows:
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) in self._runs:
                out.append(self._runs[item.data(Qt.ItemDataRole.UserRole)])
        return out

    def refresh(self) -> None:
        """Re-read every run folder; keeps the selection; redraws only when something changed."""
        from llamahome_gui.core.runs import list_runs

        root = self.runs_root()
        self.location.setText(f"Runs in {root}")
        try:
            runs = list_runs(root)
        except OSError as exc:
            self.location.setText(f"Cannot read {root}: {exc}")
            runs = []
        signature = tuple((str(r.path), r.status, r.steps, r.final_loss, r.eval_loss, r.title,
                           r.note) for r in runs)
        self.views.setCurrentWidget(self.views.widget(0) if runs else self.empty)
        self.empty.set_root(root)
        if signature == self._signature and self.table.rowCount() == len(runs):
            return
        selected = [str(r.path) for r in self.selected_runs()]
        self._signature = signature
        self._runs = {str(r.path): r for r in runs}
        self.table.setSortingEnabled(False)
        self.table.blockSignals(True)
        self.table.setRowCount(len(runs))
        for row, run in enumerate(runs):
            self._fill_row(row, run)
        self.table.blockSignals(False)
        self.table.setSortingEnabled(True)
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) in selected:
                self.table.selectRow(row)
        self._on_table_selection_changed()

    def _fill_row(self, row: int, run: Any) -> None:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started)) if run.started else "–"
        steps = f"{run.steps} / {run.max_steps}" if run.max_steps else str(run.steps or "–")
        duration = fmt_duration(run.duration_s)
        if run.segments > 1:
            duration += f" ({run.segments} parts)"
        cells = [
            _SortItem(run.status, run.status), _SortItem(run.label, run.label.lower()),
            _SortItem(started, run.started or 0.0),
            _SortItem(Path(run.model).name if run.model else "–", run.model),
            _SortItem(Path(run.dataset).name if run.dataset else "–", run.dataset),
            _SortItem(steps, run.steps), _SortItem(fmt_loss(run.final_loss), run.final_loss),
            _SortItem(fmt_loss(run.eval_loss), run.eval_loss),
            _SortItem(f"{run.learning_rate:.1e}" if run.learning_rate is not None else "–",
                      run.learning_rate),
            _SortItem(str(run.lora_rank) if run.lora_rank is not None else "–", run.lora_rank),
            _SortItem(duration, run.duration_s), _SortItem(run.note, run.note),
        ]
        cells[0].setForeground(QColor(STATUS_COLOURS.get(run.status, "#64748b")))
        cells[0].setData(Qt.ItemDataRole.UserRole, str(run.path))
        tip = run.error or str(run.path)
        for col, cell in enumerate(cells):
            if col in EDITABLE:
                cell.setToolTip(f"Double-click to {'rename' if col == COL['Name'] else 'edit'} "
                                f"· {run.path}")
            else:
                cell.setFlags(cell.flags() & ~Qt.ItemFlag.ItemIsEditable)
                cell.setToolTip(tip)
            self.table.setItem(row, col, cell)

    # ------------------------------------------------------------------ reactions
    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.refresh()
        self._timer.start()

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().hideEvent(event)
        self._timer.stop()

    def _on_timer_timeout(self) -> None:
        before = self._signature
        self.refresh()
        live = [r for r in self.selected_runs() if r.status == "running"]
        if live and before == self._signature:
            self._on_table_selection_changed()  # new steps of a running run

    def _on_table_selection_changed(self) -> None:
        runs = self.selected_runs()
        self.details.show_runs([r.path for r in runs[:2]], [r.label for r in runs[:2]])
        if len(runs) == 1:
            run = runs[0]
            extra = f" — {run.error}" if run.error else ""
            ckpt = f" · last checkpoint {run.checkpoint.name}" if run.checkpoint else ""
            adapter = f" · adapter {run.adapter}" if run.adapter else ""
            self.details.summary.setText(f"<b>{html.escape(run.label)}</b>: {run.status}{extra}"
                                         f"{ckpt}{adapter}")
            self.details.summary.setToolTip(str(run.path))
        elif len(runs) >= 2:
            self.details.summary.setText(
                f"Comparing <b>A</b> {html.escape(runs[0].label)} ({runs[0].status}) with "
                f"<b>B</b> {html.escape(runs[1].label)} ({runs[1].status})")
        self._update_buttons()

    def _update_buttons(self) -> None:
        runs = self.selected_runs()
        one = runs[0] if len(runs) == 1 else None
        self.resume_button.setEnabled(one is not None and one.status in ("stopped", "failed")
                                      and one.checkpoint is not None)
        self.open_button.setEnabled(one is not None)
        self.export_button.set_source(one.path if one is not None and one.adapter else "")
        self.chat_button.setEnabled(one is not None and one.adapter is not None)
        self.delete_button.setEnabled(bool(runs) and all(r.status != "running" for r in runs))

    def _on_table_double_clicked(self, item: QTableWidgetItem) -> None:
        if item.column() not in EDITABLE:  # Name and Note are edited in place
            self._on_open_clicked()

    def _on_table_item_changed(self, item: QTableWidgetItem) -> None:
        """The user renamed a run or edited its note: keep it in the run folder."""
        field = EDITABLE.get(item.column())
        first = self.table.item(item.row(), 0)
        if field is None or first is None:
            return
        path = first.data(Qt.ItemDataRole.UserRole)
        from llamahome_gui.core.runs.meta import write_meta

        try:
            write_meta(path, **{field: item.text()})
        except (OSError, ValueError) as exc:
            self.ctx.show_status(f"Not saved: {exc}", 10000)
        self._signature = ()
        QTimer.singleShot(0, self.refresh)  # after the editor has closed: rows are rebuilt

    def _on_chat_clicked(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1 and runs[0].adapter is not None:
            self.ctx.request_chat_with_adapter(str(runs[0].adapter))


    def _on_resume_clicked(self) -> None:
        runs = self.selected_runs()
        if len(runs) != 1:
            return
        self.ctx.request_resume_run(str(runs[0].path))

    def _on_open_clicked(self) -> None:
        runs = self.selected_runs()
        if runs:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(runs[0].path)))

    def _on_delete_clicked(self) -> None:
        runs = [r for r in self.selected_runs() if r.status != "running"]
        if not runs:
            return
        names = "\n".join(r.name for r in runs)
        answer = QMessageBox.question(
            self, "Delete runs",
            f"Delete {len(runs)} run folder{'s' if len(runs) != 1 else ''} with their checkpoints "
            f"and adapters?\n\n{names}\n\nThis cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        from llamahome_gui.core.runs.removal import delete_runs

        result = delete_runs(r.path for r in runs)
        self.ctx.show_status(result.summary(), 10000)
        if result.failed:
            QMessageBox.warning(self, "Some runs were not deleted", result.summary())
        self.refresh()


class _EmptyRuns(QWidget):
    """What the page shows before the first run: how to make one."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runs.empty")
        title = QLabel("No runs yet")
        title.setStyleSheet("font-size: 15pt; font-weight: 600;")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.first = FirstRunPanel(ctx, compact=True)
        column = QWidget()
        column.setFixedWidth(COLUMN_WIDTH)
        box = QVBoxLayout(column)
        box.setSpacing(14)
        box.addWidget(title)
        box.addWidget(self.text)
        box.addWidget(self.first)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(centred(column))
        layout.addStretch(2)

    def set_root(self, root: Path) -> None:
        self.text.setText(
            "A run is one fine-tune: its settings, curves, checkpoints and the adapter it "
            "makes. Press <b>Start training</b> on the Train page (or <code>llamahome train"
            "</code> in a terminal) and it appears here, to compare, rename, chat with or "
            f"export.<br><span style='font-size:small'>Runs folder: {html.escape(str(root))}"
            "</span>")


def create_page(ctx: AppContext) -> QWidget:
    return RunsPage(ctx)
