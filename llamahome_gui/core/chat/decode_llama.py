"""A batch-1 decoder for llama-family weights: the chat answer's hot loop without ``generate``.

Why: for a small model on a CPU the time per token is mostly per-operation overhead
(transformers' module calls, masks, cache bookkeeping; ~450 kernels per token) and, in fp32,
reading 4 bytes per weight. This decoder runs the same arithmetic as ``LlamaForCausalLM``
over the model's own tensors with a preallocated KV cache, and can hold the projection
weights packed for faster CPU kernels (fp16 weights or int8 per-channel, dynamic activations).

At ``float32`` it reuses the model's tensors (no copy) and mirrors the reference ops one by
one, so greedy answers are token-identical to ``generate``. Any other precision makes packed
copies of the linear weights; the embedding table stays the model's own.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

PRECISIONS = ("float32", "float16", "int8")
_SUPPORTED_TYPES = {"llama", "mistral", "qwen2"}
_STATIC_ROPE = {"default", "linear", "llama3"}


class UnsupportedModel(ValueError):
    """This model (or adapter) needs the generic path; the message says why."""


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux); empty elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def int8_available() -> bool:
    import torch

    return any(e in torch.backends.quantized.supported_engines for e in ("x86", "fbgemm"))


def _linear(weight: Any, bias: Any, precision: str) -> Callable[[Any], Any]:
    """``x -> x @ weight.T + bias`` with the weight held as ``precision`` asks."""
    import torch
    import torch.nn.functional as F

    if precision == "float32":
        return partial(F.linear, weight=weight, bias=bias)
    w = weight.detach().float().contiguous()
    b = None if bias is None else bias.detach().float().contiguous()
    if precision == "float16":
        packed = torch.ops.quantized.linear_prepack_fp16(w, b)
        return partial(torch.ops.quantized.linear_dynamic_fp16, W_prepack=packed)
    if precision == "int8":
        scale = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-12).double()
        zero = torch.zeros(w.shape[0], dtype=torch.long)
        with warnings.catch_warnings():  # the quantized-tensor deprecation notice
            warnings.simplefilter("ignore", UserWarning)
            qweight = torch.quantize_per_channel(w, scale, zero, 0, torch.qint8)
        packed = torch.ops.quantized.linear_prepack(qweight, b)
        # Without VNNI the u8*s8 kernels can saturate; 7-bit activations avoid it.
        reduce_range = "avx512_vnni" not in cpu_flags() and "avx_vnni" not in cpu_flags()
        return partial(torch.ops.quantized.linear_dynamic, W_prepack=packed,
                       reduce_range=reduce_range)
    raise ValueError(f"unknown decode precision {precision!r}; one of {', '.join(PRECISIONS)}")


def _text_model(model: Any) -> Any:
    """The ``*ForCausalLM`` under a PeftModel wrapper, if any."""
    base = model
    if hasattr(base, "get_base_model"):
        base = base.get_base_model()
    return base


def check_supported(model: Any) -> None:
    """Raise :class:`UnsupportedModel` unless this decoder computes exactly what the model does."""
    base = _text_model(model)
    cfg = base.config
    kind = getattr(cfg, "model_type", "")
    if kind not in _SUPPORTED_TYPES:
        raise UnsupportedModel(f"model type {kind!r} is not llama-family")
    if getattr(cfg, "hidden_act", "silu") != "silu":
        raise UnsupportedModel(f"activation {cfg.hidden_act!r}")
    if getattr(cfg, "sliding_window", None) and getattr(cfg, "use_sliding_window", True):
        raise UnsupportedModel("sliding-window attention")
    rope = (getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {})
    if rope.get("rope_type", rope.get("type", "default")) not in _STATIC_ROPE:
        raise UnsupportedModel(f"rope type {rope.get('rope_type')!r} changes with length")
    if getattr(cfg, "pretraining_tp", 1) not in (1, None):
        raise UnsupportedModel("pretraining_tp > 1")
    if next(base.parameters()).device.type != "cpu":
        raise UnsupportedModel("not on the CPU")


def _effective_weight(module: Any, merge: bool) -> tuple[Any, Any]:
    """A linear module's weight and bias, with the active LoRA adapter merged in (a new tensor)
    when ``merge``; the module's own tensors when no adapter applies."""
    base_layer = getattr(module, "base_layer", None)
    if base_layer is None:
        return module.weight, module.bias
    weight, bias = base_layer.weight, base_layer.bias
    if getattr(module, "merged", False):
        raise UnsupportedModel("adapter already merged into the base weights")
    if not merge or getattr(module, "disable_adapters", False):
        return weight, bias
    for name in module.active_adapters:
        if name in getattr(module, "lora_A", {}):
            if getattr(module, "use_dora", {}).get(name, False):
                raise UnsupportedModel("DoRA adapters")
            weight = weight + module.get_delta_weight(name).to(weight.dtype)
        elif name in getattr(module, "lora_embedding_A", {}) or name in getattr(
                module, "lora_magnitude_vector", {}):
            raise UnsupportedModel("adapter type not mergeable here")
    return weight, bias


