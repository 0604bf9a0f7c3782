"""Serve: time to first token and aggregate tokens/s of ``llamahome serve`` under 1, 4 and 8
concurrent streaming clients.

What: the starter model served by a real ``llamahome serve`` child process on a free port
(so the clients do not share its interpreter); the official ``openai`` client in C threads,
each sending R streamed chat requests back to back (a closed loop: all clients start
together, then each asks again as soon as its answer ended). Greedy, ``max_tokens`` = N;
client i's k-th question is QUESTIONS[(i + k) % 8] (answers of different lengths, as real
clients send), after one warm-up request.

- TTFT: from the client's ``create`` call to the first chunk with text, per request;
  p50 and p95 over all requests of a level (the start, when all C prompts arrive at once,
  shows in p95).
- Aggregate tokens/s: completion tokens of all requests (``usage``) / wall time of the level.

Keys: ``serve_ttft_p50_ms_c1``, ``serve_ttft_p50_ms_c8``, ``serve_tokens_per_s_c8`` (and the
same for c4, p95), ``serve_ttft_ratio_c8`` = p50 at 8 clients / p50 at 1 (goal <= 3) and
``serve_errors`` (goal 0).

    .venv/bin/python bench/bench_serve.py [--quick] [--engine auto|torch|llama.cpp]
"""

from __future__ import annotations

import argparse
import json
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, SYSTEM_PROMPT, isolated_env, percentile, starter_model, work_dir  # noqa: E402

QUESTIONS = (
    "What is the capital of France?",
    "Give me three tips for keeping basil alive on a windowsill.",
    "Explain in one paragraph what a language model is.",
    "Write a haiku about autumn rain.",
    "How many legs does a spider have?",
    "What should I pack for a weekend hiking trip?",
    "Translate 'good morning' into Spanish and German.",
    "Why is the sky blue? Answer briefly.",
)
LEVELS = (1, 4, 8)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: Path, home: Path, engine: str = "auto"
                 ) -> tuple[subprocess.Popen, str, str]:
    """The server child, its base URL and what computes its answers (its own words)."""
    config = home / "config"
    shutil.copytree(ROOT / "config", config)
    port = _free_port()
    env = isolated_env(home, LLAMAHOME_CHAT_DECODE_ENGINE=engine)  # inference.chat.decode_engine
    proc = subprocess.Popen(
        [PYTHON, "-m", "llamahome_gui", "serve", "--model", str(model), "--port", str(port),
         "--config-dir", str(config)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()
    from llamahome_gui.core.serve.server import parse_ready

    answered_by = ""
    while True:
        try:
            line = lines.get(timeout=300)
        except queue.Empty:
            proc.kill()
            raise RuntimeError("llamahome serve did not start within 300 s") from None
        if line.startswith("Answers computed by "):
            answered_by = line.removeprefix("Answers computed by ").split(",")[0]
        ready = parse_ready(line)
        if ready:
            return proc, ready[0], answered_by
        if proc.poll() is not None:
            raise RuntimeError(f"llamahome serve exited ({proc.returncode}): {line}")


def one_request(client: Any, model: str, max_tokens: int, question: str) -> dict[str, Any]:
    start = time.perf_counter()
    first = None
    tokens = 0
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "system", "content": SYSTEM_PROMPT},
                               {"role": "user", "content": question}],
        temperature=0, max_tokens=max_tokens, stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter()
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return {"ttft_s": (first or time.perf_counter()) - start, "tokens": tokens}


def level(client: Any, model: str, clients: int, per_client: int, max_tokens: int
          ) -> dict[str, Any]:
    errors: list[str] = []

    def one_client(i: int) -> list[dict[str, Any]]:
        done = []
        for k in range(per_client):
            try:
                done.append(one_request(client, model, max_tokens,
                                        QUESTIONS[(i + k) % len(QUESTIONS)]))
            except Exception as exc:  # noqa: BLE001 - counted, the level goes on
                errors.append(f"{type(exc).__name__}: {exc}")
        return done

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [r for rs in pool.map(one_client, range(clients)) for r in rs]
    wall = time.perf_counter() - t0
    ttfts = [r["ttft_s"] * 1e3 for r in results]
    return {"ttft_p50_ms": round(percentile(ttfts, 50), 1),
            "ttft_p95_ms": round(percentile(ttfts, 95), 1),
            "tokens_per_s": round(sum(r["tokens"] for r in results) / wall, 2),
            "requests": len(results), "errors": errors, "wall_s": round(wall, 1)}


def run(quick: bool, engine: str = "auto") -> dict[str, Any]:
    import openai

    model_dir = starter_model()
    max_tokens, per_client = (32, 3) if quick else (64, 4)
    home = work_dir("serve")
    proc, url, answered_by = start_server(model_dir, home, engine)
    figures: dict[str, Any] = {}
    errors: list[str] = []
    try:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)
        model = client.models.list().data[0].id
        one_request(client, model, 8, QUESTIONS[0])  # warm-up
        for clients in LEVELS:
            print(f"  serve: {clients} client(s) x {per_client} requests", flush=True)
            result = level(client, model, clients, per_client, max_tokens)
            errors += result.pop("errors")
            for key in ("ttft_p50_ms", "ttft_p95_ms", "tokens_per_s"):
                figures[f"serve_{key}_c{clients}"] = result[key]
            figures.setdefault("serve_setup", {})[f"c{clients}"] = result
    finally:
        proc.send_signal(2)  # Ctrl-C: a clean shutdown
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    c1, c8 = figures.get("serve_ttft_p50_ms_c1"), figures.get("serve_ttft_p50_ms_c8")
    figures["serve_ttft_ratio_c8"] = round(c8 / c1, 2) if c1 and c8 else None
    figures["serve_errors"] = len(errors)
    figures["serve_setup"].update({"engine": answered_by,
                                   "max_tokens": max_tokens, "requests_per_client": per_client,
                                   "model": model_dir.name, "first_errors": errors[:3]})
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description="serve: TTFT and tokens/s at 1, 4, 8 clients")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--engine", choices=["auto", "torch", "llama.cpp"], default="auto",
                   help="inference.chat.decode_engine of the server (default: as shipped)")
    a = p.parse_args()
    print(json.dumps(run(a.quick, a.engine), indent=2))


if __name__ == "__main__":
    main()
