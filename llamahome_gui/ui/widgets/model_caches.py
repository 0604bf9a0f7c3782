"""ModelCachesWidget: the sizes of the app's caches (converted models, training runs) with a
Clear button each that asks first; the deleting is ``core.models.caches``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from llamahome_gui.core.units import fmt_bytes

_BUTTONS = (("models", "Clear converted models…", "Delete every model of the app's models "
             "folder (asks first; models a running run uses are kept)"),
            ("runs", "Clear runs…", "Delete every training run folder (asks first; running "
             "runs are kept)"))


class ModelCachesWidget(QWidget):
    """``set_caches(list[CacheInfo])``; ``cleared(message)`` after a clear."""

    cleared = pyqtSignal(str)

    def __init__(self, folders: Callable[[], tuple[Path, Path]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._folders = folders  # () -> (models folder, runs folder)
        self.label = QLabel()
        self.label.setObjectName("models.caches")
        self.label.setProperty("muted", True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        self.buttons: dict[str, QPushButton] = {}
        for key, text, tip in _BUTTONS:
            button = QPushButton(text)
            button.setObjectName(f"models.clear_{key}")
            button.setToolTip(tip)
            button.clicked.connect(lambda _checked=False, k=key: self._on_clear_clicked(k))
            layout.addWidget(button)
            self.buttons[key] = button

    def set_caches(self, caches: list[Any]) -> None:
        self.label.setText("   ·   ".join(f"{c.label}: {fmt_bytes(c.size)} ({c.items})"
                                           for c in caches))

    def _on_clear_clicked(self, key: str) -> None:
        from llamahome_gui.core.models.caches import cache_sizes, clear_cache

        models_dir, runs_root = self._folders()
        cache = {c.key: c for c in cache_sizes(models_dir, runs_root)}[key]
        answer = QMessageBox.question(
            self, f"Clear {cache.label.lower()}", f"Delete all {cache.items} items in "
            f"{cache.folder} ({fmt_bytes(cache.size)})? This is {cache.note}.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        freed, kept = clear_cache(key, models_dir, runs_root)
        self.cleared.emit(f"{cache.label}: {fmt_bytes(freed)} freed" + (
            f"; kept (in use by a running run): {', '.join(kept)}" if kept else "."))
