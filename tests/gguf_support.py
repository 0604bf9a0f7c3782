"""Tiny GGUF files written by the tests themselves with the ``gguf`` package's GGUFWriter:
a llama (Q8_0 weights) and a qwen2 (F16, with attention biases), each with a byte-level BPE
tokenizer and a chat template, small enough to convert in a second or two."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
                 "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
                 "{% endif %}")
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["Ġ t", "h e", "Ġt he", "i n", "a n", "e r", "o n", "Ġ a"]


def byte_tokens() -> list[str]:
    """The 256 byte symbols of byte-level BPE (printable bytes stand for themselves)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + \
        list(range(0xAE, 0x100))
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def vocabulary() -> tuple[list[str], list[int]]:
    tokens = SPECIAL + byte_tokens() + ["".join(m.split()) for m in MERGES]
    types = [3] * len(SPECIAL) + [1] * (len(tokens) - len(SPECIAL))  # 3 = control, 1 = normal
    return tokens, types


def write_tiny_gguf(path: Path, arch: str = "llama", *, hidden: int = 64, layers: int = 2,
                    seed: int = 0, name: str | None = None, context: int = 512) -> Path:
    """A complete, loadable GGUF of ``arch`` (``llama``, ``qwen2`` or any name: an unknown one
    makes an unsupported file) with random weights."""
    import gguf

    rng = np.random.default_rng(seed)
    tokens, types = vocabulary()
    vocab, heads, kv_heads, ffn = len(tokens), 4, 2, hidden * 2
    head_dim = hidden // heads
    quant = gguf.GGMLQuantizationType.Q8_0 if arch == "llama" else gguf.GGMLQuantizationType.F16
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(name or f"tiny-{arch}")
    writer.add_context_length(context)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(head_dim)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if arch == "llama"
                         else gguf.LlamaFileType.MOSTLY_F16)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(0)
    writer.add_chat_template(CHAT_TEMPLATE)

    def weight(shape: tuple[int, ...], *, norm: bool = False) -> None:
        return (np.ones(shape) if norm else rng.normal(0, 0.02, shape)).astype(np.float32)

    def add(tensor_name: str, data: np.ndarray) -> None:
        if data.ndim == 2:
            if quant == gguf.GGMLQuantizationType.Q8_0:
                writer.add_tensor(tensor_name, gguf.quants.quantize(data, quant),
                                  raw_dtype=quant)
                return
            data = data.astype(np.float16)
        writer.add_tensor(tensor_name, data)

    add("token_embd.weight", weight((vocab, hidden)))
    for i in range(layers):
        p = f"blk.{i}."
        add(p + "attn_norm.weight", weight((hidden,), norm=True))
        add(p + "attn_q.weight", weight((hidden, hidden)))
        add(p + "attn_k.weight", weight((kv_heads * head_dim, hidden)))
        add(p + "attn_v.weight", weight((kv_heads * head_dim, hidden)))
        if arch == "qwen2":
            add(p + "attn_q.bias", weight((hidden,)))
            add(p + "attn_k.bias", weight((kv_heads * head_dim,)))
            add(p + "attn_v.bias", weight((kv_heads * head_dim,)))
        add(p + "attn_output.weight", weight((hidden, hidden)))
        add(p + "ffn_norm.weight", weight((hidden,), norm=True))
        add(p + "ffn_gate.weight", weight((ffn, hidden)))
        add(p + "ffn_up.weight", weight((ffn, hidden)))
        add(p + "ffn_down.weight", weight((hidden, ffn)))
    add("output_norm.weight", weight((hidden,), norm=True))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
