"""ChatWorker: the chat engine living in its own QThread, driven by queued requests.

The model is created, used and dropped only in the worker thread, so loading and
generating never block the window. Requests (load, adapter, generate, unload) queue up and
run one after another; :meth:`ChatWorker.stop` acts at once from any thread (it sets the
engine's stop flag and cancels answers still waiting in the queue). Every outcome is a
plain dataclass on a signal; the worker never shows a dialog.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from PyQt6.QtCore import QCoreApplication, QObject, QThread, pyqtSignal, pyqtSlot


@dataclass(frozen=True)
class LoadProgressed:
    message: str


@dataclass(frozen=True)
class ModelLoaded:
    info: Any  # core.chat.LoadInfo


@dataclass(frozen=True)
class AdapterChanged:
    path: str  # "" = the base model


@dataclass(frozen=True)
class GenerationStarted:
    request_id: int
    side: str
    prompt_tokens: int
    context_limit: int
    notice: str = ""  # old turns were left out to fit the context


@dataclass(frozen=True)
class TokenReceived:
    request_id: int
    side: str
    text: str


@dataclass(frozen=True)
class GenerationFinished:
    request_id: int
    side: str
    text: str
    stats: Any = None  # core.chat.GenerationStats; None when cancelled before it started
    cancelled: bool = False


@dataclass(frozen=True)
class ChatFailed:
    message: str
    stage: str  # "load", "adapter", "generate" or "unload"
    request_id: int | None = None
    side: str = ""


@dataclass(frozen=True)
class ModelUnloaded:
    freed_bytes: int


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


class _EngineHost(QObject):
    """Lives in the worker thread; runs each request to its end."""

    def __init__(self, worker: ChatWorker) -> None:
        super().__init__()
        self._worker = worker
        self.engine: Any = None

    @pyqtSlot(object)
    def run(self, request: _Request) -> None:
        w = self._worker
        if self.engine is None:
            from llamahome_gui.core.chat.engine import ChatEngine

            self.engine = ChatEngine()
        handler = getattr(self, f"_do_{request.kind}")
        try:
            handler(**request.args)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a signal
            message = str(exc) or type(exc).__name__
            if not isinstance(exc, OSError | RuntimeError | ValueError):
                message = f"{type(exc).__name__}: {message}"
            w.failed.emit(ChatFailed(message, request.kind, request.args.get("request_id"),
                                     request.args.get("side", "")))

    def _do_load(self, model_path: str, kwargs: dict[str, Any]) -> None:
        """Base model first; a bad adapter then fails on its own and leaves the model usable."""
        w = self._worker
        adapter = kwargs.pop("adapter", None)
        _leave_a_core_for_the_window()
        info = self.engine.load(model_path, progress=lambda m: w.load_progressed.emit(
            LoadProgressed(m)), **kwargs)
        w.loaded.emit(ModelLoaded(info))
        if adapter:
            self.run(_Request("adapter", {"path": adapter}))
        else:
            w.adapter_changed.emit(AdapterChanged(""))

    def _do_adapter(self, path: str) -> None:
        w = self._worker
        if not self.engine.loaded:  # remembered for the next load
            w.adapter_changed.emit(AdapterChanged(path))
            return
        active = self.engine.set_adapter(
            path or None, progress=lambda m: w.load_progressed.emit(LoadProgressed(m)))
        w.adapter_changed.emit(AdapterChanged(active))

    def _do_generate(self, request_id: int, side: str, system_prompt: str,
                     turns: list[dict[str, str]], settings: Any, use_adapter: bool | None) -> None:
        w = self._worker
        if w.is_cancelled(request_id):
            w.finished.emit(GenerationFinished(request_id, side, "", None, cancelled=True))
            return
        prepared = self.engine.prepare(system_prompt, turns, settings)
        w.started.emit(GenerationStarted(request_id, side, prepared.prompt_tokens,
                                         prepared.context_limit, prepared.notice))
        stream = self.engine.stream(system_prompt, turns, settings, use_adapter=use_adapter,
                                    prepared=prepared)
        for piece in stream:
            if w.is_cancelled(request_id):  # Stop pressed just before the stream began
                self.engine.stop()
            w.token_received.emit(TokenReceived(request_id, side, piece))
        w.finished.emit(GenerationFinished(request_id, side, stream.text, stream.stats))

    def _do_unload(self) -> None:
        if self.engine.loaded:
            self._worker.unloaded.emit(ModelUnloaded(self.engine.unload().freed_bytes))


class ChatWorker(QObject):
    """Owns the chat engine's thread. Call :meth:`start` once and :meth:`shutdown` at the end."""

    load_progressed = pyqtSignal(object)  # LoadProgressed
    loaded = pyqtSignal(object)           # ModelLoaded
    adapter_changed = pyqtSignal(object)  # AdapterChanged
    started = pyqtSignal(object)          # GenerationStarted
    token_received = pyqtSignal(object)   # TokenReceived
    finished = pyqtSignal(object)         # GenerationFinished (stats inside)
    failed = pyqtSignal(object)           # ChatFailed
    unloaded = pyqtSignal(object)         # ModelUnloaded
    _requested = pyqtSignal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._cancel_below = 0  # requests with a smaller id are cancelled
        self._quit_hooked = False
        self._thread = QThread()
        self._thread.setObjectName("llamahome-chat")
        self._host = _EngineHost(self)
        self._host.moveToThread(self._thread)
        self._requested.connect(self._host.run)
        self._thread.finished.connect(self._host.deleteLater)

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
        return self._host.engine

    # -- requests --------------------------------------------------------------------------
    def load(self, model_path: str = "", **kwargs: Any) -> None:
        """Load a model (``ChatEngine.load`` keyword arguments: device, dtype, adapter…)."""
        self.start()
        self._requested.emit(_Request("load", {"model_path": model_path, "kwargs": kwargs}))

    def set_adapter(self, path: str) -> None:
        self.start()
        self._requested.emit(_Request("adapter", {"path": path}))

    def generate(self, system_prompt: str, turns: list[dict[str, str]], settings: Any, *,
                 side: str = "", use_adapter: bool | None = None) -> int:
        """Queue an answer to the last user turn; returns the request id the events carry."""
        self.start()
        request_id = next(self._ids)
        self._requested.emit(_Request("generate", {
            "request_id": request_id, "side": side, "system_prompt": system_prompt,
            "turns": [dict(t) for t in turns], "settings": settings, "use_adapter": use_adapter}))
        return request_id

    def unload(self) -> None:
        if self._thread.isRunning():
            self._requested.emit(_Request("unload"))

    def stop(self) -> None:
        """End the running answer after its current token and cancel queued ones."""
        self._cancel_below = next(self._ids)
        engine = self._host.engine
        if engine is not None:
            engine.stop()

    def is_cancelled(self, request_id: int) -> bool:
        return request_id < self._cancel_below
