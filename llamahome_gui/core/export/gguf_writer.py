"""Write a Hugging Face model folder as one GGUF file for llama.cpp, Ollama and LM Studio, in
pure Python with the ``gguf`` package's ``GGUFWriter`` (no llama.cpp binary).

Tensors are read one at a time from the safetensors files and written as they come, so memory
stays at one tensor and every tensor is a progress report and a place to cancel. The file is
written under a temporary name next to the destination and renamed at the end: an error, a
full disk or Cancel leaves nothing behind.

Facts about the layout llama.cpp expects: Hugging Face stores llama-family Q/K projections
with rotary halves split ("rotate_half"); llama.cpp's llama architecture rotates interleaved
pairs, so those rows are permuted per head (Qwen2 uses llama.cpp's half-split rotation: no
permutation). Tied embeddings store no ``output.weight``. Norms and biases stay f32.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamahome_gui.core.export.errors import ExportCancelled, UnsupportedModelError

QUANTS = ("f32", "f16", "bf16", "q8_0", "q4_0")
# model_type -> (GGUF architecture, whether Q/K rows need the interleave permutation)
ARCHITECTURES = {"llama": ("llama", True), "mistral": ("llama", True), "qwen2": ("qwen2", False)}
_BLOCK = 32  # q8_0 / q4_0 block length: rows must be a multiple of it

Progress = Callable[[int, int, str], None]  # (tensors done, total, tensor name)


@dataclass(frozen=True)
class TensorPlan:
    gguf_name: str
    source: str           # Hugging Face name ("" for a computed tensor)
    shape: tuple[int, ...]
    qtype: Any            # gguf.GGMLQuantizationType
    nbytes: int
    permute_heads: int = 0


def read_config(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnsupportedModelError(f"{model_dir} has no config.json") from None


def gguf_architecture(config: dict[str, Any]) -> tuple[str, bool]:
    """(GGUF architecture name, needs Q/K permutation); refuses other model types by name."""
    model_type = str(config.get("model_type", "?"))
    if model_type not in ARCHITECTURES:
        raise UnsupportedModelError(
            f"its architecture {model_type!r} is not supported by the GGUF export "
            f"(supported: {', '.join(ARCHITECTURES)}); export --format safetensors instead")
    return ARCHITECTURES[model_type]


def check_exportable(model_dir: Path) -> None:
    """Raise UnsupportedModelError (cheaply, before any work) when the model cannot be written."""
    config = read_config(model_dir)
    gguf_architecture(config)
    _rope(config)


def _weight_files(model_dir: Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file holding it."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        mapping = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        return {name: model_dir / file for name, file in mapping.items()}
    single = model_dir / "model.safetensors"
    if not single.is_file():
        raise UnsupportedModelError(f"{model_dir} has no model.safetensors (pickled weights are "
                                    "never loaded); save the model with safe_serialization")
    from safetensors import safe_open

    with safe_open(single, framework="pt") as fh:
        return {name: single for name in fh.keys()}


def _shapes(files: dict[str, Path]) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    shapes: dict[str, tuple[int, ...]] = {}
    for path in sorted(set(files.values())):
        with safe_open(path, framework="pt") as fh:
            for name in fh.keys():
                shapes[name] = tuple(fh.get_slice(name).get_shape())
    return shapes


def _rope(config: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """(rope base, scaling parameters); transformers 5 keeps both in ``rope_parameters``."""
    params = dict(config.get("rope_parameters") or config.get("rope_scaling") or {})
    theta = float(params.get("rope_theta", config.get("rope_theta", 10000.0)))
    kind = params.get("rope_type", params.get("type", "default")) or "default"
    if kind not in ("default", "linear", "yarn", "llama3"):
        raise UnsupportedModelError(f"its rope scaling {kind!r} has no GGUF equivalent here")
    params["rope_type"] = kind
    return theta, params


def _qtype_for(name: str, shape: tuple[int, ...], quant: str) -> Any:
    import gguf

    Q = gguf.GGMLQuantizationType  # noqa: N806 - the gguf enum
    wanted = {"f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16, "q8_0": Q.Q8_0, "q4_0": Q.Q4_0}[quant]
    if len(shape) < 2 or wanted == Q.F32:
        return Q.F32
    if wanted in (Q.Q8_0, Q.Q4_0):
        if shape[-1] % _BLOCK:
            return Q.F16
        if wanted == Q.Q4_0 and name in ("token_embd.weight", "output.weight"):
            return Q.Q8_0  # the embedding doubles as the output layer: 4 bits there costs most
    return wanted


def _nbytes(shape: tuple[int, ...], qtype: Any) -> int:
    import gguf

    block, size = gguf.GGML_QUANT_SIZES[qtype]
    return math.prod(shape[:-1]) * (shape[-1] // block) * size


@dataclass(frozen=True)
class TensorNames:
    """Hugging Face -> GGUF tensor names for one model, and which rows need the permutation."""

    arch: str
    names: Any            # gguf.TensorNameMap
    n_head: int
    n_kv: int
    permute: bool

    def permute_heads(self, target: str) -> int:
        """Heads whose rows the GGUF layout interleaves in ``target`` (0 = none)."""
        if self.permute and ".attn_q." in target:
            return self.n_head
        if self.permute and ".attn_k." in target:
            return self.n_kv
        return 0


def tensor_names(config: dict[str, Any]) -> TensorNames:
    """The name map for a model's config.json (the base writer and the LoRA writer share it)."""
    import gguf

    arch, permute = gguf_architecture(config)
    n_head = int(config["num_attention_heads"])
    arch_enum = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    return TensorNames(arch, gguf.get_tensor_name_map(arch_enum, int(config["num_hidden_layers"])),
                       n_head, int(config.get("num_key_value_heads") or n_head), permute)


