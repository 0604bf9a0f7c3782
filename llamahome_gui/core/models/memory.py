"""How much memory a LoRA run needs, from the model's shapes alone (no weights loaded).

Terms: frozen base weights; LoRA parameters, their gradients and AdamW states (fp32);
activations that autograd keeps for the backward pass; a runtime overhead (the framework's
own memory, the CUDA context). The activation term counts, per token, the tensors one
decoder layer saves (two RMSNorms, q/k/v/attention output, the four MLP tensors, the LoRA
dropout outputs, masks and low-rank intermediates) times the number of layers, plus the
vocabulary logits in fp32 at the trained positions (the trainer computes logits only where
the loss counts: logits, log-softmax and the gradients). The CPU factors below come from the
measured peak RSS of whole ``llamahome train`` runs at the default settings (load, steps,
evaluation, save; bench/bench_memory.py): the sample data (packed rows of 99 tokens, 396
tokens per step, 55% trained) peaked at 2.78 GB, a long-answer dataset (rows of 388 tokens,
1,552 per step, 85% trained) at 5.95 GB; the estimate is within 6% of both. The rows are
the ones the data really give (``row_length``, ``trained_fraction``: core.runs.plan reads
them from the dataset as the trainer packs it), not ``max_seq_length`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from llamahome_gui.core.models.info import ModelInfo, model_info
from llamahome_gui.core.units import GIB, fmt_bytes

Verdict = Literal["fits", "tight", "won't fit"]

# Measured / counted layer activations (forward temporaries, allocator fragmentation).
# CUDA's caching allocator tracks live tensors closely; its factor is a conservative default,
# not yet measured on a GPU.
LAYER_FACTOR = {"cpu": 1.10, "cuda": 1.15}
# Copies of the fp32 logits alive at the peak (fitted on the CPU; on a GPU the bf16 logits
# are upcast, one more copy).
LOGIT_COPIES = {"cpu": 2.9, "cuda": 3.5}
# With gradient checkpointing each layer keeps only its input, and one layer at a time is
# recomputed in the backward pass; on the CPU the allocator keeps far more than one layer's
# worth: about 47% of the layers (fitted: 1x256 and 2x512 tokens on the starter model, both
# within 5%). (share of the layers, least number of layers)
RECOMPUTED_LAYERS = {"cpu": (0.47, 1.0), "cuda": (0.0, 2.0)}
# Process memory that is neither weights nor training state: the Python runtime with torch,
# transformers, peft and TensorBoard on the CPU; the CUDA context and kernels on a GPU.
# On the CPU also the trainer's data (records, rendered rows), the tokenizer and allocator
# arenas: fitted with LAYER_FACTOR on the two runs named in the module docstring.
RUNTIME_OVERHEAD = {"cpu": 900_000_000, "cuda": 700 * 2**20}
FITS_BELOW, TIGHT_BELOW = 0.85, 1.0
_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
# bitsandbytes' storage per quantized weight: nf4 with double quantization keeps an 8-bit
# absmax per 64 weights and an fp32 one per 256 of those; int8 keeps an fp32 scale per output
# row (counted separately). Everything else (embeddings, norms, an untied head) is cast to
# fp32 by prepare_model_for_kbit_training.
QUANT_BYTES = {"4bit": 0.5 + 1 / 64 + 4 / (64 * 256), "8bit": 1.0}


@dataclass
class MemoryEstimate:
    """Bytes a run needs, next to what the device has."""

    weights: int
    lora_params: int
    gradients: int
    optimizer_states: int
    activations: int
    overhead: int
    total: int
    available: int
    device: str
    verdict: Verdict
    lora_param_count: int = 0
    tokens_per_step: int = 0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the model's own limits broken

    @property
    def fits(self) -> bool:
        return self.verdict != "won't fit"

    def rows(self) -> list[tuple[str, int]]:
        return [("Base weights", self.weights),
                (f"LoRA parameters ({self.lora_param_count:,})", self.lora_params),
                ("Gradients", self.gradients),
                ("Optimizer states (AdamW)", self.optimizer_states),
                (f"Activations ({self.tokens_per_step:,} tokens per step)", self.activations),
                ("Runtime overhead", self.overhead)]

    def as_dict(self) -> dict[str, Any]:
        """The estimate as ``llamahome train --estimate --json`` prints it (bytes)."""
        keys = ("weights", "lora_params", "gradients", "optimizer_states", "activations",
                "overhead")
        return {"total_bytes": self.total, "available_bytes": self.available,
                "device": self.device, "verdict": self.verdict,
                "terms_bytes": {k: getattr(self, k) for k in keys},
                "lora_param_count": self.lora_param_count,
                "tokens_per_step": self.tokens_per_step,
                "notes": list(self.notes), "problems": list(self.problems)}

    def table(self) -> str:
        """The estimate as ``llamahome train --estimate`` prints it."""
        rows = self.rows()
        width = max(len(label) for label, _ in rows) + 2
        where = "RAM available" if self.device == "cpu" else f"{self.device} memory allowed"
        lines = [f"{label:<{width}}{fmt_bytes(value):>12}" for label, value in rows]
        lines.append("-" * (width + 12))
        lines.append(f"{'Total needed':<{width}}{fmt_bytes(self.total):>12}")
        lines.append(f"{where:<{width}}{fmt_bytes(self.available):>12}")
        share = 100.0 * self.total / self.available if self.available else float("inf")
        lines.append(f"Verdict: {self.verdict} ({share:.0f}% of what is available)")
        lines += [f"Not allowed: {problem}" for problem in self.problems]
        if self.verdict != "fits":
            lines.append("To need less: a smaller per_device_train_batch_size, a shorter "
                         "max_seq_length, gradient_checkpointing, or a lower LoRA r.")
        lines += self.notes
        return "\n".join(lines)


def _get(section: Any, name: str, default: Any) -> Any:
    if isinstance(section, dict):
        return section.get(name, default)
    return getattr(section, name, default)


def lora_parameter_count(info: ModelInfo, r: int, targets: list[str] | str) -> tuple[int, list[str]]:
    """LoRA parameters for these targets, and the target names the model does not have."""
    wanted = [targets] if isinstance(targets, str) else list(targets)
    every = "all-linear" in wanted
    names = {name for name, _, _ in info.linear_shapes()}
    unknown = [] if every else [t for t in wanted if t not in names]
    count = sum(r * (d_in + d_out) for name, d_in, d_out in info.linear_shapes()
                if every or name in wanted)
    return count, unknown


def layer_floats_per_token(info: ModelInfo, r: int, targets: list[str] | str,
                           dropout: float) -> float:
    """Values one decoder layer keeps per token for the backward pass."""
    h, i = info.hidden_size, info.intermediate_size
    base = 6 * h + 4 * h + h + 4 * i  # two norms (input, normalized, output); q, k, v, attn out; o input; MLP
    wanted = [targets] if isinstance(targets, str) else list(targets)
    every = "all-linear" in wanted
    per_layer = {}
    for name, d_in, _ in info.linear_shapes():
        per_layer.setdefault(name, d_in)
    lora = 0.0
    for name, d_in in per_layer.items():
        if every or name in wanted:
            # dropout output (a new tensor) and its boolean mask, then the rank-r intermediate
            lora += (1.25 * d_in if dropout > 0 else 0.0) + r
    return base + lora


def available_memory(device: str, memory_fraction: float = 0.9) -> int:
    """RAM the system can still give (CPU), or the device's memory times the allowed fraction."""
    if device.startswith("cuda"):
        return int(gpu_total_memory(device) * memory_fraction)
    import psutil

    return int(psutil.virtual_memory().available)