def _plain_weight(module: Any, what: str) -> Any:
    """Embeddings and norms must be plain tensors (an adapter on them needs the generic path)."""
    if hasattr(module, "base_layer"):
        raise UnsupportedModel(f"an adapter on the {what}")
    return module.weight


class LlamaDecoder:
    """One prompt at a time: :meth:`prefill` then :meth:`step` per token; logits for the next."""

    def __init__(self, model: Any, precision: str = "float32", *, with_adapter: bool = True,
                 shared: dict[Any, Any] | None = None) -> None:
        """``with_adapter``: merge the active LoRA adapter (else the base weights answer).
        ``shared``: packed kernels of untouched weights, reused across decoders of one model
        (an adapter's decoder repacks only the layers its adapter changes)."""
        import torch

        check_supported(model)
        if precision == "int8" and not int8_available():
            raise UnsupportedModel("int8 kernels (fbgemm/x86) are not in this torch build")
        base = _text_model(model)
        cfg, inner = base.config, base.model
        self.precision = precision
        self._merge = with_adapter
        self._shared = {} if shared is None else shared
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads
        self.scaling = self.head_dim ** -0.5
        self.eps = float(cfg.rms_norm_eps)
        self.dtype = inner.embed_tokens.weight.dtype
        if self.dtype != torch.float32 and precision != "float32":
            raise UnsupportedModel("packed weights need a float32 model")
        self.embed = _plain_weight(inner.embed_tokens, "embeddings")
        self.final_norm = inner.norm.weight
        self.head = self._kernel([base.lm_head])
        rotary = inner.rotary_emb
        self._inv_freq = rotary.inv_freq.detach().float()
        self._rope_scale = float(getattr(rotary, "attention_scaling", 1.0))
        self._cos = self._sin = self._sin_signed = torch.empty(0)
        self.layers = [self._layer(layer) for layer in inner.layers]

    def _layer(self, layer: Any) -> dict[str, Any]:

        attn, mlp = layer.self_attn, layer.mlp
        entry: dict[str, Any] = {"in_norm": _plain_weight(layer.input_layernorm, "norms"),
                                 "post_norm": _plain_weight(layer.post_attention_layernorm, "norms"),
                                 "o": self._kernel([attn.o_proj]),
                                 "down": self._kernel([mlp.down_proj])}
        if self.precision == "float32":  # the model's own tensors, the reference's op order
            entry["qkv"] = [self._kernel([m]) for m in (attn.q_proj, attn.k_proj, attn.v_proj)]
            entry["gate_up"] = [self._kernel([m]) for m in (mlp.gate_proj, mlp.up_proj)]
        else:  # one packed matrix per group: fewer, larger kernels
            entry["qkv"] = self._kernel([attn.q_proj, attn.k_proj, attn.v_proj])
            entry["gate_up"] = self._kernel([mlp.gate_proj, mlp.up_proj])
        return entry

    def _kernel(self, modules: list[Any]) -> Callable[[Any], Any]:
        """One linear kernel over the (row-stacked) weights of ``modules``."""
        import torch

        parts = [_effective_weight(m, self._merge) for m in modules]
        own = all(w is getattr(m, "base_layer", m).weight for (w, _), m in zip(parts, modules,
                                                                                strict=True))
        key = (self.precision, *(id(w) for w, _ in parts))
        if own and key in self._shared:
            return self._shared[key]
        if len(parts) == 1:
            kernel = _linear(*parts[0], self.precision)
        else:
            weight = torch.cat([w for w, _ in parts])
            bias = None
            if any(b is not None for _, b in parts):
                bias = torch.cat([b if b is not None else torch.zeros(w.shape[0], dtype=w.dtype)
                                  for w, b in parts])
            kernel = _linear(weight, bias, self.precision)
        if own:  # only the model's own tensors are safe to key by id (they outlive us)
            self._shared[key] = kernel
        return kernel

    def open(self, capacity: int) -> _DecoderSession:
        """A fresh KV cache with room for ``capacity`` tokens (prompt + answer)."""
        self._rope_table(capacity)
        return _DecoderSession(self, capacity)

    def _rope_table(self, capacity: int) -> None:
        import torch

        if self._cos.shape[0] < capacity:  # grown once, shared by every session
            positions = torch.arange(capacity, dtype=torch.long).float()
            freqs = positions[:, None] * self._inv_freq[None, :]
            emb = torch.cat((freqs, freqs), dim=-1)
            self._cos = (emb.cos() * self._rope_scale).to(self.dtype)
            self._sin = (emb.sin() * self._rope_scale).to(self.dtype)
            half = self.head_dim // 2  # rotate_half(x) * sin == flip_halves(x) * (-sin1, sin2)
            self._sin_signed = torch.cat((-self._sin[:, :half], self._sin[:, half:]), dim=-1)

    def _norm(self, x: Any, weight: Any) -> Any:
        import torch

        xf = x.float()  # as the reference: statistics in fp32, back to the model's dtype
        variance = xf.pow(2).mean(-1, keepdim=True)
        return weight * (xf * torch.rsqrt(variance + self.eps)).to(x.dtype)

    def new_cache(self, capacity: int) -> list[Any]:
        """Per layer: K and V as (1, kv heads, capacity, head dim) each for the exact path; one
        (capacity, 2 * kv heads, head dim) tensor for the packed path (K and V written at once)."""
        import torch

        if self.precision == "float32":
            shape = (1, self.n_kv, capacity, self.head_dim)
            return [(torch.empty(shape, dtype=self.dtype), torch.empty(shape, dtype=self.dtype))
                    for _ in self.layers]
        return [torch.empty((capacity, 2 * self.n_kv, self.head_dim), dtype=self.dtype)
                for _ in self.layers]

    def forward(self, ids: Any, start: int, cache: list[Any]) -> Any:
        """Logits after ``ids`` placed at ``start``; their K/V are written into ``cache``."""
        if self.precision == "float32":
            return self._forward_exact(ids, start, cache)
        return self._forward_packed(ids, start, cache)

    def _forward_packed(self, ids: Any, start: int, cache: list[Any]) -> Any:
        """Fewer, fused operations (about 20 per layer instead of 50): rope on Q and K at
        once, K and V stored with one copy, fused RMSNorm, in-place residuals."""
        import torch.nn.functional as F

        n, end = ids.shape[0], start + ids.shape[0]
        nq, nkv, hd = self.n_heads, self.n_kv, self.head_dim
        cos = self._cos[start:end].view(n, 1, hd)
        sin = self._sin_signed[start:end].view(n, 1, hd)
        width, eps = (self.embed.shape[1],), self.eps
        x = F.embedding(ids, self.embed)
        for layer, kv_cache in zip(self.layers, cache, strict=True):
            qkv = layer["qkv"](F.rms_norm(x, width, layer["in_norm"], eps)).view(n, -1, hd)
            qk = qkv[:, :nq + nkv]
            rotated = qk.unflatten(-1, (2, hd // 2)).flip(-2).flatten(-2)
            qk.mul_(cos).addcmul_(rotated, sin)
            kv_cache[start:end] = qkv[:, nq:]
            kv = kv_cache[:end].transpose(0, 1)
            attn = F.scaled_dot_product_attention(
                qkv[:, :nq].transpose(0, 1).unsqueeze(0), kv[:nkv].unsqueeze(0),
                kv[nkv:].unsqueeze(0), is_causal=n > 1, scale=self.scaling, enable_gqa=nq != nkv)
            x.add_(layer["o"](attn[0].transpose(0, 1).reshape(n, nq * hd)))
            gate, up = layer["gate_up"](F.rms_norm(x, width, layer["post_norm"], eps)).chunk(2, -1)
            x.add_(layer["down"](F.silu(gate).mul_(up)))
        return self.head(F.rms_norm(x[-1:], width, self.final_norm, eps))[0]

    def _forward_exact(self, ids: Any, start: int, cache: list[Any]) -> Any:
        """The reference's operations in the reference's order (token-identical at fp32)."""
        import torch
        import torch.nn.functional as F

        n = ids.shape[0]
        end = start + n
        cos = self._cos[start:end].view(1, 1, n, self.head_dim)
        sin = self._sin[start:end].view(1, 1, n, self.head_dim)
        half = self.head_dim // 2
        nq, nkv, hd = self.n_heads, self.n_kv, self.head_dim
        x = F.embedding(ids, self.embed).view(1, n, -1)
        for layer, (kc, vc) in zip(self.layers, cache, strict=True):
            h = self._norm(x, layer["in_norm"])
            q, k, v = (proj(h) for proj in layer["qkv"])
            q = q.view(1, n, nq, hd).transpose(1, 2)
            k = k.view(1, n, nkv, hd).transpose(1, 2)
            v = v.view(1, n, nkv, hd).transpose(1, 2)
            q = q * cos + torch.cat((-q[..., half:], q[..., :half]), dim=-1) * sin
            k = k * cos + torch.cat((-k[..., half:], k[..., :half]), dim=-1) * sin
            kc[:, :, start:end] = k
            vc[:, :, start:end] = v
            attn = F.scaled_dot_product_attention(
                q, kc[:, :, :end], vc[:, :, :end], is_causal=n > 1, scale=self.scaling,
                enable_gqa=nq != nkv)
            x = x + layer["o"](attn.transpose(1, 2).reshape(1, n, nq * hd))
            h = self._norm(x, layer["post_norm"])
            gate, up = (proj(h) for proj in layer["gate_up"])
            x = x + layer["down"](F.silu(gate) * up)
        last = self._norm(x[:, -1], self.final_norm)
        return self.head(last)[0]


class _DecoderSession:
    """One answer's KV cache over a shared :class:`LlamaDecoder`."""

    def __init__(self, decoder: LlamaDecoder, capacity: int) -> None:
        self._d = decoder
        self._cache = decoder.new_cache(capacity)

    def prefill(self, ids: list[int]) -> Any:
        """Run the prompt from position 0; the logits of the next token."""
        import torch

        return self._d.forward(torch.tensor(ids, dtype=torch.long), 0, self._cache)

    def step(self, token: Any, position: int) -> Any:
        """One new token (an int or a 1-element tensor) at ``position``."""
        import torch

        if not isinstance(token, torch.Tensor):
            token = torch.tensor([token], dtype=torch.long)
        return self._d.forward(token.reshape(1), position, self._cache)
