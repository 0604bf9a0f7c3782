"""The llama.cpp chat engine on real models: GGUF copies made once, adapters as GGUF LoRA files
answering as peft does, A/B and switching, Stop within one token, context trimming, a crashed
decoder process replaced by torch. Skips where llama-cpp-python is not installed (except the
tests of what happens without it)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from llamahome_gui.core.chat import ChatEngine, ChatEngineError, GenerationSettings
from llamahome_gui.core.chat.decode import DecodeRequest, run_decode
from tests.core import test_chat_helpers as helpers

QUESTION = [{"role": "user", "content": "Tell me about the sea."}]
GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=24, repetition_penalty=1.0)
needs_llama_cpp = pytest.mark.skipif(
    __import__("importlib").util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed (bash installer/install.sh --llamacpp)")


def make_adapter(model_dir: Path, out: Path, **lora) -> Path:
    """A real peft adapter on every linear layer (Q and K included: their rows are permuted in
    GGUF), random non-zero B, rsLoRA scaling unless told otherwise."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(7)
    base = AutoModelForCausalLM.from_pretrained(model_dir, use_safetensors=True)
    config = LoraConfig(**{"r": 8, "lora_alpha": 24, "use_rslora": True, "init_lora_weights": False,
                           "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                              "up_proj", "down_proj"], **lora})
    get_peft_model(base, config).save_pretrained(out, safe_serialization=True)
    return out


@pytest.fixture(scope="module")
def all_linear_adapter(tiny_model_dir, tmp_path_factory) -> Path:
    return make_adapter(tiny_model_dir, tmp_path_factory.mktemp("lora-all") / "adapter")


def answer_ids(engine: ChatEngine, *, use_adapter: bool | None = None, n: int = 24) -> list[int]:
    """The greedy answer's token ids (end-of-sequence masked, so every answer is n long)."""
    prepared = engine.prepare("You are terse.", QUESTION, GREEDY)
    ids: list[int] = []
    stepper = engine._stepper(bool(engine.adapter) and use_adapter is not False)
    run_decode(stepper, prepared.input_ids, DecodeRequest(n, min_new_tokens=n),
               eos_ids={0, 1, 2}, stop=threading.Event(), on_token=ids.append)
    return ids


@needs_llama_cpp
def test_adapters_answer_through_llama_cpp_as_through_peft(tiny_model_dir, all_linear_adapter,
                                                           lora_adapter_dir):
    """Same greedy tokens from llama.cpp (f32 copy + GGUF LoRA files) as from torch's float32
    decoder, for the base, two adapters (one on every linear layer with rsLoRA, one on three),
    switching back and forth, and A/B."""
    answers = {}
    for name in ("torch", "llama.cpp"):
        engine = ChatEngine()
        engine.load(tiny_model_dir, device="cpu", decode_precision="float32", decode_engine=name)
        got = [answer_ids(engine)]
        for adapter in (all_linear_adapter, lora_adapter_dir, all_linear_adapter):
            engine.set_adapter(adapter)
            got.append(answer_ids(engine))
            got.append(answer_ids(engine, use_adapter=False))
        assert engine.decode_path == ("llama.cpp/f32" if name == "llama.cpp" else "llama/float32")
        ab = engine.compare("You are terse.", QUESTION, GREEDY)
        got.append([ab.base_text, ab.adapter_text])
        answers[name] = got
        engine.unload()
    assert answers["llama.cpp"] == answers["torch"]
    base, tuned_all, _, tuned_three = answers["torch"][:4]
    assert len({tuple(base), tuple(tuned_all), tuple(tuned_three)}) == 3  # each adapter matters


@needs_llama_cpp
def test_default_engine_on_the_starter_knows_paris_and_trims_long_chats(starter_model_dir):
    """The default settings pick llama.cpp at f16; a conversation longer than the context is
    trimmed from the oldest turn as on torch, and the answer still comes."""
    engine = ChatEngine()
    info = engine.load(starter_model_dir, device="cpu", max_sequence_length=256)
    assert info.decode == "llama.cpp/f16"
    text, stats = engine.chat("You are a helpful assistant.",
                              [{"role": "user", "content": "What is the capital of France?"}],
                              GREEDY)
    assert "Paris" in text and stats.new_tokens > 1
    turns = []
    for i in range(12):
        turns += [{"role": "user", "content": f"Question {i}: tell me a fact about rivers."},
                  {"role": "assistant", "content": "Rivers carry water to the sea. " * 4}]
    turns.append({"role": "user", "content": "What is the capital of France?"})
    stream = engine.stream("You are a helpful assistant.", turns, GREEDY)
    text = stream.wait()
    assert stream.stats.dropped_messages > 0
    assert stream.stats.context_used <= 256 and text
    engine.unload()


@needs_llama_cpp
@pytest.mark.parametrize("penalty", [1.0, 1.1])  # greedy in the llama.cpp process / per step
def test_stop_ends_a_llama_cpp_answer_within_one_token(starter_model_dir, penalty):
    engine = ChatEngine()
    engine.load(starter_model_dir, device="cpu")
    settings = GenerationSettings(temperature=0.0, max_new_tokens=200, repetition_penalty=penalty)
    stream = engine.stream("You are a helpful assistant.",
                           [{"role": "user", "content": "Write a long story about a ship."}],
                           settings, min_new_tokens=200)
    seen = 0
    for _piece in stream:
        seen = stream._streamer.new_tokens
        if seen >= 5:
            engine.stop()
            break
    stream.wait()
    assert stream.stats.stop_reason == "stopped"
    assert stream.stats.new_tokens <= seen + 1
    # the process is in step again: the next answer is whole and the same as a fresh one's
    short = GenerationSettings(temperature=0.0, max_new_tokens=12, repetition_penalty=penalty)
    ask = [{"role": "user", "content": "What is the capital of France?"}]
    again = engine.chat("You are a helpful assistant.", ask, short)[0]
    engine.unload()
    engine.load(starter_model_dir, device="cpu")
    assert engine.chat("You are a helpful assistant.", ask, short)[0] == again and again
    engine.unload()


@needs_llama_cpp
def test_a_killed_decoder_process_hands_over_to_torch(tiny_model_dir):
    """The llama.cpp process is native code in its own process: when it dies (here: killed),
    the next answer comes from torch, the same greedy answer, and the engine says why."""
    engine = ChatEngine()
    engine.load(tiny_model_dir, device="cpu", decode_precision="float32",
                decode_engine="llama.cpp")
    first = answer_ids(engine)
    process = engine._decoders._process
    os.kill(process.pid, signal.SIGKILL)
    process._proc.wait(timeout=30)  # dead before the next answer starts
    assert answer_ids(engine) == first
    assert engine.decode_path.startswith("llama/float32 (the llama.cpp decoder stopped (exit code -9)")
    engine.unload()


@needs_llama_cpp
def test_a_decoder_dying_mid_answer_is_one_clear_error_then_torch_answers(starter_model_dir):
    from llamahome_gui.core.chat.decode_gguf import DecoderStopped

    engine = ChatEngine()
    engine.load(starter_model_dir, device="cpu")
    stream = engine.stream("You are a helpful assistant.",
                           [{"role": "user", "content": "Write a long story about a ship."}],
                           GenerationSettings(temperature=0.0, max_new_tokens=200),
                           min_new_tokens=200)
    with pytest.raises(DecoderStopped, match=r"stopped \(exit code -9\); send again to answer "
                                             "with torch"):
        for _piece in stream:
            if stream._streamer.new_tokens >= 3 and engine._decoders.pids():
                os.kill(engine._decoders.pids()[0], signal.SIGKILL)
    assert 3 <= stream.stats.new_tokens < 200
    text, _ = engine.chat("You are a helpful assistant.",
                          [{"role": "user", "content": "What is the capital of France?"}], GREEDY)
    assert "Paris" in text and engine.decode_path.startswith("llama/float16 (the llama.cpp")
    engine.unload()


@needs_llama_cpp
def test_an_adapter_llama_cpp_cannot_hold_answers_on_torch(tiny_model_dir, tmp_path):
    """DoRA has no GGUF LoRA form: that adapter answers from torch's merged decoder, the base
    still from llama.cpp, and the path names the reason."""
    dora = make_adapter(tiny_model_dir, tmp_path / "dora", use_dora=True, use_rslora=False)
    reference = ChatEngine()
    reference.load(tiny_model_dir, device="cpu", decode_precision="float32",
                   decode_engine="torch")
    reference.set_adapter(dora)
    expected = answer_ids(reference)
    reference.unload()
    engine = ChatEngine()
    engine.load(tiny_model_dir, device="cpu", decode_precision="float32",
                decode_engine="llama.cpp")
    engine.set_adapter(dora)
    assert "DoRA" in engine.decode_path and engine.decode_path.startswith("llama/float32")
    assert answer_ids(engine) == expected
    engine.set_adapter(None)
    assert engine.decode_path == "llama.cpp/f32"
    engine.unload()


@needs_llama_cpp
def test_copies_are_made_once_and_again_when_the_model_changes(tiny_model_dir, tmp_path,
                                                               monkeypatch):
    import shutil

    from llamahome_gui.core.chat.gguf_files import cache_dir

    monkeypatch.setenv("LLAMAHOME_CACHE_HOME", str(tmp_path / "cache"))
    model = tmp_path / "tiny"
    shutil.copytree(tiny_model_dir, model)
    said: list[str] = []
    engine = ChatEngine()
    engine.load(model, device="cpu", progress=said.append)
    assert any(m.startswith("Converting tiny") for m in said)
    engine.unload()
    said.clear()
    engine.load(model, device="cpu", progress=said.append)
    assert not any(m.startswith("Converting") for m in said)  # the copy is reused
    engine.unload()
    weights = model / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    engine.load(model, device="cpu", progress=said.append)
    assert any(m.startswith("Converting tiny") for m in said)  # changed in place: made again
    engine.unload()
    assert len(list(cache_dir().glob("*.gguf"))) == 1  # the stale copy is gone


def test_without_llama_cpp_auto_uses_torch_and_asking_for_it_says_how(tiny_model_dir,
                                                                      monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    engine = ChatEngine()
    assert engine.load(tiny_model_dir, device="cpu").decode.startswith("llama/")
    engine.unload()
    with pytest.raises(ChatEngineError, match=r"llama-cpp-python is not installed .*--llamacpp"):
        engine.load(tiny_model_dir, device="cpu", decode_engine="llama.cpp")
    assert not engine.loaded


def test_a_lora_gguf_file_reads_back_with_scales_inside(tiny_model_dir, all_linear_adapter,
                                                        tmp_path):
    """Read back by gguf's own reader: an adapter file for llama.cpp, A and B for every adapted
    weight under its GGUF name, B already carrying peft's scale (rsLoRA: alpha / sqrt(r))."""
    import math

    import numpy as np
    from gguf import GGUFReader
    from safetensors.numpy import load_file

    from llamahome_gui.core.export.gguf_lora import write_lora_gguf

    out = write_lora_gguf(all_linear_adapter, tiny_model_dir, tmp_path / "a.gguf")
    reader = GGUFReader(out)
    fields = {k: reader.fields[k] for k in ("general.type", "adapter.type", "adapter.lora.alpha")}
    assert bytes(fields["general.type"].parts[-1]).decode() == "adapter"
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 0.0
    tensors = {t.name: np.array(t.data) for t in reader.tensors}
    assert len(tensors) == 2 * 7 * 2  # A and B, 7 modules, 2 layers
    peft = load_file(all_linear_adapter / "adapter_model.safetensors")
    v_b = peft["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"]
    assert np.allclose(tensors["blk.1.attn_v.weight.lora_b"], v_b * 24 / math.sqrt(8), atol=1e-6)
    assert np.array_equal(tensors["blk.1.attn_v.weight.lora_a"],
                          peft["base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"])


def test_a_dora_adapter_is_refused_by_name_before_writing(tiny_model_dir, tmp_path):
    from llamahome_gui.core.export.errors import UnsupportedModelError
    from llamahome_gui.core.export.gguf_lora import write_lora_gguf

    dora = make_adapter(tiny_model_dir, tmp_path / "dora", use_dora=True)
    with pytest.raises(UnsupportedModelError, match="DoRA"):
        write_lora_gguf(dora, tiny_model_dir, tmp_path / "d.gguf")
    assert not list(tmp_path.glob("*d.gguf*"))


lora_adapter_dir = helpers.lora_adapter_dir
