"""ChatWorker: the chat session (core/chat/session.py) living in its own QThread.

The model is created, used and dropped only in the worker thread, so loading and generating
never block the window. Requests (load, adapter, answer, generate, unload) queue up and run
one after another; :meth:`ChatWorker.stop` acts at once from any thread. The session's events
are plain dataclasses, re-emitted here as signals; the worker never shows a dialog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PyQt6.QtCore import QCoreApplication, QObject, QThread, pyqtSignal, pyqtSlot

from llamahome_gui.core.chat.session import (
    AdapterChanged,
    ChatFailed,
    ChatSession,
    GenerationFinished,
    GenerationStarted,
    LoadProgressed,
    ModelLoaded,
    ModelUnloaded,
    StateChanged,
    TokenReceived,
)

__all__ = ["AdapterChanged", "ChatFailed", "ChatWorker", "GenerationFinished",
           "GenerationStarted", "LoadProgressed", "ModelLoaded", "ModelUnloaded", "StateChanged",
           "TokenReceived"]


@dataclass(frozen=True)
class _Request:
    kind: str
    args: dict[str, Any] = field(default_factory=dict)


def _leave_a_core_for_the_window() -> None:
    """Generate on all cores but one in the window's process.

    Measured (bench/bench_ui.py, 2 cores, a trainer running beside): with every core, torch's
    thread barriers wait for a core the OS gave to the trainer or the GUI thread, so the window
    stalls (heartbeat p99 23-31 ms) and chat crawls; with one core fewer the p99 was 14 ms and
    chat streamed 8x faster, at the same speed as before on an idle machine.
    """
    import torch

    from llamahome_gui.core.models.loading import usable_cores

    torch.set_num_threads(max(1, usable_cores() - 1))


def setup_for(model_path: str, kwargs: dict[str, Any]) -> Any:
    """A ChatSetup from ``ChatEngine.load``-style keyword arguments."""
    from llamahome_gui.core.chat.setup import ChatSetup

    values = dict(kwargs)
    adapter = values.pop("adapter", None) or ""
    return ChatSetup(model_path=model_path or "", adapter_path=str(adapter), **values)


class _SessionHost(QObject):
    """Lives in the worker thread; runs each request on the session to its end."""

    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session

    @pyqtSlot(object)
    def run(self, request: _Request) -> None:
        s = self.session
        if request.kind == "load":
            _leave_a_core_for_the_window()
            s.load(request.args["setup"])
        elif request.kind == "answer":
            _leave_a_core_for_the_window()
            s.answer(request.args["setup"], request.args["request_ids"])
        else:
            getattr(s, request.kind)(**request.args)


class ChatWorker(QObject):
    """Owns the chat session's thread. Call :meth:`start` once and :meth:`shutdown` at the end."""

    load_progressed = pyqtSignal(object)  # LoadProgressed
    loaded = pyqtSignal(object)           # ModelLoaded
    adapter_changed = pyqtSignal(object)  # AdapterChanged
    started = pyqtSignal(object)          # GenerationStarted
    token_received = pyqtSignal(object)   # TokenReceived
    finished = pyqtSignal(object)         # GenerationFinished (stats inside)
    failed = pyqtSignal(object)           # ChatFailed
    unloaded = pyqtSignal(object)         # ModelUnloaded
    state_changed = pyqtSignal(object)    # StateChanged
    _requested = pyqtSignal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._signals = {
            LoadProgressed: self.load_progressed, ModelLoaded: self.loaded,
            AdapterChanged: self.adapter_changed, GenerationStarted: self.started,
            TokenReceived: self.token_received, GenerationFinished: self.finished,
            ChatFailed: self.failed, ModelUnloaded: self.unloaded, StateChanged: self.state_changed}
        self.session = ChatSession(listener=self._on_session_event)
        self._quit_hooked = False
        self._thread = QThread()
        self._thread.setObjectName("llamahome-chat")
        self._host = _SessionHost(self.session)
        self._host.moveToThread(self._thread)
        self._requested.connect(self._host.run)
        self._thread.finished.connect(self._host.deleteLater)

    def _on_session_event(self, event: object) -> None:
        self._signals[type(event)].emit(event)

    # -- lifetime --------------------------------------------------------------------------
    def start(self) -> None:
        if not self._thread.isRunning():
            app = QCoreApplication.instance()
            if app is not None and not self._quit_hooked:
                app.aboutToQuit.connect(self.shutdown)
                self._quit_hooked = True
            self._thread.start()

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Stop any answer, drop the model, end the thread."""
        if not self._thread.isRunning():
            return
        self.stop()
        self._requested.emit(_Request("unload"))
        self._thread.quit()
        self._thread.wait(timeout_ms)

    @property
    def engine(self) -> Any:
        """The engine (read it only while nothing runs; it belongs to the worker thread)."""
        return self.session.engine

    # -- requests --------------------------------------------------------------------------
    def _queue(self, kind: str, **args: Any) -> None:
        self.start()
        self._requested.emit(_Request(kind, args))

    def load(self, model_path: str = "", **kwargs: Any) -> None:
        """Load a model (``ChatEngine.load`` keyword arguments: device, dtype, adapter…)."""
        self.load_setup(setup_for(model_path, kwargs))

    def load_setup(self, setup: Any) -> None:
        self._queue("load", setup=setup)

    def set_adapter(self, path: str) -> None:
        self._queue("set_adapter", path=path)

    def answer(self, setup: Any) -> list[int]:
        """Answer the session's last question (both sides in A/B), loading the model first
        when ``setup`` names another; returns the request ids the events will carry."""
        ids = self.session.reserve_ids(2 if self.session.ab_mode else 1)
        self._queue("answer", setup=setup, request_ids=ids)
        return ids

    def generate(self, system_prompt: str, turns: list[dict[str, str]], settings: Any, *,
                 side: str = "", use_adapter: bool | None = None) -> int:
        """Queue an answer to ``turns`` outside the conversations; returns its request id."""
        request_id = self.session.reserve_ids()[0]
        self._queue("generate", system_prompt=system_prompt, turns=[dict(t) for t in turns],
                    settings=settings, side=side, use_adapter=use_adapter, request_id=request_id)
        return request_id

    def unload(self) -> None:
        if self._thread.isRunning():
            self._requested.emit(_Request("unload"))

    def stop(self, shown: dict[int, str] | None = None) -> None:
        """End the running answer after its current token and cancel queued ones."""
        self.session.stop(shown)

    def is_cancelled(self, request_id: int) -> bool:
        return self.session.is_cancelled(request_id)
