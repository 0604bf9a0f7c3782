"""ModelJobWorker: one long model job at a time (GGUF import, download) off the UI thread,
with progress and cancel.

The job is a core function taking ``progress(stage, done, total)`` and ``cancel() -> bool``;
each progress report is also a cancel point, so Cancel stops it at the next chunk, tensor or
file and the core function removes what it had started writing.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

CANCELLED_ERRORS = ("ImportCancelled", "DownloadCancelled")


class ModelJobWorker(QObject):
    """``start(label, fn, *args, **kwargs)``; signals in the order started, progressed*, then
    one of succeeded / failed / cancelled, then finished."""

    started = pyqtSignal(str)                 # label
    progressed = pyqtSignal(str, object, object)  # stage, done, total (0 = unknown); bytes > 2 GiB
    succeeded = pyqtSignal(str, object)       # label, result
    failed = pyqtSignal(str, str)             # label, one-line message
    cancelled = pyqtSignal(str)               # label
    finished = pyqtSignal(str)                # label

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False
        self.label = ""
        self.last_traceback = ""

    def is_busy(self) -> bool:
        """True from ``start`` until just before ``finished`` is emitted."""
        return self._busy

    def start(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Run ``fn(*args, progress=..., cancel=..., **kwargs)``; False while another job runs."""
        if self.is_busy():
            return False
        self._cancel.clear()
        self.label = label
        self._busy = True
        self.started.emit(label)
        self._thread = threading.Thread(target=self._run, args=(label, fn, args, kwargs),
                                        name=f"model-job-{label}", daemon=True)
        self._thread.start()
        return True

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended (the window's close waits for the cleanup)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not (self._thread is not None and self._thread.is_alive())

    def _run(self, label: str, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            result = fn(*args, progress=self._progress, cancel=self._cancel.is_set, **kwargs)
        except Exception as exc:  # delivered as a signal; the page shows one line
            if type(exc).__name__ in CANCELLED_ERRORS:
                self.cancelled.emit(label)
            else:
                self.last_traceback = traceback.format_exc()
                self.failed.emit(label, str(exc) or type(exc).__name__)
        else:
            self.succeeded.emit(label, result)
        self._busy = False
        self.finished.emit(label)

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.progressed.emit(stage, int(done), int(total))