def verdict_for(total: int, available: int) -> Verdict:
    if available <= 0 or total > TIGHT_BELOW * available:
        return "won't fit"
    return "fits" if total <= FITS_BELOW * available else "tight"


def base_weight_bytes(info: ModelInfo, dtype: str, quantization: str = "none") -> int:
    """Bytes of the frozen base model as the trainer holds it."""
    if quantization not in QUANT_BYTES:
        return int(info.parameters * _BYTES[dtype])
    shapes = info.linear_shapes()
    linear = sum(d_in * d_out for _, d_in, d_out in shapes)
    scales = 4 * sum(d_out for _, _, d_out in shapes) if quantization == "8bit" else 0
    return int(linear * QUANT_BYTES[quantization] + scales + (info.parameters - linear) * 4)


def estimate_training_memory(model_dir: str | Path | ModelInfo, training_section: Any,
                             lora_section: Any, device: str = "cpu", *, dtype: str = "auto",
                             quantization: str = "none", memory_fraction: float = 0.9,
                             available: int | None = None,
                             trained_fraction: float = 1.0,
                             row_length: int | None = None, max_batch_size: int | None = None,
                             min_gpu_memory: float = 0.0) -> MemoryEstimate:
    """Peak memory of a LoRA run (by default the worst case: every row max_seq_length long).

    ``training_section`` / ``lora_section`` are the ``training.training`` and
    ``training.lora`` config sections (objects or dicts). ``available`` overrides the
    measured free memory (for tests and what-if questions). ``trained_fraction`` is the share
    of tokens the loss counts (1.0, the worst case, for text data; about half for typical
    instruction data), which sizes the logits. ``row_length`` is the longest row the data
    really gives (the trainer makes rows only as long as the longest example); the default is
    max_seq_length, the worst case. ``max_batch_size`` and ``min_gpu_memory`` (GiB) are the
    model's own limits (``model.resources``): a run that breaks one "won't fit" either.
    """
    info = model_dir if isinstance(model_dir, ModelInfo) else model_info(model_dir)
    kind = "cuda" if device.startswith("cuda") else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if kind == "cuda" else "float32"
    mixed = _get(training_section, "mixed_precision", "auto")
    act_bytes = 2 if kind == "cuda" and (dtype != "float32" or mixed in ("auto", "bf16", "fp16")) \
        else 4

    r = int(_get(lora_section, "r", 16))
    targets = _get(lora_section, "target_modules", ["all-linear"])
    dropout = float(_get(lora_section, "lora_dropout", 0.05))
    n_lora, unknown = lora_parameter_count(info, r, targets)

    batch = int(_get(training_section, "per_device_train_batch_size", 1))
    seq = int(_get(training_section, "max_seq_length", 512))
    if _get(training_section, "method", "sft") == "dpo":
        seq *= 2  # a DPO row holds the chosen and the rejected sequence
    if row_length:
        seq = min(seq, int(row_length))
    tokens = batch * seq
    checkpointing = bool(_get(training_section, "gradient_checkpointing", False))
    layer_bytes = layer_floats_per_token(info, r, targets, dropout) * act_bytes
    if checkpointing:  # layer inputs only, plus the layer(s) being recomputed
        share, least = RECOMPUTED_LAYERS[kind]
        per_token = (info.layers * info.hidden_size * act_bytes
                     + max(least, share * info.layers) * layer_bytes)
    else:
        per_token = info.layers * layer_bytes * LAYER_FACTOR[kind]
    logits = LOGIT_COPIES[kind] * info.vocab_size * 4 * min(max(trained_fraction, 0.0), 1.0)
    per_token += 3 * info.hidden_size * act_bytes + logits
    activations = int(tokens * per_token)

    weights = base_weight_bytes(info, dtype, quantization)
    lora_bytes, grads, optim = 4 * n_lora, 4 * n_lora, 8 * n_lora
    overhead = RUNTIME_OVERHEAD[kind]
    total = weights + lora_bytes + grads + optim + activations + overhead
    if available is None:
        available = available_memory(device, memory_fraction)
    notes = []
    if unknown:
        notes.append(f"Note: the model has no layer named {', '.join(unknown)} "
                     "(its linear layers: " + ", ".join(sorted(info.linear_layers())) + ")")
    problems = model_limit_problems(batch, device, max_batch_size, min_gpu_memory)
    verdict = "won't fit" if problems else verdict_for(total, int(available))
    return MemoryEstimate(weights, lora_bytes, grads, optim, activations, overhead, total,
                          int(available), device, verdict, n_lora, tokens, notes, problems)


