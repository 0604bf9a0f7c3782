"""The chat session without Qt, on the tiny model and real PEFT adapters: send, stream, stop,
regenerate, A/B, adapter switch, and the state it reports along the way."""

from __future__ import annotations

import threading

import pytest

from llamahome_gui.core.chat import GenerationSettings
from llamahome_gui.core.chat.session import (
    AdapterChanged,
    ChatFailed,
    ChatSession,
    ChatState,
    GenerationFinished,
    GenerationStarted,
    ModelLoaded,
    StateChanged,
    TokenReceived,
)
from llamahome_gui.core.chat.setup import ChatSetup
from tests.core import test_chat_helpers as helpers

lora_adapter_dir = helpers.lora_adapter_dir  # fixtures
second_adapter_dir = helpers.second_adapter_dir
GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=12, repetition_penalty=1.0)


class Recorder(list):
    """The listener: every event, in order."""

    def __call__(self, event: object) -> None:
        self.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self if isinstance(e, kind)]


@pytest.fixture(scope="module")
def setup(tiny_model_dir) -> ChatSetup:
    return ChatSetup(model_path=str(tiny_model_dir), device="cpu", system_prompt="Be brief.",
                     settings=GREEDY)


@pytest.fixture(scope="module")
def loaded(setup):
    """(session, events) with the tiny model loaded; events are cleared per test."""
    events = Recorder()
    session = ChatSession(listener=events)
    assert session.load(setup) is not None
    yield session, events
    session.unload()


@pytest.fixture
def chat(loaded, setup):
    session, events = loaded
    session.set_adapter("")
    session.set_ab_mode(False)
    events.clear()
    return session, events


def test_send_streams_the_answer_into_the_conversation(chat, setup):
    session, events = chat
    [done] = session.ask("Tell me about the sea.", setup)
    tokens = events.of(TokenReceived)
    assert len(tokens) > 1 and "".join(t.text for t in tokens) == done.text
    assert done.stats.new_tokens == 12 and done.stats.stop_reason == "length"
    assert [m.role for m in session.conversation.messages] == ["user", "assistant"]
    assert session.conversation.messages[1].content == done.text
    assert session.conversation.messages[1].stats["new_tokens"] == 12
    assert session.conversation.system_prompt == "Be brief."
    states = [e.state for e in events.of(StateChanged)]
    assert states == [ChatState.GENERATING, ChatState.IDLE] and session.state == ChatState.IDLE
    # Started comes before the first token, Finished after the last.
    kinds = [type(e) for e in events if not isinstance(e, StateChanged)]
    assert kinds[0] is GenerationStarted and kinds[-1] is GenerationFinished


def test_the_next_question_sees_the_whole_conversation(chat, setup):
    session, events = chat
    session.ask("Tell me about the sea.", setup)
    first_prompt = events.of(GenerationStarted)[0].prompt_tokens
    session.ask("And the sky?", setup)
    assert events.of(GenerationStarted)[1].prompt_tokens > first_prompt
    assert [m.role for m in session.conversation.messages] == ["user", "assistant"] * 2


def test_stop_from_another_thread_keeps_what_was_shown(chat, setup):
    session, events = chat
    long = ChatSetup(**{**setup.__dict__, "settings": GenerationSettings(
        temperature=0.0, max_new_tokens=900, repetition_penalty=1.0)})
    shown: list[str] = []

    def listener(event: object) -> None:
        events(event)
        if isinstance(event, TokenReceived):
            shown.append(event.text)
            if len(shown) == 3:  # the user saw two pieces when pressing Stop
                threading.Thread(target=session.stop,
                                 args=({event.request_id: "".join(shown[:2])},)).start()

    session._emit = listener
    try:
        [done] = session.ask("Tell me about the sea.", long)
    finally:
        session._emit = events
    assert done.stats.stop_reason == "stopped" and done.stats.new_tokens < 900
    assert done.text == "".join(shown[:2])
    assert session.conversation.messages[-1].content == "".join(shown[:2])
    assert ChatState.STOPPING in [e.state for e in events.of(StateChanged)]
    assert session.state == ChatState.IDLE
    # The session answers normally right after a stop.
    [again] = session.ask("And the sky?", setup)
    assert again.stats.stop_reason == "length"


def test_stop_cancels_answers_not_yet_started(chat, setup):
    session, events = chat
    session.add_question("Tell me about the sea.")
    ids = session.reserve_ids()
    session.stop()
    cancelled = [GenerationFinished(ids[0], "", "", None, cancelled=True)]
    assert session.answer(setup, ids) == cancelled and events.of(GenerationFinished) == cancelled
    assert session.conversation.messages[-1].role == "user"  # nothing was added


def test_regenerate_replaces_the_last_answer(chat, setup):
    session, _events = chat
    [first] = session.ask("Tell me about the sea.", setup)
    [again] = session.regenerate(setup)
    assert again.text == first.text  # greedy: the same answer
    assert [m.role for m in session.conversation.messages] == ["user", "assistant"]
    session.set_ab_mode(False)
    assert session.regenerate(setup) == []  # nothing to answer in an empty chat


def test_adapter_switch_changes_the_answer_without_reloading(chat, setup, lora_adapter_dir,
                                                             second_adapter_dir):
    session, events = chat
    model = session.engine.model
    [base] = session.ask("Tell me about the sea.", setup)
    answers = {}
    for adapter in (lora_adapter_dir, second_adapter_dir):
        assert session.set_adapter(str(adapter))
        session.new_conversation()
        [answers[adapter]] = session.ask("Tell me about the sea.", setup)
        assert session.conversation.adapter == str(adapter.resolve())
    assert len({base.text, *(a.text for a in answers.values())}) == 3
    assert not events.of(ModelLoaded)  # the base model stayed loaded
    assert session.engine.model.get_base_model() is model
    assert [e.path for e in events.of(AdapterChanged)] == [str(lora_adapter_dir.resolve()),
                                                           str(second_adapter_dir.resolve())]


def test_ab_answers_each_question_with_base_and_adapter(chat, setup, lora_adapter_dir):
    session, _events = chat
    session.set_adapter(str(lora_adapter_dir))
    session.set_ab_mode(True)
    a, b = session.ask("Tell me about the sea.", setup)
    assert (a.side, b.side) == ("A", "B") and a.stats.adapter == ""
    assert b.stats.adapter == str(lora_adapter_dir.resolve()) and a.text != b.text
    assert [m.role for m in session.conversations()["B"].messages] == ["user", "assistant"]
    session.new_conversation()
    convs = session.conversations()
    assert set(convs) == {"A", "B"} and not convs["A"].messages  # a new A/B pair


def test_bad_adapter_and_missing_model_fail_as_events(tmp_path, setup):
    events = Recorder()
    session = ChatSession(listener=events)
    assert session.load(ChatSetup(model_path=str(tmp_path / "missing"))) is None
    [failed] = events.of(ChatFailed)
    assert failed.stage == "load" and "does not exist" in failed.message
    assert session.state == ChatState.IDLE and not session.loaded
    assert session.answer(setup.with_overrides(model_path=str(tmp_path / "missing"))) == []
    session.load(setup)
    assert not session.set_adapter(str(tmp_path))
    assert events.of(ChatFailed)[-1].stage == "adapter"
    assert "adapter_config.json" in events.of(ChatFailed)[-1].message
    session.unload()
