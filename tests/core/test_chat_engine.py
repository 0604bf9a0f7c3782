"""The chat engine on real models: streaming, Stop, adapters on/off, context fitting, unload."""

from __future__ import annotations

import threading

import pytest

from llamahome_gui.core.chat import (
    ChatEngine,
    ChatEngineError,
    ContextOverflowError,
    GenerationSettings,
)
from tests.core import test_chat_helpers as helpers

QUESTION = helpers.QUESTION
lora_adapter_dir = helpers.lora_adapter_dir  # fixtures shared by the chat tests
second_adapter_dir = helpers.second_adapter_dir

GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=24, repetition_penalty=1.0)


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    engine = ChatEngine()
    # float32: these answers are compared token for token with plain ``generate``
    engine.load(tiny_model_dir, device="cpu", decode_precision="float32")
    yield engine
    engine.unload()


def raw_greedy(engine: ChatEngine, system: str, turns, max_new_tokens: int) -> str:
    """What plain ``model.generate`` answers, for comparison with the stream."""
    import torch

    ids = engine.prepare(system, turns, GREEDY).input_ids
    out = engine.model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=engine.tokenizer.pad_token_id)
    return engine.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)


def test_stream_yields_the_answer_in_order(engine):
    engine.set_adapter(None)
    stream = engine.stream("Be brief.", QUESTION, GREEDY)
    pieces = list(stream)
    assert len(pieces) > 1, "the answer should arrive in several pieces"
    assert "".join(pieces) == raw_greedy(engine, "Be brief.", QUESTION, 24)
    stats = stream.stats
    assert stats.new_tokens == 24 and stats.stop_reason == "length"
    assert stats.time_to_first_token > 0 and stats.tokens_per_second > 0
    assert stats.context_used == stats.prompt_tokens + 24
    assert "tokens/s" in stats.summary


def test_temperature_zero_is_greedy_and_repeatable(engine):
    settings = GenerationSettings(temperature=0.0, do_sample=True, max_new_tokens=16)
    assert settings.generate_kwargs()["do_sample"] is False
    first, _ = engine.chat("", QUESTION, settings)
    second, _ = engine.chat("", QUESTION, settings)
    assert first == second


def test_stop_ends_the_answer_mid_stream(engine):
    settings = GenerationSettings(temperature=0.0, max_new_tokens=900, repetition_penalty=1.0)
    stream = engine.stream("", QUESTION, settings)
    received = []
    for piece in stream:
        received.append(piece)
        if len(received) == 3:
            threading.Thread(target=engine.stop).start()
    assert stream.stats.stop_reason == "stopped"
    assert 3 <= stream.stats.new_tokens < 100
    # The engine is usable again right after a stop.
    text, stats = engine.chat("", QUESTION, GREEDY)
    assert stats.stop_reason == "length" and text


def test_adapter_changes_the_answer_and_switches_without_reloading(engine, lora_adapter_dir,
                                                                  second_adapter_dir):
    engine.set_adapter(None)
    base_text, base_stats = engine.chat("", QUESTION, GREEDY)
    base_weights = engine.model.get_input_embeddings().weight

    engine.set_adapter(lora_adapter_dir)
    a_text, a_stats = engine.chat("", QUESTION, GREEDY)
    assert a_text != base_text
    assert a_stats.adapter == str(lora_adapter_dir.resolve()) and base_stats.adapter == ""

    engine.set_adapter(second_adapter_dir)
    b_text, _ = engine.chat("", QUESTION, GREEDY)
    assert b_text not in (a_text, base_text)
    # Same base tensors throughout: the base model was never reloaded.
    assert engine.model.get_input_embeddings().weight is base_weights

    engine.set_adapter(lora_adapter_dir)
    assert engine.chat("", QUESTION, GREEDY)[0] == a_text
    engine.set_adapter("")
    assert engine.chat("", QUESTION, GREEDY)[0] == base_text

    engine.set_adapter(lora_adapter_dir)
    ab = engine.compare("", QUESTION, GREEDY)
    assert (ab.base_text, ab.adapter_text) == (base_text, a_text)
    assert ab.base_stats.adapter == "" and ab.adapter_stats.adapter
    engine.set_adapter(None)


def test_bad_adapter_folder_says_what_to_pick(engine, tmp_path):
    with pytest.raises(ChatEngineError, match="adapter_config.json"):
        engine.set_adapter(tmp_path)
    with pytest.raises(ChatEngineError, match="does not exist"):
        engine.set_adapter(tmp_path / "missing")


def test_long_conversation_drops_oldest_turns_keeps_system_prompt(tiny_model_dir):
    engine = ChatEngine()
    engine.load(tiny_model_dir, device="cpu", max_sequence_length=200)
    system = "SYSTEM-RULE: answer briefly."
    turns = []
    for i in range(12):
        turns += [{"role": "user", "content": f"question {i} " + "word " * 20},
                  {"role": "assistant", "content": f"answer {i} " + "text " * 20}]
    turns.append({"role": "user", "content": "the newest question"})
    settings = GenerationSettings(temperature=0.0, max_new_tokens=40)
    prepared = engine.prepare(system, turns, settings)
    assert prepared.dropped_messages > 0 and prepared.dropped_messages % 2 == 0
    assert prepared.prompt_tokens + 40 <= 200
    text = engine.tokenizer.decode(prepared.input_ids)
    assert "SYSTEM-RULE" in text and "the newest question" in text and "question 0 " not in text
    assert "left out" in prepared.notice
    text, stats = engine.chat(system, turns, settings)
    assert stats.dropped_messages == prepared.dropped_messages and stats.context_used <= 200

    with pytest.raises(ContextOverflowError, match="shorten the message"):
        engine.prepare(system, [{"role": "user", "content": "long " * 400}], settings)
    with pytest.raises(ContextOverflowError, match="max_new_tokens"):
        engine.prepare(system, turns, GenerationSettings(max_new_tokens=500))
    engine.unload()


def test_nothing_loaded_is_a_clear_error():
    with pytest.raises(ChatEngineError, match="no model is loaded"):
        ChatEngine().chat("", QUESTION, GREEDY)


def test_starter_model_answers_paris_and_unload_frees_memory(starter_model_dir):
    engine = ChatEngine()
    info = engine.load(starter_model_dir, device="cpu")
    assert info.parameters > 100_000_000
    settings = GenerationSettings(temperature=0.0, max_new_tokens=24)
    text, stats = engine.chat("You are a helpful assistant.",
                              [{"role": "user", "content": "What is the capital of France?"}], settings)
    assert "Paris" in text
    freed = engine.unload()
    assert not engine.loaded
    # 135M float32 parameters are ~540 MB; most of it must go back to the system.
    assert freed.freed_bytes > 300_000_000, freed


def test_adapter_retrained_in_place_is_reloaded(engine, tiny_model_dir, tmp_path):
    import os

    folder = helpers.make_lora_adapter(tiny_model_dir, tmp_path / "adapter", seed=5)
    engine.set_adapter(folder)
    before, _ = engine.chat("", QUESTION, GREEDY)
    helpers.make_lora_adapter(tiny_model_dir, folder, seed=6)  # a new run wrote the same folder
    weights = folder / "adapter_model.safetensors"
    os.utime(weights, (weights.stat().st_atime, weights.stat().st_mtime + 5))
    engine.set_adapter(folder)
    after, _ = engine.chat("", QUESTION, GREEDY)
    assert after != before
    engine.set_adapter(None)
