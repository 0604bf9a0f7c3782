"""The Export dialog: a run's adapter (or a model) out as GGUF, an Ollama folder, a merged
safetensors folder or the PEFT adapter, with the expected size of each choice, progress, the
parity result, "Open folder" and "Copy the Ollama command". The work runs in an ExportWorker;
Cancel stops it at the next tensor and nothing partial is left.

Pages add it with :class:`ExportButton` (a few lines each): the Runs page for the selected run,
the Train page's finished-run line, the Chat page for the chosen adapter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QUrl
from PyQt6.QtGui import QDesktopServices
from PyQt6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui import paths

FORMAT_LABELS = {"gguf": "GGUF file (llama.cpp, LM Studio, Jan)",
                 "ollama": "Ollama folder (GGUF + Modelfile)",
                 "safetensors": "Merged model folder (safetensors)",
                 "peft": "PEFT adapter with model card"}
QUANT_LABELS = {"f16": "f16 (full quality)", "bf16": "bf16 (full quality)",
                "q8_0": "q8_0 (8-bit, near-lossless)", "q4_0": "q4_0 (4-bit, smallest)",
                "f32": "f32 (exact, largest)"}


def export_settings(ctx: Any, run_dir: Path | None) -> dict[str, Any]:
    """System prompt and sampling for the Modelfile: the run's own, else the current config."""
    inference = None
    if run_dir is not None:
        try:
            from llamahome_gui.core.runs import read_run_config

            inference = read_run_config(run_dir)["inference"]
        except (FileNotFoundError, ValueError):
            inference = None
    if inference is None and ctx is not None:
        inference = ctx.config.load("inference")
    if inference is None:
        return {}
    return {"system_prompt": inference.chat.system_prompt,
            "temperature": inference.generation.temperature, "top_p": inference.generation.top_p}


