"""The tokenizer part of a GGUF file: token list, merges or scores, token types, special ids,
``add_bos`` and the chat template, read from a Hugging Face fast tokenizer.

llama.cpp picks its pre-tokenizer (how text is split before BPE) by a name stored in the file,
so that name must describe exactly what the Hugging Face tokenizer does; a tokenizer whose
splitting has no llama.cpp equivalent is refused rather than written with a silent mismatch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llamahome_gui.core.export.errors import UnsupportedModelError

# The pre-tokenization regexes of common byte-level BPE tokenizers, and the name llama.cpp
# knows each one by.
_LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_SPLIT_NAMES = {_LLAMA3_SPLIT: "llama-bpe", _QWEN2_SPLIT: "qwen2"}

# llama.cpp token types (the GGUF "tokenizer.ggml.token_type" values).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
_BYTE_TOKEN = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")


@dataclass
class GGUFVocab:
    """Everything the writer stores under ``tokenizer.*``."""

    model: str                      # "gpt2" (byte-level BPE) or "llama" (SentencePiece-style)
    pre: str | None                 # llama.cpp pre-tokenizer name (BPE only)
    tokens: list[str]
    token_types: list[int]
    merges: list[str] = field(default_factory=list)
    scores: list[float] | None = None
    special_ids: dict[str, int] = field(default_factory=dict)  # bos, eos, unk, pad
    add_bos: bool = False
    add_eos: bool = False
    add_space_prefix: bool | None = None
    chat_template: str | None = None


def _pieces(pre: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not pre:
        return []
    if pre.get("type") == "Sequence":
        return [p for item in pre.get("pretokenizers", []) for p in _pieces(item)]
    return [pre]


def _describe(pieces: list[dict[str, Any]]) -> str:
    return " + ".join(p.get("type", "?") for p in pieces) or "none"


def pre_tokenizer_name(backend: dict[str, Any], clean_spaces: bool) -> str:
    """The llama.cpp pre-tokenizer that splits text exactly as ``backend`` (tokenizer.json)."""
    pieces = _pieces(backend.get("pre_tokenizer"))
    kinds = [p.get("type") for p in pieces]
    if kinds == ["ByteLevel"] and pieces[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and pieces[0].get("individual_digits") \
            and pieces[1].get("use_regex", True):
        # Same split for both; they differ in whether decoding removes spaces before punctuation.
        return "starcoder" if clean_spaces else "smollm"
    if kinds == ["Split", "ByteLevel"] and not pieces[1].get("use_regex", True):
        regex = (pieces[0].get("pattern") or {}).get("Regex")
        if regex in _SPLIT_NAMES:
            return _SPLIT_NAMES[regex]
    raise UnsupportedModelError(
        f"its tokenizer splits text with {_describe(pieces)} in a way llama.cpp has no name for, "
        "so a GGUF file would tokenize differently; export --format safetensors instead")


def _special_ids(tokenizer: Any) -> dict[str, int]:
    ids = {}
    for key in ("bos", "eos", "unk", "pad"):
        value = getattr(tokenizer, f"{key}_token_id", None)
        if isinstance(value, int):
            ids[key] = value
    return ids


def adds_special_tokens(tokenizer: Any) -> tuple[bool, bool]:
    """Whether encoding plain text adds BOS / EOS (measured, not guessed from flags)."""
    ids = list(tokenizer("hello", add_special_tokens=True)["input_ids"])
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    return (bool(ids) and bos is not None and ids[0] == bos,
            bool(ids) and eos is not None and ids[-1] == eos and len(ids) > 1)


def _chat_template(tokenizer: Any) -> str | None:
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # named templates: llama.cpp reads the default one
        template = template.get("default") or next(iter(template.values()), None)
    return template or None


def read_vocab(model_dir: Path, n_vocab: int, *, trust_remote_code: bool = False) -> GGUFVocab:
    """The GGUF tokenizer fields for the model in ``model_dir``, padded to ``n_vocab`` tokens
    (the embedding's row count; llama.cpp needs both to agree)."""
    from llamahome_gui.core.models.loading import load_tokenizer

    tokenizer = load_tokenizer(model_dir, trust_remote_code=trust_remote_code)
    backend_tok = getattr(tokenizer, "backend_tokenizer", None)
    if backend_tok is None:
        raise UnsupportedModelError("it has no fast tokenizer (tokenizer.json), which the GGUF "
                                    "export reads the vocabulary from")
    backend = json.loads(backend_tok.to_str())
    bpe = backend.get("model", {})
    if bpe.get("type") != "BPE":
        raise UnsupportedModelError(f"its tokenizer is a {bpe.get('type')} model; the GGUF export "
                                    "handles BPE tokenizers (byte-level or SentencePiece-style)")
    added = {t["id"]: t for t in backend.get("added_tokens", [])}
    vocab: dict[str, int] = dict(bpe["vocab"])
    for tid, tok in added.items():
        vocab.setdefault(tok["content"], tid)
    by_id = {tid: text for text, tid in vocab.items()}
    size = max(n_vocab, max(by_id) + 1)
    if size > n_vocab:
        raise UnsupportedModelError(f"its tokenizer has {size} tokens but the model only "
                                    f"{n_vocab} embedding rows")
    tokens, types = [], []
    byte_fallback = bool(bpe.get("byte_fallback"))
    for i in range(size):
        text = by_id.get(i)
        if text is None:
            tokens.append(f"[PAD{i}]")
            types.append(UNUSED)
        elif i in added:
            tokens.append(text)
            types.append(CONTROL if added[i].get("special") else USER_DEFINED)
        elif byte_fallback and _BYTE_TOKEN.match(text):
            tokens.append(text)
            types.append(BYTE)
        else:
            tokens.append(text)
            types.append(NORMAL)
    add_bos, add_eos = adds_special_tokens(tokenizer)
    common = {"special_ids": _special_ids(tokenizer), "add_bos": add_bos, "add_eos": add_eos,
              "chat_template": _chat_template(tokenizer)}
    pieces = _pieces(backend.get("pre_tokenizer"))
    if byte_fallback and (any(p.get("type") == "Metaspace" for p in pieces)
                          or _has_metaspace_normalizer(backend)):
        unk = common["special_ids"].get("unk")
        if unk is not None and unk < size:
            types[unk] = UNKNOWN
        # SentencePiece merges higher scores first; in its vocabularies a piece's rank follows
        # its id, so the score is the negative id.
        scores = [0.0 if t != NORMAL else -float(i) for i, t in enumerate(types)]
        return GGUFVocab("llama", None, tokens, types, scores=scores,
                         add_space_prefix=_prefix_space(backend, pieces), **common)
    if not any(p.get("type") == "ByteLevel" for p in pieces):
        raise UnsupportedModelError(f"its BPE tokenizer uses {_describe(pieces)} splitting, not "
                                    "byte-level or SentencePiece-style, which llama.cpp reads")
    clean = bool(getattr(tokenizer, "clean_up_tokenization_spaces", False))
    merges = [m if isinstance(m, str) else " ".join(m) for m in bpe.get("merges", [])]
    return GGUFVocab("gpt2", pre_tokenizer_name(backend, clean), tokens, types, merges=merges,
                     **common)


def _has_metaspace_normalizer(backend: dict[str, Any]) -> bool:
    text = json.dumps(backend.get("normalizer") or {})
    return "\u2581" in text or "\\u2581" in text


def _prefix_space(backend: dict[str, Any], pieces: list[dict[str, Any]]) -> bool:
    for p in pieces:
        if p.get("type") == "Metaspace":
            return p.get("prepend_scheme", "always") != "never" and p.get("add_prefix_space", True)
    return "Prepend" in json.dumps(backend.get("normalizer") or {})


def add_vocab(writer: Any, vocab: GGUFVocab) -> None:
    """Store ``vocab`` through a ``gguf.GGUFWriter``."""
    writer.add_tokenizer_model(vocab.model)
    if vocab.pre:
        writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    if vocab.scores is not None:
        writer.add_token_scores(vocab.scores)
    if vocab.merges:
        writer.add_token_merges(vocab.merges)
    setters = {"bos": writer.add_bos_token_id, "eos": writer.add_eos_token_id,
               "unk": writer.add_unk_token_id, "pad": writer.add_pad_token_id}
    for key, value in vocab.special_ids.items():
        setters[key](value)
    writer.add_add_bos_token(vocab.add_bos)
    writer.add_add_eos_token(vocab.add_eos)
    if vocab.add_space_prefix is not None:
        writer.add_add_space_prefix(vocab.add_space_prefix)
    if vocab.chat_template:
        writer.add_chat_template(vocab.chat_template)
