"""The decode loop and the llama decoder on real models: same answers as ``generate``, Stop
within one token, adapters merged into the decoder answer as peft does, sampling as
transformers samples."""

from __future__ import annotations

import threading

import pytest

from llamahome_gui.core.chat import ChatEngine, GenerationSettings
from llamahome_gui.core.chat.decode import DecodeRequest, ModelStepper, Sampler, run_decode
from llamahome_gui.core.chat.decode_llama import LlamaDecoder, UnsupportedModel
from tests.core import test_chat_helpers as helpers

lora_adapter_dir = helpers.lora_adapter_dir
SYSTEM = "You are a helpful assistant."


def generate_ids(model, prompt: list[int], n: int) -> list[int]:
    import torch

    ids = torch.tensor([prompt])
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                             do_sample=False, pad_token_id=model.generation_config.eos_token_id)
    return out[0, len(prompt):].tolist()


def decode_ids(stepper, prompt: list[int], n: int, eos: set[int],
               request: DecodeRequest | None = None) -> tuple[list[int], str]:
    out: list[int] = []
    reason = run_decode(stepper, prompt, request or DecodeRequest(n), eos_ids=eos,
                        stop=threading.Event(), on_token=out.append)
    return out, reason


def test_starter_fp32_answers_token_for_token_as_generate(starter_model_dir):
    """The chat engine's default path on the real model: the same 64 tokens as ``generate``."""
    engine = ChatEngine()
    engine.load(starter_model_dir, device="cpu", decode_precision="float32")
    assert engine.decode_path == "llama/float32"
    turns = [{"role": "user", "content": "Which vegetables grow well in pots on a balcony?"}]
    settings = GenerationSettings(temperature=0.0, max_new_tokens=64, repetition_penalty=1.0)
    prompt = engine.prepare(SYSTEM, turns, settings).input_ids
    expected = generate_ids(engine.model, prompt, 64)
    text, stats = engine.chat(SYSTEM, turns, settings)
    assert text == engine.tokenizer.decode(expected, skip_special_tokens=True)
    assert stats.new_tokens == len(expected)
    engine.unload()


@pytest.mark.parametrize("precision", ["float16", "int8"])
def test_packed_weights_still_know_the_capital_of_france(starter_model_dir, precision):
    engine = ChatEngine()
    engine.load(starter_model_dir, device="cpu", decode_precision=precision, decode_engine="torch")
    assert engine.decode_path == f"llama/{precision}"
    text, _ = engine.chat(SYSTEM, [{"role": "user", "content": "What is the capital of France?"}],
                          GenerationSettings(temperature=0.0, max_new_tokens=24))
    assert "Paris" in text
    engine.unload()


def test_stop_ends_the_answer_within_one_token(tiny_model_dir):
    """Stop pressed while token k is handed over: token k is the last one."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    stop = threading.Event()
    received: list[int] = []

    def on_token(token: int) -> None:
        received.append(token)
        if len(received) == 5:  # another thread presses Stop, as the window's button does
            presser = threading.Thread(target=stop.set)
            presser.start()
            presser.join()

    reason = run_decode(LlamaDecoder(model), [1, 2, 3], DecodeRequest(200, min_new_tokens=200),
                        eos_ids={0}, stop=stop, on_token=on_token)
    assert reason == "stopped" and len(received) == 5


def test_merged_adapter_answers_as_the_peft_model(tiny_model_dir, lora_adapter_dir):
    """The decoder's merged copy of an adapter and peft's own forward give the same answer,
    and the base decoder ignores the adapter, switching back and forth."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    model = PeftModel.from_pretrained(base, str(lora_adapter_dir)).eval()
    prompt, eos = [1, 5, 9, 200, 17], {0}
    shared: dict = {}
    with_adapter = LlamaDecoder(model, with_adapter=True, shared=shared)
    without = LlamaDecoder(model, with_adapter=False, shared=shared)
    peft_answer, _ = decode_ids(ModelStepper(model), prompt, 24, eos)
    with model.disable_adapter():
        base_answer, _ = decode_ids(ModelStepper(model), prompt, 24, eos)
    assert peft_answer != base_answer  # the adapter matters
    for _ in range(2):
        assert decode_ids(with_adapter, prompt, 24, eos)[0] == peft_answer
        assert decode_ids(without, prompt, 24, eos)[0] == base_answer
    # int8: the adapter's layers are packed again, the others are shared with the base
    kernels: dict = {}
    LlamaDecoder(model, "int8", with_adapter=False, shared=kernels)
    before = len(kernels)
    LlamaDecoder(model, "int8", with_adapter=True, shared=kernels)
    assert len(kernels) == before


