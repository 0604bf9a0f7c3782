"""The server's generation loop: one model, many requests, batched token by token.

One thread owns the model; each request keeps its own KV cache. The loop repeats: prompts
that arrived are prefilled first, together (so a new client's first token does not wait for
the others' answers to end), else every running request advances one token, those with the
same adapter in one forward pass (their caches left-padded and masked). On a CPU a batch of 8
costs a few times one row, not 8: the weights' trip through memory is shared. A slow reader
never holds the loop (tokens go to its callback), and a cancelled request (client gone) ends
before its next token. Each request picks its adapter (peft name, None = the base model), so
adapters stay loaded side by side and no request reloads the base.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from llamahome_gui.core.chat.streaming import eos_ids
from llamahome_gui.core.serve.jobs import Finish, Job

GATHER_S = 0.01      # an idle loop waits this long for one more arriving prompt…
GATHER_MAX_S = 0.05  # …and no longer than this in all before the first prefill


class GenerationLoop:
    """Runs jobs on ``model`` until :meth:`close`. ``model`` may be a ``PeftModel`` whose
    adapters are named by the jobs."""

    def __init__(self, model: Any, tokenizer: Any, llama: Any = None,
                 loras: dict[str | None, int] | None = None) -> None:
        """``llama``: a ``LlamaCppProcess`` with one sequence per concurrent request; then the
        tokens come from it (``loras``: peft adapter name -> its LoRA number, None = base)
        and ``model`` serves only for its tokenizer settings."""
        self.model = model
        self.tokenizer = tokenizer
        self._llama = llama
        self._loras = loras or {None: -1}
        self._free_slots = list(range(llama.n_seq)) if llama is not None else []
        self._eos = eos_ids(model, tokenizer)
        self._forward_kwargs = _forward_kwargs(model)
        self._inbox: queue.Queue[Job | None] = queue.Queue()
        self._running: deque[Job] = deque()
        self._ids = itertools.count(1)
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="llamahome-serve-loop",
                                        daemon=True)
        self._thread.start()

    @property
    def active(self) -> int:
        return len(self._running) + self._inbox.qsize()

    def submit(self, job: Job) -> Job:
        if self._closed:
            raise RuntimeError("the generation loop is closed")
        job.id = next(self._ids)
        self._inbox.put(job)
        return job

    def close(self) -> None:
        self._closed = True
        self._inbox.put(None)
        self._thread.join(timeout=30)

    # ---------------------------------------------------------------------- loop
    def _loop(self) -> None:
        import torch

        from llamahome_gui.core.models.loading import usable_cores

        # All cores but one: the event loop (HTTP, JSON, tokenizing) needs one too, and torch's
        # thread barriers stall whenever the OS gives one of their cores to anything else.
        # Measured on the 2-core machine while busy: 0.6 s a token with one thread, 9-10 s
        # with two (the same cause as the Chat page's worker).
        torch.set_num_threads(max(1, usable_cores() - 1))
        with torch.inference_mode():
            while True:
                arrived = self._arrivals()
                if arrived is None:
                    break
                if arrived:  # new prompts go first, together: their first tokens come soon
                    self._prefill(arrived)
                elif self._running:
                    self._decode_round()
        for job in list(self._running):
            self._finish(job, "cancelled")
        self._running.clear()

    def _arrivals(self) -> list[Job] | None:
        """Every job waiting now; None once closed. While nothing runs it blocks for the
        first, then gathers those arriving right behind it (GATHER_S apart, GATHER_MAX_S in
        all): clients that finished together ask again together, and one batch serves them
        far sooner than the first alone followed by the rest."""
        jobs: list[Job] = []
        idle = not self._running
        started = 0.0
        while True:
            try:
                if not jobs:
                    job = self._inbox.get(block=idle)
                    started = time.perf_counter()
                elif idle and time.perf_counter() - started < GATHER_MAX_S:
                    job = self._inbox.get(timeout=GATHER_S)
                else:
                    job = self._inbox.get(block=False)
            except queue.Empty:
                return None if self._closed and not jobs else jobs
            if job is None:
                for waiting in jobs:
                    self._finish(waiting, "cancelled")
                return None
            jobs.append(job)

    def _prefill(self, jobs: list[Job]) -> None:
        """Prompts of the same adapter in one padded forward pass: on this 2-core CPU, 8
        prompts at once cost about 3x one, so a burst of clients gets its first tokens far
        sooner than one prompt after another."""
        live = []
        for job in jobs:
            if job.cancelled.is_set():
                self._finish(job, "cancelled")
            else:
                live.append(job)
        groups: dict[str | None, list[Job]] = {}
        for job in live:
            groups.setdefault(job.adapter, []).append(job)
        for group in groups.values():
            if len(group) == 1 or self._llama is not None:
                # llama.cpp evaluates a prompt at full arithmetic speed alone (no batching gain
                # as torch has), so each prompt's first token goes out as soon as it is ready.
                for job in group:
                    self._step(job, prefill=True)
                continue
            try:
                tokens = self._batch_prefill(group)
            except Exception as exc:  # noqa: BLE001 - the clients get the reason
                for job in group:
                    self._finish(job, "error", f"{type(exc).__name__}: {exc}")
                continue
            for job, token in zip(group, tokens, strict=True):
                self._advance(job, token)

    def _decode_round(self) -> None:
        """One token for every running job: those of one adapter in one forward pass."""
        jobs = list(self._running)
        self._running.clear()
        groups: dict[str | None, list[Job]] = {}
        for job in jobs:
            if job.cancelled.is_set():
                self._finish(job, "cancelled")
            else:
                groups.setdefault(job.adapter, []).append(job)
        for group in groups.values():
            if len(group) == 1:
                self._step(group[0])
                continue
            try:
                if self._llama is not None:
                    tokens = self._llama_forward(group, [j.generated[-1:] for j in group])
                else:
                    tokens = self._batch_forward(group, [j.generated[-1:] for j in group])
            except Exception as exc:  # noqa: BLE001 - the clients get the reason
                for job in group:
                    self._finish(job, "error", f"{type(exc).__name__}: {exc}")
                continue
            for job, token in zip(group, tokens, strict=True):
                self._advance(job, token)

    def _step(self, job: Job, *, prefill: bool = False) -> None:
        if job.cancelled.is_set():
            self._finish(job, "cancelled")
            return
        try:
            token = self._next_token(job, prefill)
        except Exception as exc:  # noqa: BLE001 - the client gets the reason
            self._finish(job, "error", f"{type(exc).__name__}: {exc}")
            return
        self._advance(job, token)

    def _advance(self, job: Job, token: int) -> None:
        if job.first_token_at is None:
            job.first_token_at = time.perf_counter()
        if token in self._eos:
            self._finish(job, "stop")
            return
        job.generated.append(token)
        stopped = self._emit_text(job, final=False)
        if stopped:
            self._finish(job, "stop")
        elif len(job.generated) >= job.sampling.max_new_tokens:
            self._finish(job, "length")
        else:
            self._running.append(job)

    def _batch_prefill(self, jobs: list[Job]) -> list[int]:
        import torch

        for job in jobs:
            job.cache = None
            if job.sampling.seed is not None:
                job.generator = torch.Generator().manual_seed(int(job.sampling.seed))
        if self._llama is not None:
            return self._llama_forward(jobs, [j.input_ids for j in jobs], prefill=True)
        return self._batch_forward(jobs, [j.input_ids for j in jobs])

    def _llama_forward(self, jobs: list[Job], new_ids: list[list[int]], *,
                       prefill: bool = False) -> list[int]:
        """One llama.cpp pass for jobs of one adapter, each in its own sequence."""
        if prefill:
            for job in jobs:
                if job.slot < 0:
                    if not self._free_slots:
                        raise RuntimeError("no free llama.cpp sequence (more requests than "
                                           "inference.serving.max_concurrent_requests)")
                    job.slot = self._free_slots.pop()
                self._llama.drop(job.slot)
                job.position = 0
        entries = [(job.slot, job.position, ids) for job, ids in zip(jobs, new_ids, strict=True)]
        rows = self._llama.batch(self._loras[jobs[0].adapter], entries)
        for job, ids in zip(jobs, new_ids, strict=True):
            job.position += len(ids)
        return [self._sample(job, rows[i].clone()) for i, job in enumerate(jobs)]

    def _batch_forward(self, jobs: list[Job], new_ids: list[list[int]]) -> list[int]:
        """One forward pass for several jobs: their caches and new tokens left-padded to one
        length and masked; each job then keeps its own slice of the cache (padding cut off),
        so it goes on exactly as if it ran alone. Copying the small caches costs far less
        than the weights' trip through memory that the batch shares."""
        import torch
        from transformers import DynamicCache

        past = [j.cache.get_seq_length() if j.cache is not None else 0 for j in jobs]
        totals = [p + len(ids) for p, ids in zip(past, new_ids, strict=True)]
        longest, width = max(totals), max(len(ids) for ids in new_ids)
        device = _device(self.model)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in new_ids],
                                 dtype=torch.long, device=device)
        mask = torch.tensor([[0] * (longest - t) + [1] * t for t in totals], dtype=torch.long,
                            device=device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, longest - width:]
        cache = DynamicCache()
        if any(past):
            for index in range(len(jobs[0].cache.layers)):
                keys, values = [], []
                for job, p in zip(jobs, past, strict=True):
                    layer = job.cache.layers[index]
                    room = longest - width - p  # this row's left padding inside the past
                    keys.append(torch.nn.functional.pad(layer.keys, (0, 0, room, 0)))
                    values.append(torch.nn.functional.pad(layer.values, (0, 0, room, 0)))
                cache.update(torch.cat(keys), torch.cat(values), index)
        with self._adapter(jobs[0].adapter):
            out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                             use_cache=True, **self._forward_kwargs(cache))
        tokens = []
        for i, (job, t) in enumerate(zip(jobs, totals, strict=True)):
            job.cache = DynamicCache()
            for index, layer in enumerate(cache.layers):
                job.cache.update(layer.keys[i:i + 1, :, longest - t:].clone(),
                                 layer.values[i:i + 1, :, longest - t:].clone(), index)
            tokens.append(self._sample(job, out.logits[i, -1].float()))
        return tokens

    def _next_token(self, job: Job, prefill: bool) -> int:
        import torch

        if self._llama is not None:
            if prefill and job.sampling.seed is not None:
                job.generator = torch.Generator().manual_seed(int(job.sampling.seed))
            ids = job.input_ids if prefill else job.generated[-1:]
            return self._llama_forward([job], [ids], prefill=prefill)[0]
        if prefill:
            from transformers import DynamicCache

            job.cache = DynamicCache()
            ids = job.input_ids
            if job.sampling.seed is not None:
                job.generator = torch.Generator().manual_seed(int(job.sampling.seed))
        else:
            ids = job.generated[-1:]
        device = _device(self.model)
        input_ids = torch.tensor([ids], dtype=torch.long, device=device)
        with self._adapter(job.adapter):
            out = self.model(input_ids=input_ids, use_cache=True,
                             **self._forward_kwargs(job.cache))
        return self._sample(job, out.logits[0, -1].float())

    def _adapter(self, name: str | None) -> Any:
        from contextlib import nullcontext

        if not hasattr(self.model, "disable_adapter"):
            return nullcontext()
        if name is None:
            return self.model.disable_adapter()
        if self.model.active_adapter != name:
            self.model.set_adapter(name)
        return nullcontext()

    def _sample(self, job: Job, logits: Any) -> int:
        import torch

        s = job.sampling
        if s.repetition_penalty != 1.0:
            seen = torch.tensor(sorted(set(job.input_ids) | set(job.generated)),
                                device=logits.device)
            picked = logits[seen]
            logits[seen] = torch.where(picked > 0, picked / s.repetition_penalty,
                                       picked * s.repetition_penalty)
        if s.greedy:
            return int(torch.argmax(logits))
        logits = logits / s.temperature
        if s.top_k and s.top_k < logits.numel():
            floor = torch.topk(logits, s.top_k).values[-1]
            logits = logits.masked_fill(logits < floor, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        if s.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            outside = torch.cumsum(sorted_probs, dim=-1) - sorted_probs > s.top_p
            sorted_probs[outside] = 0.0
            probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
        return int(torch.multinomial(probs, 1, generator=job.generator))

    def _emit_text(self, job: Job, *, final: bool) -> bool:
        """Send the new text; True when a stop string was reached (the text ends before it).
        Text that could be the start of a stop string waits for the next token."""
        text = self.tokenizer.decode(job.generated, skip_special_tokens=True)
        if text.endswith("\ufffd") and not final:
            return False  # half a character: wait for the rest
        stops = job.sampling.stop
        hit = -1
        for stop in stops:
            at = text.find(stop, max(0, len(job.sent) - len(stop)))
            if at >= 0 and (hit < 0 or at < hit):
                hit = at
        if hit >= 0:
            text = text[:hit]
        elif stops and not final:
            hold = max(len(s) for s in stops) - 1
            text = text[:max(len(job.sent), len(text) - hold)]
        if len(text) > len(job.sent) and text.startswith(job.sent):
            piece, job.sent = text[len(job.sent):], text
            job.on_text(piece)
        return hit >= 0

    def _finish(self, job: Job, reason: str, error: str = "") -> None:
        if reason in ("length", "stop"):
            self._emit_text(job, final=True)  # a held-back tail
        job.cache = None
        if job.slot >= 0:  # its cells are dropped when the slot is next used
            self._free_slots.append(job.slot)
            job.slot = -1
        now = time.perf_counter()
        first = (job.first_token_at or now) - job.submitted
        job.on_finish(Finish(reason, job.sent, len(job.input_ids), len(job.generated), first,
                             now - job.submitted, error))


def _forward_kwargs(model: Any) -> Callable[[Any], dict[str, Any]]:
    """The cache argument's name in this transformers version (``cache``, formerly
    ``past_key_values``), and only the last position's logits when the model can skip the
    others (the prompt's other logits are never used)."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    names = inspect.signature(base.forward).parameters
    cache_name = "cache" if "cache" in names else "past_key_values"
    extra = {"logits_to_keep": 1} if "logits_to_keep" in names else {}
    return lambda cache: {cache_name: cache, **extra}


def _device(model: Any) -> Any:
    return next(model.parameters()).device
