"""ServeWorker: ``llamahome serve`` as a child process of the window (QProcess).

Why a child process rather than a thread in the window's process: the server's Python work
(HTTP, JSON, tokenizing, the generation loop between torch calls) would share the window's
interpreter lock and make it stutter; the child is the very command a user runs in a
terminal, with the same log lines (read back with core/serve/requestlog.py); a crash in it
cannot take the window down; and stopping it ends the process, so the port is surely free.
The cost: the model is in memory twice while the Chat page has its own loaded.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from PyQt6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, pyqtSignal

from llamahome_gui.core.serve.requestlog import parse_line
from llamahome_gui.core.serve.server import parse_ready

STOP_GRACE_MS = 8000  # SIGTERM first (uvicorn closes cleanly), then SIGKILL


@dataclass(frozen=True)
class ServeStarted:
    base_url: str
    model_ids: list[str]


@dataclass(frozen=True)
class ServeStopped:
    exit_code: int
    error: str = ""  # the server's own one-line error when it could not start or failed


def serve_command(*, model_path: str, adapters: dict[str, str], host: str, port: int,
                  config_dir: str) -> list[str]:
    """The ``llamahome serve`` arguments (after the Python executable)."""
    args = ["-m", "llamahome_gui", "serve", "--host", host, "--port", str(port),
            "--config-dir", config_dir]
    if model_path:
        args += ["--model", model_path]
    for name, folder in adapters.items():
        args += ["--adapter", f"{name}={folder}"]
    return args


class ServeWorker(QObject):
    progressed = pyqtSignal(str)        # a line of start-up progress
    started = pyqtSignal(object)        # ServeStarted: it accepts requests
    request_logged = pyqtSignal(object)  # core.serve.requestlog.RequestRecord
    stopped = pyqtSignal(object)        # ServeStopped

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process: QProcess | None = None
        self._buffer = ""
        self._error = ""
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._on_kill_timer_timeout)

    @property
    def running(self) -> bool:
        return self._process is not None

    def start(self, **command: object) -> None:
        """Start ``llamahome serve`` (see :func:`serve_command` for the keywords)."""
        if self._process is not None:
            return
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(env)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.readyReadStandardError.connect(self._on_process_output)
        process.readyReadStandardOutput.connect(process.readAllStandardOutput)  # stays empty
        process.finished.connect(self._on_process_finished)
        process.errorOccurred.connect(self._on_process_error)
        self._process, self._buffer, self._error = process, "", ""
        process.start(sys.executable, serve_command(**command))  # type: ignore[arg-type]

    def stop(self) -> None:
        """End the server (it frees the port); ``stopped`` follows."""
        if self._process is not None and self._process.state() != QProcess.ProcessState.NotRunning:
            self._process.terminate()
            self._kill_timer.start(STOP_GRACE_MS)

    def shutdown(self) -> None:
        """Stop and wait (the window is closing)."""
        process = self._process
        if process is not None:
            self.stop()
            if not process.waitForFinished(STOP_GRACE_MS):
                process.kill()
                process.waitForFinished(2000)

    # -- process events --------------------------------------------------------------------
    def _on_process_output(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardError()).decode(errors="replace")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._handle(line.rstrip("\r"))

    def _handle(self, line: str) -> None:
        if not line.strip():
            return
        ready = parse_ready(line)
        if ready is not None:
            self.started.emit(ServeStarted(*ready))
            return
        record = parse_line(line)
        if record is not None:
            self.request_logged.emit(record)
        elif "error:" in line and line.startswith("llamahome serve"):
            self._error = line.split("error:", 1)[1].strip()
        elif not line.startswith(("[", " ", "Traceback")):
            self.progressed.emit(line)

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._error = f"could not start {sys.executable}"
            self._finish(-1)

    def _on_process_finished(self, exit_code: int, _status: QProcess.ExitStatus) -> None:
        self._on_process_output()
        if self._buffer:
            self._handle(self._buffer)
        self._finish(exit_code)

    def _finish(self, exit_code: int) -> None:
        if self._process is None:
            return
        self._kill_timer.stop()
        self._process.deleteLater()
        self._process = None
        self.stopped.emit(ServeStopped(exit_code, self._error))

    def _on_kill_timer_timeout(self) -> None:
        if self._process is not None:
            self._process.kill()
