"""The GGUF writer: files that a real reader (gguf.GGUFReader) and a real consumer
(transformers' GGUF loader) read back as the same model."""

from __future__ import annotations

import json

import pytest

from llamahome_gui.core.export.errors import ExportCancelled, UnsupportedModelError
from llamahome_gui.core.export.gguf_writer import expected_size, write_gguf
from tests.export_support import tiny_other_arch

IDS = [[1, 50, 200, 3000, 7, 999, 12, 4000, 321, 5]]


def _field(reader, key):
    return reader.fields[key].contents()


@pytest.mark.parametrize("quant", ["f32", "f16", "q8_0"])
def test_tiny_llama_reads_back_with_metadata_tokenizer_and_logits(tiny_model_dir, tmp_path, quant):
    import gguf
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    done = []
    out = write_gguf(tiny_model_dir, tmp_path / f"tiny.{quant}.gguf", quant,
                     progress=lambda d, t, name: done.append((d, t)))
    config = json.loads((tiny_model_dir / "config.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    reader = gguf.GGUFReader(out)
    assert _field(reader, "general.architecture") == "llama"
    assert _field(reader, "llama.block_count") == 2
    assert _field(reader, "llama.attention.head_count") == 4
    assert _field(reader, "llama.attention.head_count_kv") == 2
    assert _field(reader, "llama.embedding_length") == 64
    assert _field(reader, "llama.context_length") == 1024
    assert _field(reader, "tokenizer.ggml.model") == "gpt2"
    assert len(_field(reader, "tokenizer.ggml.tokens")) == config["vocab_size"]
    assert _field(reader, "tokenizer.ggml.eos_token_id") == tokenizer.eos_token_id
    assert _field(reader, "tokenizer.ggml.bos_token_id") == tokenizer.bos_token_id
    assert _field(reader, "tokenizer.ggml.add_bos_token") is False
    assert _field(reader, "tokenizer.chat_template") == tokenizer.chat_template
    names = {t.name: t for t in reader.tensors}
    per_layer = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm",
                 "ffn_gate", "ffn_up", "ffn_down"}
    assert set(names) == {"token_embd.weight", "output_norm.weight"} | {
        f"blk.{i}.{p}.weight" for i in range(2) for p in per_layer}  # tied: no output.weight
    assert list(names["blk.0.attn_k.weight"].shape) == [64, 32]  # GGUF lists dims innermost first
    assert names["blk.0.attn_norm.weight"].tensor_type.name == "F32"
    assert names["blk.0.ffn_up.weight"].tensor_type.name == quant.upper()
    assert done[-1] == (len(names), len(names)) and len(done) == len(names)
    assert out.stat().st_size >= expected_size(tiny_model_dir, quant)

    original = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    loaded = AutoModelForCausalLM.from_pretrained(out.parent, gguf_file=out.name,
                                                  dtype=torch.float32)
    ids = torch.tensor(IDS)
    with torch.no_grad():
        want, got = original(input_ids=ids).logits, loaded(input_ids=ids).logits
    if quant == "f32":
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    elif quant == "f16":
        torch.testing.assert_close(got, want, atol=2e-2, rtol=0)
    else:
        agreement = (got.argmax(-1) == want.argmax(-1)).float().mean().item()
        assert agreement >= 0.9, agreement
    gguf_tok = AutoTokenizer.from_pretrained(out.parent, gguf_file=out.name)
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hi there, 42 apples!"}],
                                         tokenize=False, add_generation_prompt=True)
    assert gguf_tok(text, add_special_tokens=False)["input_ids"] == \
        tokenizer(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("arch,gguf_arch", [("qwen2", "qwen2"), ("mistral", "llama")])
def test_qwen2_and_mistral_read_back_with_the_same_logits(tiny_model_dir, tmp_path, arch,
                                                         gguf_arch):
    import gguf
    import torch
    from transformers import AutoModelForCausalLM

    folder = tiny_other_arch(tiny_model_dir, tmp_path, arch)
    out = write_gguf(folder, tmp_path / f"{arch}.gguf", "f32")
    reader = gguf.GGUFReader(out)
    assert _field(reader, "general.architecture") == gguf_arch
    names = {t.name for t in reader.tensors}
    assert "output.weight" in names  # not tied
    assert ("blk.0.attn_q.bias" in names) == (arch == "qwen2")
    original = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=out.name,
                                                  dtype=torch.float32)
    ids = torch.tensor(IDS)
    with torch.no_grad():
        torch.testing.assert_close(loaded(input_ids=ids).logits, original(input_ids=ids).logits,
                                   atol=1e-4, rtol=1e-4)


def test_q4_0_is_smaller_and_keeps_the_embedding_at_8_bits(tiny_model_dir, tmp_path):
    import gguf

    sizes = {q: expected_size(tiny_model_dir, q) for q in ("f32", "f16", "q8_0", "q4_0")}
    assert sizes["f32"] > sizes["f16"] > sizes["q8_0"] > sizes["q4_0"]
    out = write_gguf(tiny_model_dir, tmp_path / "t.gguf", "q4_0")
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(out).tensors}
    assert types["blk.1.attn_q.weight"] == "Q4_0" and types["token_embd.weight"] == "Q8_0"


def test_other_architectures_are_refused_by_name(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=100)).save_pretrained(
        folder)
    with pytest.raises(UnsupportedModelError, match="'gpt2' is not supported"):
        write_gguf(folder, tmp_path / "x.gguf", "f16")
    assert list(tmp_path.iterdir()) == [folder]


def test_cancel_leaves_no_file(tiny_model_dir, tmp_path):
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(ExportCancelled):
        write_gguf(tiny_model_dir, tmp_path / "c.gguf", "f16", cancel=cancel)
    assert list(tmp_path.iterdir()) == []