class ExportDialog(QDialog):
    """Export ``source`` (a core.export ExportSource)."""

    def __init__(self, source: Any, *, settings: dict[str, Any] | None = None,
                 out_dir: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from llamahome_gui.workers.export_worker import ExportWorker

        self.setObjectName("dialog.export")
        self.setWindowTitle("Export")
        self.source = source
        self.settings = settings or {}
        self.out_dir = out_dir or paths.user_data_dir() / "exports"
        self.result: Any = None
        self._dest_edited = False
        self.worker = ExportWorker(self)
        self.worker.progressed.connect(self._on_worker_progressed)
        self.worker.finished.connect(self._on_worker_finished)
        self.worker.failed.connect(self._on_worker_failed)
        self.worker.cancelled.connect(self._on_worker_cancelled)

        what = QLabel(f"<b>{source.name}</b><br><small>{source.label}</small>")
        what.setWordWrap(True)
        what.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.format_combo = QComboBox()
        self.format_combo.setObjectName("export.format")
        for key, label in FORMAT_LABELS.items():
            if key != "peft" or source.adapter_dir is not None:
                self.format_combo.addItem(label, key)
        self.quant_combo = QComboBox()
        self.quant_combo.setObjectName("export.quant")
        self.dest_edit = QLineEdit()
        self.dest_edit.setObjectName("export.destination")
        self.dest_edit.textEdited.connect(self._on_dest_edit_edited)
        browse = QPushButton("…")
        browse.setFixedWidth(32)
        browse.clicked.connect(self._on_browse_clicked)
        dest_row = QHBoxLayout()
        dest_row.addWidget(self.dest_edit, 1)
        dest_row.addWidget(browse)
        self.check_box = QCheckBox("Check the file against the model (parity)")
        self.check_box.setObjectName("export.check")
        self.check_box.setChecked(True)
        self.check_box.setToolTip("Read the GGUF back and compare the next-token choices with the "
                                  "model on fixed prompts (adds about a minute for a small model)")
        form = QFormLayout()
        form.addRow("Format", self.format_combo)
        form.addRow("Quantization", self.quant_combo)
        form.addRow("Save to", dest_row)
        form.addRow("", self.check_box)

        self.progress = QProgressBar()
        self.progress.setObjectName("export.progress")
        self.status_label = QLabel()
        self.status_label.setObjectName("export.status")
        self.status_label.setWordWrap(True)
        self.parity_label = QLabel()
        self.parity_label.setObjectName("export.parity")
        self.parity_label.setWordWrap(True)
        self.parity_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("export.start")
        self.export_button.setDefault(True)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.setObjectName("export.cancel")
        self.open_button = QPushButton("Open folder")
        self.open_button.setObjectName("export.open_folder")
        self.copy_button = QPushButton("Copy the Ollama command")
        self.copy_button.setObjectName("export.copy_ollama")
        for button, slot in ((self.export_button, self._on_export_clicked),
                             (self.cancel_button, self._on_cancel_clicked),
                             (self.open_button, self._on_open_clicked),
                             (self.copy_button, self._on_copy_clicked)):
            button.clicked.connect(slot)
        self.open_button.hide()
        self.copy_button.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_button)

        layout = QVBoxLayout(self)
        layout.addWidget(what)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.parity_label)
        layout.addLayout(buttons)
        self.format_combo.currentIndexChanged.connect(self._on_format_combo_changed)
        self.quant_combo.currentIndexChanged.connect(self._update_destination)
        self._fill_quants()
        self._on_format_combo_changed()
        self.resize(560, 0)

    # ------------------------------------------------------------------ choices
    def fmt(self) -> str:
        return self.format_combo.currentData()

    def quant(self) -> str:
        return self.quant_combo.currentData() or "q8_0"

    def _fill_quants(self) -> None:
        from llamahome_gui.core.export.errors import ExportError
        from llamahome_gui.core.export.gguf_writer import expected_size
        from llamahome_gui.core.export.sources import human_size

        self.quant_combo.clear()
        for key in ("q8_0", "f16", "bf16", "q4_0", "f32"):
            try:
                size = f" - about {human_size(expected_size(self.source.model_dir, key))}"
            except ExportError:
                size = ""
            self.quant_combo.addItem(QUANT_LABELS[key] + size, key)

    def _on_format_combo_changed(self, _index: int = 0) -> None:
        gguf = self.fmt() in ("gguf", "ollama")
        self.quant_combo.setEnabled(gguf)
        self.check_box.setEnabled(gguf)
        self._update_destination()

    def _update_destination(self, _index: int = 0) -> None:
        if self._dest_edited:
            return
        from llamahome_gui.core.export.pipeline import ExportRequest, default_out

        request = ExportRequest(fmt=self.fmt(), quant=self.quant())
        self.dest_edit.setText(str(default_out(self.source, request, self.out_dir)))

    def _on_dest_edit_edited(self, _text: str) -> None:
        self._dest_edited = True

    def _on_browse_clicked(self) -> None:
        current = self.dest_edit.text()
        if self.fmt() == "gguf":
            chosen, _ = QFileDialog.getSaveFileName(self, "Save the GGUF file", current,
                                                    "GGUF files (*.gguf)")
        else:
            chosen = QFileDialog.getExistingDirectory(self, "Folder to create the export in",
                                                      str(Path(current).parent))
            chosen = str(Path(chosen) / Path(current).name) if chosen else ""
        if chosen:
            self.dest_edit.setText(chosen)
            self._dest_edited = True

    def confirm_replace(self, out: Path) -> bool:
        """Ask before replacing an existing destination."""
        answer = QMessageBox.question(self, "Replace?", f"{out} already exists. Replace it?")
        return answer == QMessageBox.StandardButton.Yes

    # ------------------------------------------------------------------ running
    def start(self, force: bool = False) -> None:
        """Start the export with the chosen settings (the Export button)."""
        from llamahome_gui.core.export.pipeline import ExportRequest

        out = Path(self.dest_edit.text().strip()).expanduser()
        if out.exists() and not force:
            if not self.confirm_replace(out):
                return
            force = True
        request = ExportRequest(fmt=self.fmt(), quant=self.quant(), out=out, force=force,
                                check=self.check_box.isChecked(), **self.settings)
        self.result = None
        self.parity_label.clear()
        self.open_button.hide()
        self.copy_button.hide()
        self.progress.setRange(0, 0)
        self.status_label.setText("Starting…")
        self._set_running(True)
        self.worker.start(self.source, request)

    def _set_running(self, running: bool) -> None:
        for widget in (self.format_combo, self.quant_combo, self.dest_edit, self.check_box,
                       self.export_button):
            widget.setEnabled(not running)
        if not running:
            self._on_format_combo_changed()
        self.cancel_button.setText("Cancel" if running else "Close")

    def _on_export_clicked(self) -> None:
        self.start()

    def _on_cancel_clicked(self) -> None:
        if self.worker.running:
            self.worker.cancel()
            self.status_label.setText("Cancelling…")
        else:
            self.reject()

    def _on_worker_progressed(self, p: Any) -> None:
        if p.stage == "write":
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
            self.status_label.setText(f"Writing tensors: {p.done}/{p.total}")
        else:
            self.progress.setRange(0, 0)
            self.status_label.setText(p.message)

    def _on_worker_finished(self, result: Any) -> None:
        from llamahome_gui.core.export.sources import human_size

        self.result = result
        self._set_running(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.status_label.setText(f"Wrote {result.out} ({human_size(result.size)}) in "
                                  f"{result.seconds:.1f} s")
        if result.parity is not None:
            color = "#dc2626" if result.parity.warn else "#16a34a"
            self.parity_label.setText(f"<span style='color:{color}'>"
                                      f"{result.parity.summary()}</span>")
        self.open_button.show()
        self.copy_button.setVisible(bool(result.ollama_command))

    def _on_worker_failed(self, message: str) -> None:
        self._set_running(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status_label.setText(f"<span style='color:#dc2626'>{message}</span>")

    def _on_worker_cancelled(self) -> None:
        self._set_running(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status_label.setText("Cancelled; nothing was written.")

    def _on_open_clicked(self) -> None:
        if self.result is not None:
            out = Path(self.result.out)
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(out if out.is_dir() else out.parent)))

    def _on_copy_clicked(self) -> None:
        if self.result is not None and self.result.ollama_command:
            QApplication.clipboard().setText(self.result.ollama_command)

    def reject(self) -> None:
        if self.worker.running:  # closing the window cancels, and waits for the clean-up
            self.worker.cancel()
            self.worker.wait()
        super().reject()


def open_export_dialog(parent: QWidget, ctx: Any, path: str | Path,
                       model: str | Path | None = None) -> ExportDialog | None:
    """Resolve ``path`` (run, adapter or model folder) and show the Export dialog; a bad
    source is one message box."""
    from llamahome_gui.core.export.errors import ExportError
    from llamahome_gui.core.export.sources import resolve_source

    try:
        source = resolve_source(Path(path), Path(model) if model else None)
    except ExportError as exc:
        QMessageBox.warning(parent, "Cannot export", str(exc))
        return None
    dialog = ExportDialog(source, settings=export_settings(ctx, source.run_dir), parent=parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


class ExportButton(QPushButton):
    """"Export…" for whatever a page has selected: ``set_source(path or "")`` enables it."""

    def __init__(self, ctx: Any, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__("Export…", parent)
        self.ctx = ctx
        self.setObjectName(object_name)
        self.setToolTip("Export as GGUF (llama.cpp, Ollama, LM Studio), a merged model folder "
                        "or the adapter with a model card")
        self._path = ""
        self.dialog: ExportDialog | None = None
        self.clicked.connect(self._on_clicked)
        self.set_source("")

    def set_source(self, path: str | Path | None) -> None:
        self._path = str(path or "")
        self.setEnabled(bool(self._path))

    def _on_clicked(self) -> None:
        if self._path:
            self.dialog = open_export_dialog(self.window(), self.ctx, self._path)
