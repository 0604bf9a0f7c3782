"""Chat: decode speed and time to first token of our engine against bare ``model.generate``
and against llama.cpp on the same model, prompt, greedy settings and thread count.

What: the starter model, one prompt (system prompt + one question, chat template), greedy,
exactly N new tokens (end-of-sequence masked until then, ``min_new_tokens``). Each repetition
runs every contender once, one after the other (llama.cpp f16, llama.cpp q8_0, generate, the
engine, each decode technique), so load on this shared machine hits them alike; the ratios
are medians of the per-repetition ratios. llama.cpp runs in a child process
(``llamacpp_child.py``) with the same thread count as torch here (``--threads``, default 1:
the chat window's count on 2 cores).

- Engine: ``ChatEngine.stream(...)`` iterated to the end, as the CLI and the chat worker do
  (rendering, the generation thread, the streamer, Stop), at its default settings: the
  llama.cpp engine at f16 where llama-cpp-python is installed, else torch at float16. Also
  ``engine_int8`` (decode_precision = int8: llama.cpp's q8_0) and ``engine_torch``
  (decode_engine = torch), the same way.
- generate: ``model.generate`` on the tokenized prompt on a fresh thread with a streamer that
  only notes each token's time (the "before").
- Techniques (``chat_techniques``): our decode loop over the model's own forward
  (``ModelStepper``), then ``LlamaDecoder`` at float32 (exact), float16 weights and int8
  weights, each through the same ``run_decode`` loop.
- Agreement: on a fixed prompt set, 128 greedy tokens of the float32 decoder (checked
  token-identical to ``generate``); each other precision, what each engine setting answers
  with (``engine``, ``engine_int8``, ``engine_torch``), and llama.cpp's files, fed the same
  tokens; the share of positions where its top token is the reference's.

Decode speed is (N - 1) / (time of the last token - time of the first), for all.
Keys: ``chat_decode_vs_llamacpp_f16`` / ``_q8_0`` = engine / llama.cpp decode tokens/s (goal
>= 1.0); ``chat_decode_vs_llamacpp_q8_0_at_int8`` = the engine at int8 / llama.cpp q8_0; ``chat_decode_ratio`` = engine / generate (goal >= 0.97); ``chat_ttft_overhead`` =
engine TTFT / generate TTFT - 1 (goal <= 0.05); ``chat_agreement`` per precision.

    .venv/bin/python bench/bench_chat.py [--quick] [--threads N] [--converter PATH]
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

import llamacpp_reference  # noqa: E402
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


PROMPTS = [  # the agreement set: different kinds of answer
    QUESTION,
    "Explain in simple words how a bicycle gear system works.",
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "List five tips for writing clear emails at work, with a sentence on each.",
]


def engine_once(engine: Any, settings: Any, n_tokens: int) -> dict[str, float]:
    turns = [{"role": "user", "content": QUESTION}]
    t0 = time.perf_counter()
    stream = engine.stream(SYSTEM_PROMPT, turns, settings, min_new_tokens=n_tokens)
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


def technique_once(stepper: Any, prompt: list[int], n_tokens: int, eos: set[int]) -> dict:
    """Our decode loop over one stepper, timed per token (no thread, no text streamer)."""
    import threading

    from llamahome_gui.core.chat.decode import DecodeRequest, run_decode

    times: list[float] = []
    t0 = time.perf_counter()
    run_decode(stepper, prompt, DecodeRequest(n_tokens, min_new_tokens=n_tokens), eos_ids=eos,
               stop=threading.Event(), on_token=lambda _t: times.append(time.perf_counter()))
    return {"ttft_s": times[0] - t0, "decode_tps": _decode_rate(times[0], times[-1], len(times))}


def greedy_tokens(stepper: Any, prompt: list[int], n: int, eos: set[int]) -> list[int]:
    import threading

    from llamahome_gui.core.chat.decode import DecodeRequest, run_decode

    out: list[int] = []
    run_decode(stepper, prompt, DecodeRequest(n, min_new_tokens=n), eos_ids=eos,
               stop=threading.Event(), on_token=out.append)
    return out


def forced_agreement(decoder: Any, prompt: list[int], reference: list[int],
                     eos: list[int]) -> int:
    """Positions where ``decoder``'s top token (EOS masked, as the reference) is the reference's,
    fed the reference's own tokens."""
    import torch

    agree = 0
    with torch.inference_mode():
        session = decoder.open(len(prompt) + len(reference))
        logits = session.prefill(prompt)
        for i, token in enumerate(reference):
            logits = logits.float().index_fill(0, torch.tensor(eos), float("-inf"))
            agree += int(int(logits.argmax()) == token)
            logits = session.step(token, len(prompt) + i)
    return agree