def plan(model_dir: Path, quant: str = "f16") -> list[TensorPlan]:
    """What would be written, tensor by tensor (reads headers only: cheap)."""
    import gguf

    if quant not in QUANTS:
        raise UnsupportedModelError(f"quantization {quant!r} is not one of {', '.join(QUANTS)}")
    model_dir = Path(model_dir)
    config = read_config(model_dir)
    mapping = tensor_names(config)
    arch, names, n_head = mapping.arch, mapping.names, mapping.n_head
    _, rope = _rope(config)
    tied = bool(config.get("tie_word_embeddings", False))
    out: list[TensorPlan] = []
    for hf_name, shape in _shapes(_weight_files(model_dir)).items():
        if hf_name.endswith("rotary_emb.inv_freq") or (tied and hf_name == "lm_head.weight"):
            continue
        target = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise UnsupportedModelError(f"its tensor {hf_name} has no GGUF name for {arch}")
        qtype = _qtype_for(target, shape, quant)
        out.append(TensorPlan(target, hf_name, shape, qtype, _nbytes(shape, qtype),
                              mapping.permute_heads(target)))
    if rope["rope_type"] == "llama3":
        head_dim = int(config.get("head_dim") or config["hidden_size"] // n_head)
        out.append(TensorPlan(gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS], "",
                              (head_dim // 2,), gguf.GGMLQuantizationType.F32, head_dim // 2 * 4))
    return out


def expected_size(model_dir: Path, quant: str) -> int:
    """Bytes of tensor data a GGUF export at ``quant`` holds (the file adds the vocabulary)."""
    return sum(t.nbytes for t in plan(model_dir, quant))


def _llama3_factors(config: dict[str, Any], rope: dict[str, Any], theta: float) -> Any:
    """Per-frequency divisors of Llama 3.1-style rope scaling (llama.cpp's rope_freqs)."""
    import numpy as np

    n_head = int(config["num_attention_heads"])
    head_dim = int(config.get("head_dim") or config["hidden_size"] // n_head)
    factor = float(rope.get("factor", 8.0))
    low, high = float(rope.get("low_freq_factor", 1.0)), float(rope.get("high_freq_factor", 4.0))
    old_ctx = float(rope.get("original_max_position_embeddings", 8192))
    freqs = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    wavelen = 2 * math.pi / freqs
    smooth = (old_ctx / wavelen - low) / (high - low)
    factors = np.where(wavelen < old_ctx / high, 1.0,
                       np.where(wavelen > old_ctx / low, factor,
                                1.0 / ((1 - smooth) / factor + smooth)))
    return factors.astype(np.float32)


def _add_metadata(writer: Any, config: dict[str, Any], arch: str, name: str, quant: str) -> None:
    import gguf

    n_head = int(config["num_attention_heads"])
    hidden = int(config["hidden_size"])
    head_dim = int(config.get("head_dim") or hidden // n_head)
    theta, rope = _rope(config)
    writer.add_type("model")
    writer.add_name(name)
    writer.add_context_length(int(config.get("max_position_embeddings", 2048)))
    writer.add_embedding_length(hidden)
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(n_head)
    writer.add_head_count_kv(int(config.get("num_key_value_heads") or n_head))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_rope_freq_base(theta)
    writer.add_vocab_size(int(config["vocab_size"]))
    writer.add_rope_dimension_count(head_dim)
    if head_dim != hidden // n_head:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    if rope["rope_type"] in ("linear", "yarn"):
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR if rope["rope_type"] == "linear"
                                     else gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(float(rope.get("factor", 1.0)))
        if rope.get("original_max_position_embeddings"):
            writer.add_rope_scaling_orig_ctx_len(int(rope["original_max_position_embeddings"]))
    file_types = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                  "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
                  "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}
    writer.add_file_type(int(file_types[quant]))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _permute(w: Any, n_head: int) -> Any:
    """Rotary halves -> interleaved pairs, per head (rows of a Q/K weight or bias)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def _tensor_data(item: TensorPlan, handles: dict[Path, Any], files: dict[str, Path],
                 extra: dict[str, Any]) -> Any:
    import numpy as np
    from gguf import GGMLQuantizationType as Q
    from gguf import quants

    if not item.source:
        data = extra[item.gguf_name]
    else:
        data = handles[files[item.source]].get_tensor(item.source).float().numpy()
    if item.permute_heads:
        data = _permute(data, item.permute_heads)
    data = np.ascontiguousarray(data, dtype=np.float32)
    if item.qtype == Q.F32:
        return data
    return quants.quantize(data, item.qtype)


def write_gguf(model_dir: Path, out: Path, quant: str = "f16", *, name: str | None = None,
               progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
               trust_remote_code: bool = False) -> Path:
    """Write the model in ``model_dir`` (safetensors + tokenizer) to the GGUF file ``out``.

    ``progress(done, total, tensor)`` is called after every tensor; ``cancel()`` returning True
    stops at the next tensor (ExportCancelled). Nothing is left at ``out`` unless it succeeds.
    """
    import gguf
    import numpy as np
    from safetensors import safe_open

    from llamahome_gui.core.export.gguf_vocab import add_vocab, read_vocab

    model_dir, out = Path(model_dir), Path(out)
    config = read_config(model_dir)
    arch, _ = gguf_architecture(config)
    items = plan(model_dir, quant)
    vocab = read_vocab(model_dir, int(config["vocab_size"]), trust_remote_code=trust_remote_code)
    files = _weight_files(model_dir)
    extra: dict[str, Any] = {}
    theta, rope = _rope(config)
    if rope["rope_type"] == "llama3":
        extra[gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS]] = _llama3_factors(config, rope, theta)

    writer = gguf.GGUFWriter(None, arch)
    _add_metadata(writer, config, arch, name or model_dir.name, quant)
    add_vocab(writer, vocab)
    for item in items:
        if item.qtype in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            dtype = np.float32 if item.qtype == gguf.GGMLQuantizationType.F32 else np.float16
            writer.add_tensor_info(item.gguf_name, item.shape, np.dtype(dtype), item.nbytes)
        else:
            byte_shape = gguf.quants.quant_shape_to_byte_shape(item.shape, item.qtype)
            writer.add_tensor_info(item.gguf_name, byte_shape, np.dtype(np.uint8), item.nbytes,
                                   raw_dtype=item.qtype)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    handles: dict[Path, Any] = {}
    try:
        writer.write_header_to_file(path=tmp)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for path in sorted(set(files.values())):
            handles[path] = safe_open(path, framework="pt").__enter__()
        for done, item in enumerate(items, start=1):
            if cancel is not None and cancel():
                raise ExportCancelled("export cancelled")
            writer.write_tensor_data(_tensor_data(item, handles, files, extra))
            if progress is not None:
                progress(done, len(items), item.gguf_name)
        for fh in writer.fout or []:
            fh.flush()
            os.fsync(fh.fileno())
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        for handle in handles.values():
            handle.__exit__(None, None, None)
    return out
