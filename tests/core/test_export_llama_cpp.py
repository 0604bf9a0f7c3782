"""The real consumer: llama.cpp (through llama-cpp-python) loads our GGUF files and computes
what transformers computes. Skips where llama-cpp-python is not installed.

llama-cpp-python's plain-string prompts do not parse special tokens, so the prompt is the chat
template stored in the GGUF, rendered and tokenized with ``special=True``."""

from __future__ import annotations

import pytest

from llamahome_gui.core.export.gguf_writer import write_gguf
from tests.export_support import chat_ids, tiny_other_arch

llama_cpp = pytest.importorskip("llama_cpp")


def _plain_cpu_buffers(params_factory):
    def make():
        params = params_factory()
        params.use_extra_bufts = False
        return params
    return make


@pytest.fixture
def load_llama(monkeypatch):
    """Open GGUF files in llama.cpp, each closed after the test.

    The installed llama-cpp-python (0.3.36) crashes in decode on any q8_0 file, llama.cpp's own
    converter's included, while it repacks weights into its CPU-specific layouts; loading
    without those extra buffer types runs the same files correctly."""
    monkeypatch.setattr(llama_cpp.llama_cpp, "llama_model_default_params",
                        _plain_cpu_buffers(llama_cpp.llama_cpp.llama_model_default_params))
    opened = []

    def load(path, **kw):
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, n_threads=2, verbose=False,
                              seed=0, **kw)
        opened.append(llm)
        return llm

    yield load
    for llm in opened:
        llm.close()


def _prompt_ids(llm, system: str, question: str) -> list[int]:
    import jinja2

    template = llm.metadata["tokenizer.chat_template"]
    text = jinja2.Environment().from_string(template).render(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
        add_generation_prompt=True)
    return llm.tokenize(text.encode(), add_bos=False, special=True)


def _greedy(llm, ids: list[int], limit: int = 32) -> str:
    out = []
    for token in llm.generate(ids, temp=0.0, top_k=1):
        if llm.token_is_eog(token) if hasattr(llm, "token_is_eog") else token == llm.token_eos():
            break
        out.append(token)
        if len(out) >= limit:
            break
    return llm.detokenize(out).decode("utf-8", errors="replace")


@pytest.mark.parametrize("arch", ["llama", "qwen2", "mistral"])
def test_llama_cpp_logits_match_transformers_on_tiny_models(tiny_model_dir, tmp_path,
                                                            load_llama, arch):
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tiny_model_dir if arch == "llama" else tiny_other_arch(tiny_model_dir, tmp_path,
                                                                    arch)
    out = write_gguf(folder, tmp_path / "tiny.gguf", "f32")
    ids = chat_ids(AutoTokenizer.from_pretrained(tiny_model_dir), "Who are you?")
    llm = load_llama(out, logits_all=True)
    assert _prompt_ids(llm, "You are Nova, a test assistant.", "Who are you?") == ids
    llm.eval(ids)
    got = np.asarray(llm.scores[:len(ids)])
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    with torch.no_grad():
        want = model(input_ids=torch.tensor([ids])).logits[0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_llama_cpp_answers_paris_from_the_exported_starter(starter_model_dir, tmp_path, quant,
                                                         load_llama):
    out = write_gguf(starter_model_dir, tmp_path / f"base.{quant}.gguf", quant)
    llm = load_llama(out)
    answer = _greedy(llm, _prompt_ids(llm, "You are a helpful assistant.",
                                      "What is the capital of France?"))
    assert "Paris" in answer, answer
