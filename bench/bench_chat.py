"""Chat: time to first token and decode speed of our engine against a bare ``model.generate``.

What: the same loaded starter model, the same prompt (system prompt + one question, rendered
with the chat template), greedy decoding, ``max_new_tokens`` = ``min_new_tokens`` = N so both
produce exactly N tokens. Runs alternate (reference, engine, reference, ...) after one
warm-up of each; medians are reported.

- Engine: ``ChatEngine.stream(...)`` iterated to the end, as the CLI and the chat worker do
  (prompt rendering and fitting, the generation thread, the streamer, the Stop criterion).
  Time to first token counts from the call to ``stream`` to the first new token.
- Reference: ``model.generate(input_ids, ...)`` on the already-tokenized prompt with a
  streamer that only notes the time of each token (the bare minimum to time a token), called
  on a fresh thread like the engine's generation thread, so the ratio isolates what the
  engine adds. (One main-thread call is reported as a raw figure: on a busy 2-core machine
  torch's thread pool is much slower on the main thread than on a fresh one.)

Decode speed is (N - 1) / (time of the last token - time of the first), for both.
Keys: ``chat_decode_ratio`` = engine / reference decode tokens/s (goal >= 0.97);
``chat_ttft_overhead`` = engine TTFT / reference TTFT - 1 (goal <= 0.05).

    .venv/bin/python bench/bench_chat.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SYSTEM_PROMPT, median, starter_model  # noqa: E402

QUESTION = ("I am planning a small vegetable garden on a sunny balcony. Which vegetables grow "
            "well in pots, how often should I water them, and what soil should I buy? Please "
            "answer in a few short paragraphs.")


def _timing_streamer() -> Any:
    from transformers.generation.streamers import BaseStreamer

    class TokenClock(BaseStreamer):
        """Notes when each new token arrives; the first ``put`` is the prompt."""

        def __init__(self) -> None:
            self.prompt_seen = False
            self.times: list[float] = []

        def put(self, value: Any) -> None:
            if not self.prompt_seen:
                self.prompt_seen = True
                return
            self.times.append(time.perf_counter())

        def end(self) -> None:
            pass

    return TokenClock()


def _decode_rate(first: float, last: float, n: int) -> float:
    return (n - 1) / (last - first) if n > 1 and last > first else 0.0


def reference_once(model: Any, input_ids: list[int], kwargs: dict[str, Any],
                   pad_id: int | None, in_thread: bool = True) -> dict[str, float]:
    """One bare ``generate``; ``in_thread`` runs it on a fresh thread, as the engine does."""
    import torch

    ids = torch.tensor([input_ids], dtype=torch.long, device=model.device)
    clock = _timing_streamer()

    def go() -> None:
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), streamer=clock,
                       pad_token_id=pad_id, **kwargs)

    t0 = time.perf_counter()
    if in_thread:
        thread = threading.Thread(target=go)
        thread.start()
        thread.join()
    else:
        go()
    n = len(clock.times)
    return {"ttft_s": clock.times[0] - t0, "tokens": n,
            "decode_tps": _decode_rate(clock.times[0], clock.times[-1], n)}


def engine_once(engine: Any, settings: Any) -> dict[str, float]:
    turns = [{"role": "user", "content": QUESTION}]
    t0 = time.perf_counter()
    stream = engine.stream(SYSTEM_PROMPT, turns, settings)
    first_text = None
    for _piece in stream:
        if first_text is None:
            first_text = time.perf_counter()
    stats = stream.stats
    # the stream's clock starts inside ``stream()``; add the rendering before it
    started = getattr(stream, "_started", t0)
    return {"ttft_s": (started - t0) + stats.time_to_first_token, "tokens": stats.new_tokens,
            "decode_tps": stats.tokens_per_second,
            "first_text_s": (first_text or time.perf_counter()) - t0}


def run(quick: bool = False) -> dict[str, Any]:
    from llamahome_gui.core.chat import ChatEngine, GenerationSettings

    n_tokens, reps = (64, 3) if quick else (128, 7)
    engine = ChatEngine()
    info = engine.load(str(starter_model()))
    settings = GenerationSettings(do_sample=False, temperature=0.0, max_new_tokens=n_tokens,
                                  repetition_penalty=1.0)
    # Both produce exactly n tokens: generate reads min_new_tokens from the model's config.
    engine.model.generation_config.min_new_tokens = n_tokens
    prepared = engine.prepare(SYSTEM_PROMPT, [{"role": "user", "content": QUESTION}], settings)
    kwargs = dict(settings.generate_kwargs(), min_new_tokens=n_tokens)
    pad = engine.tokenizer.pad_token_id
    warm = GenerationSettings(do_sample=False, temperature=0.0, max_new_tokens=8,
                              repetition_penalty=1.0)
    engine.model.generation_config.min_new_tokens = 8
    engine_once(engine, warm)
    reference_once(engine.model, prepared.input_ids, dict(kwargs, max_new_tokens=8,
                                                          min_new_tokens=8), pad)
    engine.model.generation_config.min_new_tokens = n_tokens
    ref, ours = [], []
    for i in range(reps):
        print(f"  chat: run {i + 1}/{reps}", flush=True)
        ref.append(reference_once(engine.model, prepared.input_ids, kwargs, pad))
        ours.append(engine_once(engine, settings))
    # the same call on the main thread, as a script would make it (a raw figure only: with
    # other processes busy, torch's thread pool behaves differently on the main thread)
    main_thread = reference_once(engine.model, prepared.input_ids, kwargs, pad, in_thread=False)
    ref_ttft, our_ttft = median([r["ttft_s"] for r in ref]), median([o["ttft_s"] for o in ours])
    ref_tps = median([r["decode_tps"] for r in ref])
    our_tps = median([o["decode_tps"] for o in ours])
    engine.unload()
    return {
        "chat_decode_ratio": round(our_tps / ref_tps, 3) if ref_tps else None,
        "chat_ttft_overhead": round(our_ttft / ref_ttft - 1.0, 3) if ref_ttft else None,
        "chat_engine_decode_tokens_per_s": round(our_tps, 2),
        "chat_reference_decode_tokens_per_s": round(ref_tps, 2),
        "chat_engine_ttft_ms": round(our_ttft * 1e3, 1),
        "chat_reference_ttft_ms": round(ref_ttft * 1e3, 1),
        "chat_reference_main_thread": {"ttft_ms": round(main_thread["ttft_s"] * 1e3, 1),
                                       "decode_tokens_per_s": round(main_thread["decode_tps"], 2)},
        "chat_engine_first_text_ms": round(median([o["first_text_s"] for o in ours]) * 1e3, 1),
        "chat_setup": {"prompt_tokens": prepared.prompt_tokens, "new_tokens": n_tokens,
                       "repetitions": reps, "device": info.device, "dtype": info.dtype,
                       "tokens_seen": sorted({int(o["tokens"]) for o in ours + ref})},
    }


def main() -> None:
    p = argparse.ArgumentParser(description="chat: engine vs bare model.generate")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    print(json.dumps(run(a.quick), indent=2))


if __name__ == "__main__":
    main()
