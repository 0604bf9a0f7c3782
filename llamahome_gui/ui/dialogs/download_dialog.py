"""DownloadDialog: which model (org/name) and revision to download into the Hugging Face
cache; the Models page runs the download."""

from __future__ import annotations

from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)


class DownloadDialog(QDialog):
    """Model id and revision for a download."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Download a model")
        self.repo = QLineEdit()
        self.repo.setObjectName("models.download.repo")
        self.repo.setPlaceholderText("org/name")
        self.revision = QLineEdit("main")
        self.revision.setObjectName("models.download.revision")
        note = QLabel("Safetensors weights, config and tokenizer only (never .bin pickles), "
                      "into the Hugging Face cache. An interrupted download resumes.")
        note.setWordWrap(True)
        note.setProperty("muted", True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Model id", self.repo)
        form.addRow("Revision", self.revision)
        form.addRow(note)
        form.addRow(buttons)
