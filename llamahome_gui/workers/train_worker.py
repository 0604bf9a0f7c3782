"""TrainWorker: runs the trainer as a child process and turns its events into Qt signals.

The trainer (``python -m llamahome_gui train --run-dir DIR``) writes ``events.jsonl`` in its
run folder; this worker tails that file (a file watcher plus a timer, since watchers miss
appends on some file systems) and polls the process, so a trainer that dies without a final
event is reported as failed within a fraction of a second. The child runs in its own session
with its output in ``trainer.log``: it outlives the window, and a restarted app re-attaches
to it by pid.
"""

from __future__ import annotations

import enum
import os
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtCore import QFileSystemWatcher, QObject, QTimer, pyqtSignal

from llamahome_gui.core.runs.events import (
    EVENTS_FILE,
    Checkpointed,
    Evaluated,
    Event,
    EventTail,
    LineTail,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    SampleGenerated,
    StatusReported,
    StepLogged,
    last_start_index,
)
from llamahome_gui.core.runs.liveness import is_alive
from llamahome_gui.core.runs.lock import RunBusyError, check_free

LOG_FILE = "trainer.log"  # the trainer process's own output, written by this worker
TRAINER_COMMAND = (sys.executable, "-m", "llamahome_gui", "train")
POLL_MS = 250
GRACE_S = 30.0


class TrainState(enum.StrEnum):
    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"  # SIGINT sent: the trainer is saving a checkpoint
    FORCING = "forcing"    # SIGKILL sent
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"


ACTIVE_STATES = {TrainState.STARTING, TrainState.RUNNING, TrainState.STOPPING, TrainState.FORCING}


def describe_exit(code: int | None) -> str:
    """Words for how a process ended, from a Popen return code."""
    if code is None:
        return "the trainer process ended without a final event"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the trainer process was killed ({name})"
    return f"the trainer process exited with code {code} without reporting why"


