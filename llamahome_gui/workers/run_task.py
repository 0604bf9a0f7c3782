"""LatestTask: run a slow call (tokenizer, dataset check, memory estimate) off the UI thread.

Only the newest submission's result is delivered: when settings change quickly, older
answers that arrive late are dropped instead of overwriting the fresh one.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, pyqtSignal


class _Relay(QObject):
    done = pyqtSignal(int, object)
    error = pyqtSignal(int, str, str)


class _Job(QRunnable):
    def __init__(self, serial: int, relay: _Relay, fn: Callable[..., Any], args: tuple) -> None:
        super().__init__()
        self.serial, self.relay, self.fn, self.args = serial, relay, fn, args

    def run(self) -> None:
        try:
            try:
                result = self.fn(*self.args)
            except Exception as exc:  # delivered to the UI as a message, never raised here
                self.relay.error.emit(self.serial, f"{exc}", traceback.format_exc())
            else:
                self.relay.done.emit(self.serial, result)
        except RuntimeError:  # the page that asked was closed meanwhile: nobody to tell
            pass


_POOL: QThreadPool | None = None


def task_pool() -> QThreadPool:
    """A small pool of its own, so slow checks never starve Qt's global pool."""
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setMaxThreadCount(2)
        app = QCoreApplication.instance()
        if app is not None:  # let a running check finish: no half-imported library at exit
            app.aboutToQuit.connect(drain_tasks)
    return _POOL


def drain_tasks() -> None:
    """Drop queued checks and wait for running ones: a process must not exit while a pool
    thread is still importing torch (its half-built finalizers fail at exit)."""
    if _POOL is not None:
        _POOL.clear()
        _POOL.waitForDone(30_000)


class LatestTask(QObject):
    """``submit(fn, *args)``; ``succeeded(result)`` / ``errored(message)`` for the newest only."""

    succeeded = pyqtSignal(object)
    errored = pyqtSignal(str)
    busy_changed = pyqtSignal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._serial = 0
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_relay_done)
        self._relay.error.connect(self._on_relay_error)
        self.busy = False
        self.last_traceback = ""

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._serial += 1
        self._set_busy(True)
        task_pool().start(_Job(self._serial, self._relay, fn, args))

    def _set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.busy_changed.emit(busy)

    def _on_relay_done(self, serial: int, result: object) -> None:
        if serial == self._serial:
            self._set_busy(False)
            self.succeeded.emit(result)

    def _on_relay_error(self, serial: int, message: str, tb: str) -> None:
        if serial == self._serial:
            self.last_traceback = tb
            self._set_busy(False)
            self.errored.emit(message)
