"""Models page: every local model in one table (the app's models folder, the Hugging Face
cache, folders and GGUF files the user added), with Import GGUF, Add, Download, Use, Remove
and Forget, a progress line for the long jobs and the sizes of the app's caches.

Every rule lives in ``core.models`` (the same calls as ``llamahome models``): this page only
shows rows, asks before deleting and hands jobs to a :class:`ModelJobWorker`. "Use" is an
edit of ``model.model.path`` in the shared config state, so it shows as an unsaved change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui import paths
from llamahome_gui.core.models.registry import COLUMNS
from llamahome_gui.core.units import fmt_bytes
from llamahome_gui.ui.dialogs.download_dialog import DownloadDialog
from llamahome_gui.ui.widgets.model_caches import ModelCachesWidget
from llamahome_gui.workers.models_worker import ModelJobWorker
from llamahome_gui.workers.run_task import LatestTask

MODEL_KEY = "model.model.path"
# COLUMNS, shortened so nine columns fit a 1024-pixel window (full names as tooltips)
HEADERS = ("Name", "Architecture", "Params", "Context", "Dtype", "Size", "Chat", "Source",
           "Last used")
SOURCE = COLUMNS.index("Source")
NAME_WIDTH = 220  # the name column's widest start (drag to widen; the full name is in details)
_SORT_NUMERIC = {2: "parameters", 3: "context_length", 5: "size_on_disk", 8: "last_used"}


class _Item(QTableWidgetItem):
    """Sorts numeric columns by value, not by text."""

    def __init__(self, text: str, key: Any) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.key, getattr(other, "key", other.text())
        try:
            return (a or 0) < (b or 0)
        except TypeError:
            return str(a) < str(b)


class ModelsPage(QWidget):
    """The table of models and the actions on them."""

    models_changed = pyqtSignal()  # a model was imported, removed, added or forgotten

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.records: list[Any] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("models.table")
        self.table.setHorizontalHeaderLabels(HEADERS)
        for col, full in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(col).setToolTip(full)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)  # long names elide on one line in a narrow window
        header = self.table.horizontalHeader()
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the registry's order first
        self.table.setSortingEnabled(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)  # set on each fill
        header.setSectionResizeMode(SOURCE, QHeaderView.ResizeMode.Stretch)  # elided first
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self._on_use_clicked())

        self.buttons: dict[str, QPushButton] = {}
        top = QHBoxLayout()
        title = QLabel("Every model the app can use: imported, in the Hugging Face cache, or "
                       "added by you.")
        title.setProperty("muted", True)
        title.setWordWrap(True)
        top.addWidget(title, 1)
        for key, text, tip, slot in (
                ("import", "Import GGUF…", "Convert a llama-family GGUF (llama, mistral, qwen2, "
                 "qwen3, phi3, gemma…) into a model folder for training and chat",
                 self._on_import_clicked),
                ("add_folder", "Add folder…", "Remember a model folder, or a folder of GGUF "
                 "files (LM Studio's, Jan's); nothing is copied", self._on_add_folder_clicked),
                ("add_gguf", "Add GGUF file…", "Remember one GGUF file; nothing is copied",
                 self._on_add_gguf_clicked),
                ("download", "Download…", "Download a model into the Hugging Face cache",
                 self._on_download_clicked),
                ("refresh", "Refresh", "Read the folders again", self.refresh)):
            top.addWidget(self._button(key, text, tip, slot))

        actions = QHBoxLayout()
        self.details = QLabel("Select a model.")
        self.details.setObjectName("models.details")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions.addWidget(self.details, 1)
        for key, text, tip, slot in (
                ("use", "Use for training and chat", "Set model.model.path to this model (a "
                 "config edit: save it to keep it)", self._on_use_clicked),
                ("forget", "Forget", "Drop it from the list; no file is deleted",
                 self._on_forget_clicked),
                ("remove", "Remove…", "Delete it from the app's models folder (asks first)",
                 self._on_remove_clicked)):
            actions.addWidget(self._button(key, text, tip, slot))

        self.progress = QProgressBar()
        self.progress.setObjectName("models.progress")
        self.progress_label = QLabel()
        self.progress_label.setObjectName("models.progress_label")
        cancel = self._button("cancel", "Cancel", "Stop the job; nothing half-written is kept",
                              self._on_cancel_clicked)
        self.progress_row = QWidget()
        row = QHBoxLayout(self.progress_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress_label)
        row.addWidget(self.progress, 1)
        row.addWidget(cancel)
        self.progress_row.hide()

        self.message = QLabel()
        self.message.setObjectName("models.message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.caches = ModelCachesWidget(lambda: (self.models_dir(), self.runs_roots()[0]))
        self.caches.cleared.connect(self._on_caches_cleared)
        self.buttons.update({f"clear_{k}": b for k, b in self.caches.buttons.items()})

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 6)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.progress_row)
        layout.addWidget(self.message)
        layout.addWidget(self.caches)

        self.lister = LatestTask(self)
        self.lister.succeeded.connect(self._on_lister_succeeded)
        self.lister.errored.connect(self._show_error)
        self.worker = ModelJobWorker(self)
        self.worker.started.connect(self._on_worker_started)
        self.worker.progressed.connect(self._on_worker_progressed)
        self.worker.succeeded.connect(self._on_worker_succeeded)
        self.worker.failed.connect(self._on_worker_failed)
        self.worker.cancelled.connect(self._on_worker_cancelled)
        self.worker.finished.connect(self._on_worker_finished)
        window = getattr(ctx, "window", None)
        if window is not None and hasattr(window, "close_accepted"):
            window.close_accepted.connect(self._on_window_closing)
        self._after_import_use = False
        self.refresh()
        self._update_buttons()

    def _button(self, key: str, text: str, tip: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(f"models.{key}")
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        self.buttons[key] = button
        return button

    # ------------------------------------------------------------------ data
    def models_dir(self) -> Path:
        return paths.models_dir()

    def runs_roots(self) -> list[Path]:
        from llamahome_gui.core.runs import runs_root

        roots = [runs_root(self.ctx.state.value("training.training.output_dir")),
                 paths.runs_dir()]
        return list(dict.fromkeys(roots))

    def refresh(self) -> None:
        """Re-read every source (headers only) off the UI thread."""
        self.lister.submit(_read_everything, self.models_dir(), self.runs_roots())

    def selected(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        index = item.data(Qt.ItemDataRole.UserRole) if item else None
        return self.records[index] if index is not None else None

    def select_path(self, path: Path | str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            record = self.records[item.data(Qt.ItemDataRole.UserRole)]
            if str(record.path) == str(path):
                self.table.selectRow(row)
                return

    def _changed(self) -> None:
        self.refresh()
        self.models_changed.emit()

    def _on_lister_succeeded(self, result: tuple[list[Any], list[Any]]) -> None:
        records, caches = result
        current = self.selected()
        self.records = records
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(records))
        for row, record in enumerate(records):
            texts = record.cells()
            texts[SOURCE] = record.source_short()
            for col, text in enumerate(texts):
                key = getattr(record, _SORT_NUMERIC[col]) if col in _SORT_NUMERIC else text
                item = _Item(text, key)
                item.setToolTip(record.source_label() if col == SOURCE else str(record.path))
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, row)
                if record.error:
                    item.setForeground(Qt.GlobalColor.red)
                    item.setToolTip(record.error)
                self.table.setItem(row, col, item)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnToContents(0)
        self.table.setColumnWidth(0, min(self.table.columnWidth(0), NAME_WIDTH))
        self.caches.set_caches(caches)
        if current is not None:
            self.select_path(current.path)
        self._update_buttons()

    def _update_buttons(self) -> None:
        record = self.selected()
        busy = self.worker.is_busy()
        for key in ("import", "download", "clear_models", "clear_runs"):
            self.buttons[key].setEnabled(not busy)
        self.buttons["use"].setEnabled(record is not None and not busy and not record.error)
        self.buttons["use"].setText("Import and use" if record is not None and record.is_gguf
                                    else "Use for training and chat")
        self.buttons["remove"].setEnabled(record is not None and record.removable and not busy)
        self.buttons["forget"].setEnabled(record is not None and not record.removable)
        if record is None:
            self.details.setText("Select a model.")
            return
        text = f"<b>{record.name}</b> · {record.source_label()}<br>{record.path}"
        if record.revision:
            text += f" (revision {record.revision[:12]})"
        if record.error:
            text += f"<br><span style='color:#dc2626'>{record.error}</span>"
        self.details.setText(text)

    # ------------------------------------------------------------------ actions
    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.ctx.show_status(text, 8000)

    def _show_error(self, text: str) -> None:
        self.message.setText(f"<span style='color:#dc2626'>{text}</span>")
        self.ctx.show_status(text, 8000)

    def _on_use_clicked(self) -> None:
        record = self.selected()
        if record is None or record.error:
            return
        if record.is_gguf:
            self.import_gguf(record.path, use_after=True)
            return
        self.use_model(record.config_path)

    def use_model(self, path: Path | str) -> None:
        from llamahome_gui.core.models.registry import mark_used

        self.ctx.state.set_value(MODEL_KEY, str(path))
        if str(path):
            mark_used(path)
        self._say(f"model.model.path = {str(path) or '(empty: the bundled starter)'} (unsaved "
                  "config edit: Save keeps it). Train and Chat now use this model.")
        self.refresh()

    def _on_import_clicked(self) -> None:
        start = str(Path.home())
        name, _ = QFileDialog.getOpenFileName(self, "Import a GGUF model", start,
                                              "GGUF models (*.gguf);;All files (*)")
        if name:
            self.import_gguf(Path(name))

    def import_gguf(self, path: Path, *, use_after: bool = False) -> None:
        from llamahome_gui.core.models.gguf_import import import_gguf

        self._after_import_use = use_after
        self.worker.start(f"Importing {path.name}", import_gguf, path, self.models_dir())

    def _add(self, path: str) -> None:
        from llamahome_gui.core.models.registry import add_path

        try:
            rows = add_path(path)
        except ValueError as exc:  # registry, model info and GGUF errors: one line each
            self._show_error(str(exc))
            return
        self._say(f"Added {len(rows)} model{'s' if len(rows) != 1 else ''} from {path}")
        self._changed()

    def _on_add_folder_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a model folder or a folder of GGUF "
                                                  "files", str(Path.home()))
        if folder:
            self._add(folder)

    def _on_add_gguf_clicked(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Add a GGUF file", str(Path.home()),
                                              "GGUF models (*.gguf)")
        if name:
            self._add(name)

    def _on_download_clicked(self) -> None:
        dialog = DownloadDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.repo.text().strip():
            self.download(dialog.repo.text().strip(), dialog.revision.text().strip() or "main")

    def download(self, repo_id: str, revision: str = "main") -> None:
        from llamahome_gui.core.models.hf_cache import download_model

        self.worker.start(f"Downloading {repo_id}", download_model, repo_id, revision=revision)

    def _on_forget_clicked(self) -> None:
        from llamahome_gui.core.models.registry import forget

        record = self.selected()
        if record is None or record.removable:
            return
        forget(record.path)
        self._say(f"Forgot {record.name}; {record.path} is untouched.")
        self._changed()

    def _on_remove_clicked(self) -> None:
        from llamahome_gui.core.models.registry import ModelRegistryError, remove_model

        record = self.selected()
        if record is None or not record.removable:
            return
        configured = str(self.ctx.state.value(MODEL_KEY) or "")
        extra = "\n\nIt is the model set in model.model.path." if configured and \
            Path(configured).expanduser() == record.path else ""
        answer = QMessageBox.question(
            self, "Remove model", f"Delete {record.name} ({fmt_bytes(record.size_on_disk)}) "
            f"from {record.path.parent}?{extra}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            freed = remove_model(record.path, self.models_dir(), runs_roots=self.runs_roots())
        except ModelRegistryError as exc:
            self._show_error(str(exc))
            return
        self._say(f"Removed {record.name}: {fmt_bytes(freed)} freed.")
        self._changed()

    def _on_caches_cleared(self, message: str) -> None:
        self._say(message)
        self._changed()

    def _on_cancel_clicked(self) -> None:
        self.worker.cancel()
        self.progress_label.setText("Cancelling…")

    # ------------------------------------------------------------------ worker
    def _on_worker_started(self, label: str) -> None:
        self.progress_row.show()
        self.progress.setRange(0, 0)
        self.progress_label.setText(label)
        self.message.clear()
        self._update_buttons()

    def _on_worker_progressed(self, stage: str, done: int, total: int) -> None:
        self.progress_label.setText(stage)
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done, total) / total))
        else:
            self.progress.setRange(0, 0)

    def _on_worker_succeeded(self, label: str, result: object) -> None:
        self._say(f"{label}: done, {result}")
        self._changed()
        if self._after_import_use and isinstance(result, Path):
            self.use_model(result)
        self._after_import_use = False

    def _on_worker_failed(self, label: str, message: str) -> None:
        self._show_error(message)

    def _on_worker_cancelled(self, label: str) -> None:
        self._say(f"{label}: cancelled; nothing was kept.")

    def _on_worker_finished(self, _label: str) -> None:
        self.progress_row.hide()
        self._update_buttons()

    def _on_window_closing(self) -> None:
        if self.worker.is_busy():
            self.worker.cancel()
            self.worker.wait(60)


def _read_everything(models_dir: Path, runs_roots: list[Path]) -> tuple[list[Any], list[Any]]:
    """Rows and cache sizes, in a worker thread."""
    from llamahome_gui.core.models.caches import cache_sizes
    from llamahome_gui.core.models.registry import list_models

    return (list_models(models_dir, runs_roots=runs_roots),
            cache_sizes(models_dir, runs_roots[0]))


def create_page(ctx: Any) -> QWidget:
    return ModelsPage(ctx)
