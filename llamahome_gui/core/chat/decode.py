"""The answer loop: prefill, then one forward per token, sampling on tensors, one callback per
token, Stop read between tokens.

It replaces ``model.generate`` for chat because ``generate`` re-plans every step (logits
processors, stopping criteria, cache bookkeeping, streamer plumbing) and that overhead is a
large share of a small model's time per token. Two steppers share the loop: the fast
llama-family decoder (``decode_llama``) and a generic one over any model's own forward.
Sampling follows ``generate``'s order (repetition penalty, temperature, top-k, top-p), so
greedy answers match it token for token.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol


class Session(Protocol):
    """One answer's KV cache: the prompt, then one token at a time; logits of the next token."""

    def prefill(self, ids: list[int]) -> Any: ...
    def step(self, token: Any, position: int) -> Any: ...


class Stepper(Protocol):
    """A model ready to decode; each answer gets its own :class:`Session` (its own cache)."""

    def open(self, capacity: int) -> Session: ...


@dataclass(frozen=True)
class DecodeRequest:
    """One answer's knobs: what the chat settings say plus what a server request may add."""

    max_new_tokens: int
    greedy: bool = True
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    min_new_tokens: int = 0     # end-of-sequence is not allowed before this many tokens
    seed: int | None = None     # sampling seed; None = torch's global generator

    @classmethod
    def from_settings(cls, settings: Any, *, min_new_tokens: int = 0,
                      seed: int | None = None) -> DecodeRequest:
        """From ``GenerationSettings`` (temperature 0 = greedy, as there)."""
        return cls(max_new_tokens=settings.max_new_tokens, greedy=settings.greedy,
                   temperature=settings.temperature, top_k=settings.top_k, top_p=settings.top_p,
                   repetition_penalty=settings.repetition_penalty,
                   min_new_tokens=min_new_tokens, seed=seed)


class Sampler:
    """Picks the next token from logits, all on tensors (no Python loop over the vocabulary)."""

    def __init__(self, request: DecodeRequest, prompt_ids: list[int], eos_ids: set[int],
                 device: Any = None) -> None:
        import torch

        self.request = request
        self._eos = torch.tensor(sorted(eos_ids), dtype=torch.long, device=device)
        self._eos_ids = set(eos_ids)
        capacity = len(prompt_ids) + request.max_new_tokens
        self._seen = torch.empty(capacity, dtype=torch.long, device=device)
        self._seen[:len(prompt_ids)] = torch.tensor(prompt_ids, dtype=torch.long)
        self._count = len(prompt_ids)
        self._generator = None
        if request.seed is not None and not request.greedy:
            self._generator = torch.Generator(device=device or "cpu")
            self._generator.manual_seed(int(request.seed))

    def pick(self, logits: Any, produced: int) -> Any:
        """The next token as a 0-d tensor; ``produced`` = answer tokens so far."""
        import torch

        r = self.request
        logits = logits.float()
        if r.repetition_penalty != 1.0:
            seen = self._seen[:self._count]
            score = logits.gather(0, seen)
            score = torch.where(score < 0, score * r.repetition_penalty,
                                score / r.repetition_penalty)
            logits = logits.scatter(0, seen, score)
        masked = produced < r.min_new_tokens and bool(self._eos_ids)
        if r.greedy:
            # the argmax of the masked logits is the plain argmax unless that is an EOS id:
            # only then is the 49k-long masked copy made (a copy every token costs ~0.1 ms)
            token = logits.argmax()
            if masked and int(token) in self._eos_ids:
                token = logits.index_fill(0, self._eos, float("-inf")).argmax()
        else:
            if masked:
                logits = logits.index_fill(0, self._eos, float("-inf"))
            token = self._sample(logits)
        if r.repetition_penalty != 1.0:  # the seen tokens matter only to the penalty
            self._seen[self._count] = token
            self._count += 1
        return token

    def _sample(self, logits: Any) -> Any:
        import torch

        r = self.request
        logits = logits / r.temperature
        if 0 < r.top_k < logits.shape[-1]:
            kth = torch.topk(logits, r.top_k).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if r.top_p < 1.0:
            ordered, order = torch.sort(logits, descending=False)
            cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
            drop = cumulative <= (1 - r.top_p)
            drop[-1] = False  # always keep the most likely token
            logits = logits.masked_fill(drop.scatter(0, order, drop), float("-inf"))
        probs = logits.softmax(dim=-1)
        return torch.multinomial(probs, 1, generator=self._generator)[0]


def run_decode(stepper: Stepper, prompt_ids: list[int], request: DecodeRequest, *,
               eos_ids: set[int], stop: threading.Event, on_token: Callable[[int], None],
               device: Any = None) -> str:
    """Answer ``prompt_ids``; ``on_token`` gets each new token id. The stop reason:
    "eos", "length" or "stopped" (Stop is read after every token, so at most the token
    being computed when it was pressed still arrives)."""
    import torch

    sampler = Sampler(request, prompt_ids, eos_ids, device)
    with torch.inference_mode():
        if stop.is_set():
            return "stopped"
        session = stepper.open(len(prompt_ids) + request.max_new_tokens)
        whole = getattr(session, "greedy_run", None)
        if whole is not None and request.greedy and request.repetition_penalty == 1.0:
            # the llama.cpp process picks greedy tokens itself (decode_gguf)
            return whole(prompt_ids, request.max_new_tokens, request.min_new_tokens, eos_ids,
                         stop, on_token)
        logits = session.prefill(prompt_ids)
        position = len(prompt_ids)
        for produced in range(request.max_new_tokens):
            token = sampler.pick(logits, produced)
            token_id = int(token)
            on_token(token_id)
            if token_id in eos_ids:
                return "eos"
            if stop.is_set():
                return "stopped"
            if produced + 1 == request.max_new_tokens:
                break
            logits = session.step(token, position)
            position += 1
    return "length"


class ModelStepper:
    """Any causal LM through its own forward and a dynamic KV cache (the portable path: other
    architectures, GPUs, adapters that cannot be merged)."""

    def __init__(self, model: Any,
                 context: Callable[[], AbstractContextManager[Any]] = nullcontext) -> None:
        self.model = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.context = context
        self.device = next(self.model.parameters()).device
        params = inspect.signature(self.model.forward).parameters
        self.cache_arg = "cache" if "cache" in params else "past_key_values"

    def open(self, capacity: int) -> _ModelSession:
        return _ModelSession(self)


class _ModelSession:
    def __init__(self, stepper: ModelStepper) -> None:
        from transformers import DynamicCache

        self._s = stepper
        self._cache = DynamicCache(config=stepper.model.config)

    def _run(self, ids: Any, start: int) -> Any:
        import torch

        s, n = self._s, ids.shape[-1]
        positions = torch.arange(start, start + n, device=s.device).unsqueeze(0)
        with s.context():
            out = s.model(input_ids=ids.view(1, n), position_ids=positions, use_cache=True,
                          logits_to_keep=1, **{s.cache_arg: self._cache})
        return out.logits[0, -1]

    def prefill(self, ids: list[int]) -> Any:
        import torch

        return self._run(torch.tensor(ids, dtype=torch.long, device=self._s.device), 0)

    def step(self, token: Any, position: int) -> Any:
        import torch

        if not isinstance(token, torch.Tensor):
            token = torch.tensor([token], dtype=torch.long)
        return self._run(token.to(self._s.device).reshape(1), position)
