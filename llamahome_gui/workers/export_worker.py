"""ExportWorker: one export (core.export.run_export) in its own thread, reported as signals.

Every tensor written is a progress report and a place to stop: Cancel sets a flag that the
export reads there, and the export removes its partial output before ``cancelled`` arrives.
The worker never shows a dialog; the Export dialog decides what the user sees.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any

from PyQt6.QtCore import QObject, QThread, pyqtSignal


class _ExportThread(QThread):
    progressed = pyqtSignal(object)   # core.export.pipeline.ExportProgress
    succeeded = pyqtSignal(object)    # ExportResult
    failed = pyqtSignal(str)          # one line for the user
    cancelled = pyqtSignal()

    def __init__(self, source: Any, request: Any, stop: threading.Event) -> None:
        super().__init__()
        self.source, self.request, self.stop = source, request, stop

    def run(self) -> None:
        from llamahome_gui.core.export.errors import ExportCancelled, ExportError
        from llamahome_gui.core.export.pipeline import run_export

        try:
            result = run_export(self.source, self.request, progress=self.progressed.emit,
                                cancel=self.stop.is_set)
        except ExportCancelled:
            self.cancelled.emit()
        except ExportError as exc:
            self.failed.emit(str(exc))
        except OSError as exc:
            self.failed.emit(f"could not write the export: {exc.strerror or exc}; "
                             "nothing was written")
        except Exception as exc:  # noqa: BLE001 - shown to the user, never raised in a thread
            traceback.print_exc()
            self.failed.emit(f"the export failed: {exc}")
        else:
            self.succeeded.emit(result)


class ExportWorker(QObject):
    """``start(source, request)``; ``cancel()``. Signals: ``progressed(ExportProgress)``,
    ``finished(ExportResult)``, ``failed(str)``, ``cancelled()``; ``running`` while busy."""

    progressed = pyqtSignal(object)
    finished = pyqtSignal(object)
    failed = pyqtSignal(str)
    cancelled = pyqtSignal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: _ExportThread | None = None
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def start(self, source: Any, request: Any) -> None:
        if self.running:
            raise RuntimeError("an export is already running")
        self._stop = threading.Event()
        thread = _ExportThread(source, request, self._stop)
        thread.progressed.connect(self.progressed)
        thread.succeeded.connect(self.finished)
        thread.failed.connect(self.failed)
        thread.cancelled.connect(self.cancelled)
        self._thread = thread
        thread.start()

    def cancel(self) -> None:
        """Stop at the next tensor; ``cancelled`` follows once the partial output is gone."""
        self._stop.set()

    def wait(self, msecs: int = 60_000) -> bool:
        """Block until the thread ends (window closing)."""
        return self._thread.wait(msecs) if self._thread is not None else True
