"""What a GGUF file holds, read from its header alone: metadata (scalars only), tensor shapes
and types. Arrays (the tokenizer's 50k tokens) are skipped, not decoded, so a listing of many
GGUF files stays fast; a file shorter than its tensor table says is reported as truncated."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

GGUF_MAGIC = b"GGUF"
# GGUF value types -> struct format (strings = 8, arrays = 9 are handled apart)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# general.architecture values transformers names differently
_ARCH_ALIASES = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss",
                 "minimax-m2": "minimax_m2"}
# architectures transformers reads from GGUF but that are not causal chat/LM models
_NOT_CAUSAL = {"t5", "t5encoder", "umt5", "bert", "nomic-bert"}


class GGUFError(ValueError):
    """Not a readable GGUF file; the message says what is wrong."""


@dataclass
class GGUFTensor:
    name: str
    shape: tuple[int, ...]
    type_name: str
    offset: int
    n_bytes: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass
class GGUFHeader:
    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: list[GGUFTensor] = field(repr=False)
    data_offset: int
    has_chat_template: bool
    vocab_size: int

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def hf_architecture(self) -> str:
        """The name transformers uses for this architecture."""
        arch = _ARCH_ALIASES.get(self.architecture, self.architecture)
        name = str(self.metadata.get("general.name", "")).lower()
        return "mistral" if arch == "llama" and "mistral" in name else arch

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.stem)

    @property
    def parameters(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def context_length(self) -> int:
        return int(self.metadata.get(f"{self.architecture}.context_length", 0) or 0)

    @property
    def quantization(self) -> str:
        """``Q4_1``, ``Q8_0``, ``F16``...: the file type, else the most common tensor type."""
        file_type = self.metadata.get("general.file_type")
        if file_type is not None:
            import gguf

            try:
                return gguf.LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_")
            except ValueError:
                pass
        counts: dict[str, int] = {}
        for t in self.tensors:
            counts[t.type_name] = counts.get(t.type_name, 0) + t.numel
        return max(counts, key=counts.get) if counts else "unknown"  # type: ignore[arg-type]


def _read(fh: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    raw = fh.read(size)
    if len(raw) != size:
        raise EOFError
    return struct.unpack(fmt, raw)[0]


def _read_string(fh: BinaryIO) -> str:
    length = _read(fh, "<Q")
    if length > 1 << 28:
        raise GGUFError("string length out of range")
    raw = fh.read(length)
    if len(raw) != length:
        raise EOFError
    return raw.decode("utf-8", errors="replace")


def _read_value(fh: BinaryIO, vtype: int, key: str) -> Any:
    if vtype in _SCALARS:
        return _read(fh, _SCALARS[vtype])
    if vtype == _STRING:
        return _read_string(fh)
    if vtype == _ARRAY:
        etype, count = _read(fh, "<I"), _read(fh, "<Q")
        if etype in _SCALARS:  # skip fixed-size arrays in one seek
            fh.seek(struct.calcsize(_SCALARS[etype]) * count, 1)
        elif etype == _STRING:
            for _ in range(count):
                fh.seek(_read(fh, "<Q"), 1)
        else:
            for _ in range(count):
                _read_value(fh, etype, key)
        return _Skipped(count)
    raise GGUFError(f"unknown value type {vtype} for {key}")


@dataclass
class _Skipped:
    """An array that was not decoded; only its length is kept."""

    count: int


def read_gguf_header(path: str | Path) -> GGUFHeader:
    """Metadata and tensor table of a GGUF file; raises :class:`GGUFError` for anything that is
    not a complete GGUF file (wrong magic, cut-off header, tensors past the end of the file)."""
    import gguf

    path = Path(path).expanduser()
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            if fh.read(4) != GGUF_MAGIC:
                raise GGUFError(f"{path} is not a GGUF file (it does not start with 'GGUF')")
            version = _read(fh, "<I")
            if version not in (2, 3):
                raise GGUFError(f"{path}: GGUF version {version} is not supported (2 or 3)")
            n_tensors, n_kv = _read(fh, "<Q"), _read(fh, "<Q")
            metadata: dict[str, Any] = {}
            for _ in range(n_kv):
                key = _read_string(fh)
                metadata[key] = _read_value(fh, _read(fh, "<I"), key)
            tensors = []
            for _ in range(n_tensors):
                name = _read_string(fh)
                dims = tuple(_read(fh, "<Q") for _ in range(_read(fh, "<I")))
                ttype, offset = _read(fh, "<I"), _read(fh, "<Q")
                try:
                    qtype = gguf.GGMLQuantizationType(ttype)
                    block, type_size = gguf.GGML_QUANT_SIZES[qtype]
                except (ValueError, KeyError):
                    raise GGUFError(f"{path}: tensor {name} has unknown type {ttype}") from None
                numel = 1
                for d in dims:
                    numel *= d
                # GGUF lists dimensions fastest-first; shapes are shown PyTorch-style
                tensors.append(GGUFTensor(name, tuple(reversed(dims)), qtype.name, offset,
                                          numel // block * type_size))
            alignment = int(metadata.get("general.alignment", 32) or 32)
            data_offset = -(-fh.tell() // alignment) * alignment
    except EOFError:
        raise GGUFError(f"{path} is truncated (the header ends early): download or copy it "
                        "again") from None
    except OSError as exc:
        raise GGUFError(f"{path}: cannot read: {exc.strerror or exc}") from None
    end = max((data_offset + t.offset + t.n_bytes for t in tensors), default=data_offset)
    if end > size:
        raise GGUFError(f"{path} is truncated ({size:,} of {end:,} bytes): download or copy it "
                        "again")
    tokens = metadata.get("tokenizer.ggml.tokens")
    vocab = tokens.count if isinstance(tokens, _Skipped) else 0
    clean = {k: v for k, v in metadata.items() if not isinstance(v, _Skipped)}
    return GGUFHeader(path, version, clean, tensors, data_offset,
                      has_chat_template=bool(clean.get("tokenizer.chat_template")),
                      vocab_size=vocab)


def supported_architectures() -> list[str]:
    """GGUF architectures transformers can de-quantize into a causal language model."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return sorted(a for a in GGUF_SUPPORTED_ARCHITECTURES
                  if a not in _NOT_CAUSAL and a not in ("general", "tokenizer"))


def check_importable(header: GGUFHeader) -> None:
    """Raise :class:`GGUFError` when this GGUF cannot be converted for training."""
    arch = header.hf_architecture
    if arch not in supported_architectures():
        raise GGUFError(f"{header.path.name}: architecture {header.architecture!r} cannot be "
                        f"converted; supported: {', '.join(supported_architectures())}")
    if not header.vocab_size:
        raise GGUFError(f"{header.path.name} holds no tokenizer (tokenizer.ggml.tokens); a "
                        "model for training needs one")