def _ratio(ours: list[float], theirs: list[float]) -> float | None:
    pairs = [a / b for a, b in zip(ours, theirs, strict=True) if b]
    return round(median(pairs), 3) if pairs else None


def agreement_figures(engine: Any, decoders: dict[str, Any], children: dict[str, Any],
                      n: int = 128) -> dict[str, Any]:
    """Top-1 agreement with the float32 answer on the prompt set; fp32 vs generate identity."""
    import torch

    tok, model = engine.tokenizer, engine.model
    eos = sorted(_eos(engine))
    identical, counts = [], {name: 0 for name in [*decoders, *children]}
    total = 0
    for question in PROMPTS:
        prompt = engine.prepare(SYSTEM_PROMPT, [{"role": "user", "content": question}],
                                _greedy(n)).input_ids
        reference = greedy_tokens(decoders["float32"], prompt, n, set(eos))
        ids = torch.tensor([prompt])
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                                 min_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
        identical.append(out[0, len(prompt):].tolist() == reference)
        total += n
        for name, decoder in decoders.items():
            counts[name] += forced_agreement(decoder, prompt, reference, eos)
        for kind, child in children.items():
            counts[kind] += child.agreement(prompt, reference, eos)
    return {"chat_fp32_identical_to_generate": all(identical),
            "chat_agreement": {name: round(c / total, 4) for name, c in counts.items()},
            "chat_agreement_tokens": total}


def _greedy(n: int) -> Any:
    from llamahome_gui.core.chat import GenerationSettings

    return GenerationSettings(do_sample=False, temperature=0.0, max_new_tokens=n,
                              repetition_penalty=1.0)


def _eos(engine: Any) -> set[int]:
    from llamahome_gui.core.chat.streaming import eos_ids

    return eos_ids(engine.model, engine.tokenizer)


# The engine as the Chat page runs it at other settings (inference.chat): at int8 (llama.cpp's
# q8_0 where llama-cpp-python is installed) and on torch alone (the default without it).
ENGINE_VARIANTS = {"engine_int8": {"decode_precision": "int8"},
                   "engine_torch": {"decode_engine": "torch"}}


