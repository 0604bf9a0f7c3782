"""The chat session: one chat's state, conversations, model and adapter choice, A/B, requests.

The Chat page (through its worker thread), ``llamahome chat`` and the server drive this object;
they only draw what it reports. Every outcome is a frozen dataclass handed to the listener, in
the order it happened. Model work (:meth:`load`, :meth:`answer`, :meth:`generate`…) runs in one
owner thread; :meth:`stop` and the conversation edits (:meth:`add_question`,
:meth:`drop_last_answers`, :meth:`new_conversation`, :meth:`set_ab_mode`, :meth:`open`) may be
called from any thread. No Qt here.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from llamahome_gui.core.chat.conversation import Conversation, join_ab, split_ab
from llamahome_gui.core.chat.engine import ChatEngine, LoadInfo
from llamahome_gui.core.chat.settings import GenerationSettings
from llamahome_gui.core.chat.setup import ChatSetup


class ChatState(StrEnum):
    IDLE = "idle"
    LOADING = "loading"
    GENERATING = "generating"
    STOPPING = "stopping"


@dataclass(frozen=True)
class StateChanged:
    state: ChatState


@dataclass(frozen=True)
class LoadProgressed:
    message: str


@dataclass(frozen=True)
class ModelLoaded:
    info: LoadInfo


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
    stats: Any = None  # GenerationStats; None when cancelled before it started
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


Listener = Callable[[object], None]
AB_SIDES = (("A", False), ("B", True))  # side, use_adapter: A is always the base model


def _failure_text(exc: BaseException) -> str:
    message = str(exc) or type(exc).__name__
    if not isinstance(exc, OSError | RuntimeError | ValueError):
        message = f"{type(exc).__name__}: {message}"
    return message


class _Live:
    """An answer being written: what has arrived, and what the user saw when Stop came."""

    def __init__(self) -> None:
        self.text = ""
        self.frozen: str | None = None


class ChatSession:
    """One chat with one engine. ``listener`` receives every event (from the owner thread,
    except :class:`StateChanged` to ``stopping``, which comes from the thread calling stop)."""

    def __init__(self, listener: Listener | None = None, engine: ChatEngine | None = None) -> None:
        self.engine = engine or ChatEngine()
        self._emit = listener if listener is not None else (lambda _event: None)
        self._lock = threading.RLock()
        self._state = ChatState.IDLE
        self._ids = itertools.count(1)
        self._cancel_below = 0  # requests with a smaller id are cancelled
        self._live: dict[int, _Live] = {}
        self._loaded_key: tuple | None = None
        self._pending_adapter = ""  # chosen before any model was loaded
        self.conversation = Conversation()
        self.ab_conversations: dict[str, Conversation] = {}

    # ------------------------------------------------------------------------- state
    @property
    def state(self) -> ChatState:
        return self._state

    @property
    def loaded(self) -> bool:
        return self.engine.loaded

    @property
    def loaded_key(self) -> tuple | None:
        return self._loaded_key if self.engine.loaded else None

    @property
    def adapter(self) -> str:
        """The adapter answering (folder), "" for the base model."""
        return self.engine.adapter if self.engine.loaded else self._pending_adapter

    @property
    def ab_mode(self) -> bool:
        return bool(self.ab_conversations)

    def conversations(self) -> dict[str, Conversation]:
        """Side -> conversation: {"": the chat} or {"A": base model, "B": adapter}."""
        with self._lock:
            return dict(self.ab_conversations) if self.ab_mode else {"": self.conversation}

    def _set_state(self, state: ChatState) -> None:
        with self._lock:
            if state == self._state:
                return
            self._state = state
        self._emit(StateChanged(state))

    # ------------------------------------------------------------------ requests
    def reserve_ids(self, count: int = 1) -> list[int]:
        """Request ids for answers about to be asked (any thread), so a view can map the
        events to what it drew before the owner thread gets to them."""
        with self._lock:
            return [next(self._ids) for _ in range(count)]

    def is_cancelled(self, request_id: int) -> bool:
        return request_id < self._cancel_below

    def stop(self, shown: dict[int, str] | None = None) -> None:
        """End the running answer after its current token and cancel the queued ones (any
        thread). ``shown``: request id -> the text the user saw; the answer keeps exactly that."""
        with self._lock:
            self._cancel_below = next(self._ids)
            for request_id, live in self._live.items():
                if live.frozen is None:
                    seen = (shown or {}).get(request_id)
                    live.frozen = seen if seen is not None and live.text.startswith(seen) \
                        else live.text
            busy = self._state in (ChatState.GENERATING, ChatState.LOADING)
        self.engine.stop()
        if busy:
            self._set_state(ChatState.STOPPING)

    # -------------------------------------------------------------- conversations
    def new_conversation(self) -> None:
        with self._lock:
            self.conversation = Conversation()
            if self.ab_mode:
                self.ab_conversations = {"A": Conversation(), "B": Conversation()}

    def set_ab_mode(self, on: bool) -> None:
        """A/B: each question answered by the base model (A) and the adapter (B), two fresh
        conversations; off: one fresh conversation."""
        with self._lock:
            self.conversation = Conversation()
            self.ab_conversations = {"A": Conversation(), "B": Conversation()} if on else {}

    def open(self, conversation: Conversation) -> None:
        """Continue a saved conversation; a saved A/B comparison reopens as A/B."""
        with self._lock:
            if conversation.is_ab:
                self.ab_conversations = split_ab(conversation)
                self.conversation = Conversation()
            else:
                self.ab_conversations = {}
                self.conversation = conversation

    def saved_form(self) -> Conversation:
        """What to save: the chat, or both A/B sides joined into one conversation."""
        with self._lock:
            if self.ab_mode:
                return join_ab(self.ab_conversations["A"], self.ab_conversations["B"])
            return self.conversation

    def add_question(self, text: str) -> None:
        with self._lock:
            for conv in self.conversations().values():
                conv.add("user", text)

    def drop_last_answers(self) -> bool:
        """Remove the newest answer(s) (Regenerate); True when a question is left to answer."""
        with self._lock:
            convs = self.conversations().values()
            for conv in convs:
                if conv.messages and conv.messages[-1].role == "assistant":
                    conv.messages.pop()
            return any(c.messages and c.messages[-1].role == "user" for c in convs)

    # --------------------------------------------------------------------- model
    def load(self, setup: ChatSetup) -> LoadInfo | None:
        """Load the setup's model (base first), then its adapter; a bad adapter fails on its own
        and leaves the base model answering. None when the model could not be loaded."""
        self._set_state(ChatState.LOADING)
        try:
            kwargs = setup.load_kwargs()
            kwargs.pop("adapter", None)
            info = self.engine.load(setup.model_path, progress=lambda m: self._emit(
                LoadProgressed(m)), **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an event
            self._loaded_key = None
            self._emit(ChatFailed(_failure_text(exc), "load"))
            return None
        finally:
            self._set_state(ChatState.IDLE)
        self._loaded_key = setup.load_key()
        self._emit(ModelLoaded(info))
        self.set_adapter(setup.adapter_path or self._pending_adapter)
        return info

    def ensure_loaded(self, setup: ChatSetup) -> bool:
        """Load when nothing, or another model, is loaded; True when a model is ready."""
        if self.loaded_key == setup.load_key():
            return True
        return self.load(setup) is not None

    def set_adapter(self, path: str) -> bool:
        """Answer with this adapter ("" = the base model); loads it once, keeps the base."""
        path = path or ""
        if not self.engine.loaded:  # remembered for the next load
            self._pending_adapter = path
            self._emit(AdapterChanged(path))
            return True
        try:
            active = self.engine.set_adapter(
                path or None, progress=lambda m: self._emit(LoadProgressed(m)))
        except Exception as exc:  # noqa: BLE001
            self._emit(ChatFailed(_failure_text(exc), "adapter"))
            return False
        self._pending_adapter = active
        self._emit(AdapterChanged(active))
        return True

    def unload(self) -> None:
        if not self.engine.loaded:
            return
        self.stop()
        try:
            freed = self.engine.unload().freed_bytes
        except Exception as exc:  # noqa: BLE001
            self._emit(ChatFailed(_failure_text(exc), "unload"))
            return
        self._loaded_key = None
        self._set_state(ChatState.IDLE)
        self._emit(ModelUnloaded(freed))

    # ---------------------------------------------------------------- answering
    def ask(self, text: str, setup: ChatSetup) -> list[GenerationFinished]:
        """Add the question and answer it (loading the model first when needed)."""
        self.add_question(text)
        return self.answer(setup)

    def regenerate(self, setup: ChatSetup) -> list[GenerationFinished]:
        """Answer the last question again."""
        return self.answer(setup) if self.drop_last_answers() else []

    def answer(self, setup: ChatSetup, request_ids: list[int] | None = None
               ) -> list[GenerationFinished]:
        """Answer the last question of each conversation (A/B: base, then adapter); each
        answer joins its conversation before its :class:`GenerationFinished` goes out."""
        sides = AB_SIDES if self.ab_mode else (("", None),)
        ids = list(request_ids or self.reserve_ids(len(sides)))
        if not self.ensure_loaded(setup):
            for request_id, (side, _) in zip(ids, sides, strict=False):
                self._emit(GenerationFinished(request_id, side, "", None, cancelled=True))
            return []
        results = []
        self._set_state(ChatState.GENERATING)
        for request_id, (side, use_adapter) in zip(ids, sides, strict=False):
            conv = self.conversations().get(side)
            if conv is None:  # the conversation was replaced meanwhile
                continue
            conv.system_prompt = setup.system_prompt
            conv.model = self.engine.info.model_name if self.engine.info else ""
            finished = self._run(request_id, side, setup.system_prompt, conv.turns(),
                                 setup.settings, use_adapter)
            if finished is None:
                continue
            if finished.stats is not None and (finished.text or
                                               finished.stats.stop_reason != "stopped"):
                with self._lock:
                    conv.adapter = finished.stats.adapter
                    conv.add("assistant", finished.text, finished.stats.to_dict())
            self._emit(finished)
            results.append(finished)
        self._set_state(ChatState.IDLE)
        return results

    def generate(self, system_prompt: str, turns: list[dict[str, str]],
                 settings: GenerationSettings, *, side: str = "", use_adapter: bool | None = None,
                 request_id: int | None = None) -> GenerationFinished | None:
        """One answer to ``turns`` outside the conversations (scripts, tests, the worker's raw
        requests). None when it failed (a :class:`ChatFailed` says why)."""
        request_id = request_id if request_id is not None else self.reserve_ids()[0]
        self._set_state(ChatState.GENERATING)
        finished = self._run(request_id, side, system_prompt, turns, settings, use_adapter)
        self._set_state(ChatState.IDLE)
        if finished is not None:
            self._emit(finished)
        return finished

    def _run(self, request_id: int, side: str, system_prompt: str, turns: list[dict[str, str]],
             settings: GenerationSettings, use_adapter: bool | None) -> GenerationFinished | None:
        if self.is_cancelled(request_id):
            return GenerationFinished(request_id, side, "", None, cancelled=True)
        live = _Live()
        with self._lock:
            self._live[request_id] = live
        try:
            prepared = self.engine.prepare(system_prompt, turns, settings)
            self._emit(GenerationStarted(request_id, side, prepared.prompt_tokens,
                                         prepared.context_limit, prepared.notice))
            stream = self.engine.stream(system_prompt, turns, settings, use_adapter=use_adapter,
                                        prepared=prepared)
            if self.is_cancelled(request_id):  # Stop came between prepare and the stream
                self.engine.stop()
            for piece in stream:
                with self._lock:
                    live.text += piece
                    frozen = live.frozen is not None
                if frozen or self.is_cancelled(request_id):
                    self.engine.stop()
                    continue
                self._emit(TokenReceived(request_id, side, piece))
            with self._lock:
                text = live.frozen if live.frozen is not None else live.text
            return GenerationFinished(request_id, side, text, stream.stats)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an event
            self._emit(ChatFailed(_failure_text(exc), "generate", request_id, side))
            return None
        finally:
            with self._lock:
                self._live.pop(request_id, None)