def test_other_architectures_use_the_model_forward(tiny_model_dir, tmp_path):
    """A model the llama decoder does not cover (sliding-window attention) still answers as
    ``generate`` does, through the model's own forward."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    config = MistralConfig(vocab_size=300, hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                           sliding_window=8, max_position_embeddings=256, eos_token_id=0)
    model = MistralForCausalLM(config).eval()
    with pytest.raises(UnsupportedModel, match="sliding"):
        LlamaDecoder(model)
    prompt = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    answer, _ = decode_ids(ModelStepper(model), prompt, 20, set())
    assert answer == generate_ids(model, prompt, 20)


def test_sampler_keeps_the_tokens_transformers_keeps():
    """top-k, then top-p after temperature, as transformers' warpers; repetition penalty as its
    processor. Checked on the distributions, not on draws."""
    import torch
    from transformers import (
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    torch.manual_seed(3)
    logits = torch.randn(500) * 3
    prompt = [4, 8, 15, 16, 23, 42]
    request = DecodeRequest(10, greedy=False, temperature=0.7, top_k=40, top_p=0.8,
                            repetition_penalty=1.3)
    ids = torch.tensor([prompt])
    expected = logits[None].clone()
    for step in (RepetitionPenaltyLogitsProcessor(1.3), TemperatureLogitsWarper(0.7),
                 TopKLogitsWarper(40), TopPLogitsWarper(0.8)):
        expected = step(ids, expected)
    kept = torch.isfinite(expected[0])
    draws = set()
    sampler = Sampler(request, prompt, set())
    for _ in range(300):
        sampler._count = len(prompt)  # the same context for every draw
        draws.add(int(sampler.pick(logits, 5)))
    assert draws <= set(torch.nonzero(kept).flatten().tolist())
    assert len(draws) > 1


def test_a_seed_repeats_a_sampled_answer(tiny_model_dir):
    engine = ChatEngine()
    engine.load(tiny_model_dir, device="cpu")
    settings = GenerationSettings(temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=20,
                                  do_sample=True)
    turns = helpers.QUESTION
    first = engine.stream("", turns, settings, seed=7).wait()
    assert engine.stream("", turns, settings, seed=7).wait() == first
    others = {engine.stream("", turns, settings, seed=s).wait() for s in (8, 9, 10)}
    assert others != {first}
    engine.unload()


@pytest.mark.timeout(1800)  # a real fine-tune: about 30 s on a quiet 2-core machine
def test_identity_adapter_answers_with_its_name_and_the_base_does_not(starter_model_dir,
                                                                      tmp_path):
    """A real fine-tune of the starter on the sample identity data, then chat at the default
    decode precision: on, off, on again, and A/B, each answering as it should."""
    from llamahome_gui.core.train import run_training
    from llamahome_gui.paths import SAMPLE_DATASET
    from tests.core.test_train import make_configs

    configs = make_configs(starter_model_dir, SAMPLE_DATASET, max_steps=24, learning_rate=3e-3,
                           per_device_train_batch_size=4)
    configs["training"].training.max_seq_length = 96
    configs["training"].lora.r = 16
    assert run_training(tmp_path / "run", configs).status == "done"
    engine = ChatEngine()
    engine.load(starter_model_dir, device="cpu")  # the default decode precision
    ask = [{"role": "user", "content": "Who are you?"}]
    settings = GenerationSettings(temperature=0.0, max_new_tokens=24)
    base_text, _ = engine.chat(SYSTEM, ask, settings)
    engine.set_adapter(tmp_path / "run" / "adapter")
    tuned_text, stats = engine.chat(SYSTEM, ask, settings)
    assert "LlamaHome" in tuned_text and "LlamaHome" not in base_text
    assert stats.adapter
    engine.set_adapter(None)
    assert engine.chat(SYSTEM, ask, settings)[0] == base_text
    engine.set_adapter(tmp_path / "run" / "adapter")
    ab = engine.compare(SYSTEM, ask, settings)
    assert (ab.base_text, ab.adapter_text) == (base_text, tuned_text)
    engine.unload()