def run(quick: bool = False, threads: int = 1, converter: str | None = None) -> dict[str, Any]:
    import torch

    from llamahome_gui.core.chat import ChatEngine
    from llamahome_gui.core.chat.decode import ModelStepper
    from llamahome_gui.core.chat.decode_llama import LlamaDecoder

    torch.set_num_threads(threads)
    n_tokens, reps = (64, 3) if quick else (128, 5)
    model_dir = starter_model()
    engine = ChatEngine()
    info = engine.load(str(model_dir), device="cpu")
    variants = {name: ChatEngine() for name in ENGINE_VARIANTS}
    variant_paths = {name: v.load(str(model_dir), device="cpu", **ENGINE_VARIANTS[name]).decode
                     for name, v in variants.items()}
    settings = _greedy(n_tokens)
    prepared = engine.prepare(SYSTEM_PROMPT, [{"role": "user", "content": QUESTION}], settings)
    prompt, eos = prepared.input_ids, _eos(engine)
    kwargs = dict(settings.generate_kwargs(), min_new_tokens=n_tokens)
    pad = engine.tokenizer.pad_token_id
    built = {}
    decoders: dict[str, Any] = {}
    for precision in ("float32", "float16", "int8"):
        t = time.perf_counter()
        decoders[precision] = LlamaDecoder(engine.model, precision)
        built[precision] = round(time.perf_counter() - t, 2)
    steppers = {"model_forward": ModelStepper(engine.model), **decoders}
    # the agreement of what each engine answers with (llama.cpp's files where it runs them)
    answering = {"engine": engine.base_stepper(),
                 **{name: v.base_stepper() for name, v in variants.items()}}
    # prompts: every usable core, as our llama.cpp engine evaluates them (decode: ``threads``)
    from llamahome_gui.core.models.loading import usable_cores

    prompt_threads = max(threads, usable_cores())
    children = llamacpp_reference.start_children(model_dir, threads, converter, prompt_threads)
    skipped = children.pop("skipped", "")
    try:
        text = engine.tokenizer.decode(prompt)
        same_prompt = all(c.tokenize(text) == prompt for c in children.values())
        # warm-up: one short run of each
        engine_once(engine, _greedy(8), 8)
        for variant in variants.values():
            engine_once(variant, _greedy(8), 8)
        reference_once(engine.model, prompt, dict(kwargs, max_new_tokens=8, min_new_tokens=8), pad)
        for stepper in steppers.values():
            technique_once(stepper, prompt, 8, eos)
        for child in children.values():
            child.decode(prompt, 8)
        runs: dict[str, list[dict[str, float]]] = {
            k: [] for k in [*children, "generate", "engine", *variants, *steppers]}
        for i in range(reps):
            print(f"  chat: run {i + 1}/{reps}", flush=True)
            for kind, child in children.items():
                runs[kind].append(child.decode(prompt, n_tokens))
            runs["generate"].append(reference_once(engine.model, prompt, kwargs, pad))
            runs["engine"].append(engine_once(engine, settings, n_tokens))
            for name, variant in variants.items():
                runs[name].append(engine_once(variant, settings, n_tokens))
            for name, stepper in steppers.items():
                runs[name].append(technique_once(stepper, prompt, n_tokens, eos))
        print("  chat: agreement", flush=True)
        agreement = agreement_figures(engine, {**decoders, **answering}, children)
    finally:
        for child in children.values():
            child.close()
    engine.unload()
    for variant in variants.values():
        variant.unload()
    tps = {k: [r["decode_tps"] for r in v] for k, v in runs.items()}
    ttft = {k: [r["ttft_s"] for r in v] for k, v in runs.items()}
    result: dict[str, Any] = {}
    for kind in llamacpp_reference.KINDS:
        result[f"chat_decode_vs_llamacpp_{kind}"] = (
            _ratio(tps["engine"], tps[kind]) if kind in tps else None)
    # int8 = q8_0 on llama.cpp: that setting against llama.cpp's own q8_0
    result["chat_decode_vs_llamacpp_q8_0_at_int8"] = (
        _ratio(tps["engine_int8"], tps["q8_0"]) if "q8_0" in tps else None)
    result.update({
        "chat_decode_ratio": _ratio(tps["engine"], tps["generate"]),
        "chat_ttft_overhead": round(median(ttft["engine"]) / median(ttft["generate"]) - 1.0, 3),
        # "today": the torch engine as the Chat page ran it before the llama.cpp engine
        "chat_ttft_vs_torch_engine": round(median(ttft["engine"]) / median(ttft["engine_torch"]),
                                           3),
        **agreement,
        "chat_engine_decode_tokens_per_s": round(median(tps["engine"]), 2),
        "chat_reference_decode_tokens_per_s": round(median(tps["generate"]), 2),
        "chat_engine_ttft_ms": round(median(ttft["engine"]) * 1e3, 1),
        "chat_reference_ttft_ms": round(median(ttft["generate"]) * 1e3, 1),
        "chat_engine_first_text_ms": round(median([o["first_text_s"] for o in runs["engine"]])
                                           * 1e3, 1),
        "chat_techniques": {
            name: {"decode_tokens_per_s": round(median(tps[name]), 2),
                   "ttft_ms": round(median(ttft[name]) * 1e3, 1),
                   **({f"vs_llamacpp_{k}": _ratio(tps[name], tps[k]) for k in children}),
                   "vs_generate": _ratio(tps[name], tps["generate"])}
            for name in ["generate", *steppers, "engine", *variants, *children]},
        "chat_setup": {"prompt_tokens": len(prompt), "new_tokens": n_tokens, "repetitions": reps,
                       "threads": threads, "prompt_threads_llamacpp": prompt_threads,
                       "device": info.device, "dtype": info.dtype,
                       "engine_decode": info.decode, "variants_decode": variant_paths,
                       "decoder_build_s": built,
                       "llamacpp": skipped or {"same_prompt_tokens": same_prompt,
                                               "files": {k: c.path.name
                                                         for k, c in children.items()}}},
    })
    return result


def main() -> None:
    p = argparse.ArgumentParser(description="chat: engine vs generate and llama.cpp")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=1,
                   help="torch and llama.cpp threads (the same for both)")
    p.add_argument("--converter", help="llama.cpp's convert_hf_to_gguf.py, to make the GGUF "
                   "reference files once")
    a = p.parse_args()
    print(json.dumps(run(a.quick, a.threads, a.converter), indent=2))


if __name__ == "__main__":
    main()