class TrainWorker(QObject):
    """One trainer run at a time: start / resume / attach, Stop, and its events as signals."""

    started = pyqtSignal(object)        # RunStarted
    step_logged = pyqtSignal(object)    # StepLogged
    evaluated = pyqtSignal(object)      # Evaluated
    checkpointed = pyqtSignal(object)   # Checkpointed
    sampled = pyqtSignal(object)        # SampleGenerated
    stopped = pyqtSignal(object)        # RunStopped
    failed = pyqtSignal(object)         # RunFailed (message, hint)
    finished = pyqtSignal(object)       # RunFinished
    status_reported = pyqtSignal(str)   # what the trainer is doing before its first step
    log_received = pyqtSignal(str)      # one line of the trainer's own output
    state_changed = pyqtSignal(str)     # a TrainState value

    def __init__(self, parent: QObject | None = None, *,
                 command: Sequence[str] = TRAINER_COMMAND, grace_s: float = GRACE_S) -> None:
        super().__init__(parent)
        self._command = list(command)
        self.grace_s = grace_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._pid_created: float | None = None
        self._run_dir: Path | None = None
        self._events: EventTail | None = None
        self._log: LineTail | None = None
        self._state = TrainState.IDLE
        self._terminal_seen = False
        self._last_step: int | None = None
        self._last_checkpoint: str | None = None
        self._log_fh = None
        self._recent_log: deque[str] = deque(maxlen=60)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._on_watcher_changed)
        self._watcher.directoryChanged.connect(self._on_watcher_changed)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._on_poll_timeout)
        self._grace = QTimer(self)
        self._grace.setSingleShot(True)
        self._grace.timeout.connect(self._on_grace_timeout)

    # ------------------------------------------------------------------ queries
    @property
    def state(self) -> TrainState:
        return self._state

    @property
    def run_dir(self) -> Path | None:
        return self._run_dir

    @property
    def pid(self) -> int | None:
        return self._pid

    def is_active(self) -> bool:
        return self._state in ACTIVE_STATES

    def command_for(self, run_dir: Path, *, config_dir: Path | None = None,
                    overrides: Sequence[str] = (), resume: Path | None = None,
                    extra_args: Sequence[str] = ()) -> list[str]:
        cmd = [*self._command, "--run-dir", str(run_dir), *extra_args]
        if config_dir is not None:
            cmd += ["--config-dir", str(config_dir)]
        for item in overrides:
            cmd += ["--set", item]
        if resume is not None:
            cmd += ["--resume", str(resume)]
        return cmd

    # ------------------------------------------------------------------ actions
    def start(self, run_dir: Path, *, config_dir: Path | None = None,
              overrides: Sequence[str] = (), resume: Path | None = None,
              extra_args: Sequence[str] = ()) -> None:
        """Start the trainer for ``run_dir``; a resumed run keeps its old events (not replayed).

        With a ``run.toml`` already in ``run_dir`` and no ``config_dir``, that snapshot is the
        run's config (the Train page writes it from the forms, unsaved edits included).
        """
        if self.is_active():
            raise RuntimeError("a training run is already active; stop it first")
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self._reset(run_dir, from_end=resume is not None)
        try:
            check_free(run_dir)  # another trainer owns it: refuse without starting one
        except RunBusyError as exc:
            self._fail(RunFailed(message=str(exc), hint=exc.hint))
            return
        cmd = self.command_for(run_dir, config_dir=config_dir, overrides=overrides, resume=resume,
                               extra_args=extra_args)
        self._log_fh = open(run_dir / LOG_FILE, "ab")  # noqa: SIM115 - closed when the run ends
        # the trainer's messages then speak of the Stop button, not of Ctrl+C
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "LLAMAHOME_TRAIN_FRONTEND": "gui"}
        self._set_state(TrainState.STARTING)
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=self._log_fh, stderr=subprocess.STDOUT,
                env=env, start_new_session=True, cwd=str(Path.cwd()))
        except OSError as exc:
            self._close_log()
            self._fail(RunFailed(message=f"could not start the trainer: {exc}",
                                 hint="check that Python and the llamahome_gui package are "
                                 "installed"))
            return
        self._pid = self._proc.pid
        self._begin_watching()

    def attach(self, run_dir: Path, pid: int | None) -> None:
        """Follow a run started earlier (e.g. before an app restart): replay the events of its
        current segment (since its newest start event), then tail."""
        if self.is_active():
            raise RuntimeError("a training run is already active; stop it first")
        self._reset(Path(run_dir), from_end=False)
        self._pid = pid
        self._set_state(TrainState.RUNNING)
        assert self._events is not None
        backlog = self._events.read()
        self._begin_watching()
        for event in backlog[last_start_index(backlog):]:
            if self.is_active():
                self._dispatch(event)
        self._drain()

    def detach(self) -> None:
        """Stop following the run without touching the process (the app is closing: the
        trainer goes on, and the next start of the app re-attaches to it)."""
        self._stop_watching()
        self._close_log()
        self._proc = None
        self._set_state(TrainState.IDLE)

    def stop(self) -> None:
        """First call: SIGINT (checkpoint, then exit). Again, or after the grace period: SIGKILL."""
        if self._state in (TrainState.STARTING, TrainState.RUNNING):
            self._signal(signal.SIGINT)
            self._set_state(TrainState.STOPPING)
            self._grace.start(int(self.grace_s * 1000))
        elif self._state == TrainState.STOPPING:
            self.force_stop()

    def force_stop(self) -> None:
        if self.is_active() and self._state != TrainState.FORCING:
            self._grace.stop()
            self._signal(signal.SIGKILL)
            self._set_state(TrainState.FORCING)

    # ------------------------------------------------------------------ internals
    def _reset(self, run_dir: Path, *, from_end: bool) -> None:
        self._run_dir = run_dir
        self._events = EventTail(run_dir, from_end=from_end)
        self._log = LineTail(run_dir / LOG_FILE, from_end=from_end)
        self._terminal_seen = False
        self._last_step = None
        self._last_checkpoint = None
        self._recent_log.clear()
        self._proc = None
        self._pid = None
        self._pid_created = None

    def _begin_watching(self) -> None:
        assert self._run_dir is not None
        paths = [str(self._run_dir)] + [str(p) for p in (self._run_dir / EVENTS_FILE,)
                                         if p.exists()]
        self._watcher.addPaths(paths)
        self._poll.start()

    def _stop_watching(self) -> None:
        self._poll.stop()
        self._grace.stop()
        if self._watcher.files() or self._watcher.directories():
            self._watcher.removePaths(self._watcher.files() + self._watcher.directories())

    def _signal(self, sig: signal.Signals) -> None:
        if self._pid is None:
            return
        try:
            os.kill(self._pid, sig)
        except ProcessLookupError:
            pass

    def _set_state(self, state: TrainState) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state.value)

    def _on_watcher_changed(self, _path: str) -> None:
        events = self._run_dir / EVENTS_FILE if self._run_dir else None
        if events is not None and events.exists() and str(events) not in self._watcher.files():
            self._watcher.addPath(str(events))
        self._drain()

    def _on_poll_timeout(self) -> None:
        self._drain()
        if self._proc is not None:
            code = self._proc.poll()
            if code is not None:
                self._on_process_ended(code)
        elif not is_alive(self._pid, self._pid_created):
            self._on_process_ended(None)

    def _on_grace_timeout(self) -> None:
        if self._state == TrainState.STOPPING:
            self.force_stop()

    def _drain(self) -> None:
        self._drain_log()
        if self._events is None or self._run_dir is None:
            return
        for event in self._events.read():
            if self.is_active():
                self._dispatch(event)

    def _drain_log(self) -> None:
        if self._log is not None:
            for line in self._log.read_lines():
                self._recent_log.append(line)
                self.log_received.emit(line)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, StatusReported):
            self.status_reported.emit(event.message)
        elif isinstance(event, RunStarted):
            if event.pid and self._proc is None and event.pid != self._pid:
                self._pid = event.pid  # attached: follow the trainer that wrote this
            if event.pid == self._pid:
                self._pid_created = event.pid_created
            if self._state == TrainState.STARTING:
                self._set_state(TrainState.RUNNING)
            self.started.emit(event)
        elif isinstance(event, StepLogged):
            self._last_step = event.step
            if self._state == TrainState.STARTING:
                self._set_state(TrainState.RUNNING)
            self.step_logged.emit(event)
        elif isinstance(event, Evaluated):
            self.evaluated.emit(event)
        elif isinstance(event, Checkpointed):
            self._last_checkpoint = event.path
            self.checkpointed.emit(event)
        elif isinstance(event, SampleGenerated):
            self.sampled.emit(event)
        elif isinstance(event, RunStopped):
            self._end(TrainState.STOPPED)
            self.stopped.emit(event)
        elif isinstance(event, RunFailed):
            self._fail(event)
        elif isinstance(event, RunFinished):
            self._end(TrainState.DONE)
            self.finished.emit(event)

    def _end(self, state: TrainState) -> None:
        self._terminal_seen = True
        self._grace.stop()
        self._set_state(state)
        if self._proc is None or self._proc.poll() is not None:
            self._finish_process()

    def _fail(self, failure: RunFailed) -> None:
        self._end(TrainState.FAILED)
        self.failed.emit(failure)

    def _on_process_ended(self, code: int | None) -> None:
        self._drain()  # events written just before the exit
        if not self._terminal_seen:
            if self._state in (TrainState.STOPPING, TrainState.FORCING):
                # killed, or interrupted before the trainer could save (e.g. while loading)
                forced = self._state == TrainState.FORCING
                self._end(TrainState.STOPPED)
                self.stopped.emit(RunStopped(step=self._last_step, checkpoint=self._last_checkpoint,
                                             forced=forced))
            else:
                self._fail(self._failure_from_exit(code))
        self._finish_process()

    def _failure_from_exit(self, code: int | None) -> RunFailed:
        """An exit without a final event: the trainer's own ``error:`` / ``hint:`` lines when
        it printed them (e.g. a config it refused), else how the process ended."""
        self._drain_log()
        errors = [ln[6:].strip() for ln in self._recent_log if ln.startswith("error:")]
        hints = [ln[5:].strip() for ln in self._recent_log if ln.startswith("hint:")]
        if errors and code is not None and code > 0:
            return RunFailed(message=errors[-1], hint=hints[-1] if hints else "", exit_code=code)
        return RunFailed(message=describe_exit(code), hint=_exit_hint(code), exit_code=code)

    def _finish_process(self) -> None:
        self._stop_watching()
        self._drain_log()
        self._close_log()

    def _close_log(self) -> None:
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None


def _exit_hint(code: int | None) -> str:
    if code is not None and code in (-signal.SIGKILL, 137):
        return ("something killed it: another program, or the system running out of memory "
                "(see `dmesg`); the last checkpoint, if any, can be resumed from the Runs page")
    return "see the log below for the trainer's last output; resume from the Runs page"