def model_limit_problems(batch: int, device: str, max_batch_size: int | None = None,
                         min_gpu_memory: float = 0.0) -> list[str]:
    """What a run breaks of ``model.resources``: one line each (what, the limit, the fix)."""
    problems = []
    if max_batch_size is not None and batch > max_batch_size:
        problems.append(f"training.training.per_device_train_batch_size = {batch} is above "
                        f"model.resources.max_batch_size = {max_batch_size}; lower the batch "
                        "size (gradient_accumulation_steps keeps the effective batch)")
    if min_gpu_memory > 0:
        if not device.startswith("cuda"):
            problems.append(f"model.resources.min_gpu_memory = {min_gpu_memory:g} GiB, but this "
                            f"run is on the {device.upper()}; run it on a GPU or set 0")
        else:
            total = gpu_total_memory(device)
            if total < min_gpu_memory * GIB:
                problems.append(f"model.resources.min_gpu_memory = {min_gpu_memory:g} GiB, but "
                                f"{device} has {fmt_bytes(total)}")
    return problems


def gpu_total_memory(device: str) -> int:
    """Bytes of memory on the CUDA device ``device`` (``cuda`` = the current one)."""
    import torch

    index = int(device.split(":", 1)[1]) if ":" in device else torch.cuda.current_device()
    return int(torch.cuda.get_device_properties(index).total_memory)
