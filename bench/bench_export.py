"""Export: how long a GGUF export of the starter takes, how faithful the file is, and how fast
llama.cpp runs our q8_0 file against our own chat.

What:
- Export time of ``write_gguf`` for the starter at f16 and q8_0, against a reference measured
  in the same run: copying the starter's model.safetensors (the bytes any export must read).
  Keys ``export_<q>_s``, ``export_<q>_vs_copy`` (ratio), ``export_<q>_mb``.
- Parity (``check_parity``, the check every GGUF export runs): top-1 agreement, positions and
  max logit difference for each file. Keys ``parity_<q>_agreement`` etc.
- Where llama-cpp-python is installed: decode tokens/s of llama.cpp on our q8_0 file against
  our in-app chat (ChatEngine.stream, greedy) on the same prompt, N tokens each, medians of
  alternating runs. Key ``llama_cpp_q8_0_vs_chat`` = llama.cpp / our chat decode speed.
  (llama.cpp is loaded without its CPU weight repacking: the installed 0.3.36 build crashes
  on q8_0 files with it, whoever wrote them.)

    .venv/bin/python bench/bench_export.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_chat import QUESTION, engine_once  # noqa: E402  (the chat bench's prompt and timing)
from common import BENCH_DIR, SYSTEM_PROMPT, median, starter_model, work_dir  # noqa: E402


def _export_times(model: Path, out_dir: Path, quants: tuple[str, ...], reps: int) -> dict:
    from llamahome_gui.core.export.gguf_writer import write_gguf

    results: dict[str, Any] = {}
    copies, times = [], {q: [] for q in quants}
    for i in range(reps):
        print(f"  export: run {i + 1}/{reps}", flush=True)
        start = time.perf_counter()
        shutil.copyfile(model / "model.safetensors", out_dir / "copy.safetensors")
        copies.append(time.perf_counter() - start)
        for q in quants:
            start = time.perf_counter()
            write_gguf(model, out_dir / f"starter.{q}.gguf", q)
            times[q].append(time.perf_counter() - start)
    results["copy_safetensors_s"] = round(median(copies), 2)
    for q in quants:
        results[f"export_{q}_s"] = round(median(times[q]), 2)
        results[f"export_{q}_vs_copy"] = round(median(times[q]) / median(copies), 1)
        results[f"export_{q}_mb"] = round((out_dir / f"starter.{q}.gguf").stat().st_size / 1e6, 1)
    return results


def _parity(model: Path, out_dir: Path, quants: tuple[str, ...]) -> dict:
    from llamahome_gui.core.export.parity import check_parity

    results = {}
    for q in quants:
        print(f"  parity: {q}", flush=True)
        p = check_parity(model, out_dir / f"starter.{q}.gguf", q, system_prompt=SYSTEM_PROMPT)
        results[f"parity_{q}_agreement"] = round(p.agreement, 4)
        results[f"parity_{q}_positions"] = p.positions
        results[f"parity_{q}_max_logit_diff"] = round(p.max_logit_diff, 3)
    return results


def _llama_cpp_tps(llm: Any, ids: list[int], n: int) -> float:
    llm.reset()
    stamps = []
    for _token in llm.generate(ids, temp=0.0, top_k=1, reset=True):
        stamps.append(time.perf_counter())
        if len(stamps) >= n:
            break
    return (n - 1) / (stamps[-1] - stamps[0])


def _decode_speed(model: Path, gguf: Path, n: int, reps: int) -> dict:
    try:
        import llama_cpp
    except ImportError:
        return {"llama_cpp": "not installed"}
    import jinja2

    from llamahome_gui.core.chat import ChatEngine, GenerationSettings
    from llamahome_gui.core.models.loading import usable_cores

    def params() -> Any:
        p = default_params()
        p.use_extra_bufts = False
        return p

    default_params = llama_cpp.llama_cpp.llama_model_default_params
    llama_cpp.llama_cpp.llama_model_default_params = params
    threads = max(1, usable_cores() - 1)  # what our chat uses in the window
    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=1024, n_threads=threads, verbose=False)
    template = llm.metadata["tokenizer.chat_template"]
    text = jinja2.Environment().from_string(template).render(
        messages=[{"role": "system", "content": SYSTEM_PROMPT},
                  {"role": "user", "content": QUESTION}], add_generation_prompt=True)
    ids = llm.tokenize(text.encode(), add_bos=False, special=True)
    engine = ChatEngine()
    engine.load(str(model))
    engine.model.generation_config.min_new_tokens = n
    settings = GenerationSettings(do_sample=False, temperature=0.0, max_new_tokens=n,
                                  repetition_penalty=1.0)
    ours, theirs = [], []
    for i in range(reps):
        print(f"  decode: run {i + 1}/{reps}", flush=True)
        theirs.append(_llama_cpp_tps(llm, ids, n))
        ours.append(engine_once(engine, settings)["decode_tps"])
    llm.close()
    return {"decode_tokens": n, "llama_cpp_q8_0_tps": round(median(theirs), 1),
            "chat_tps": round(median(ours), 1), "llama_cpp_threads": threads,
            "llama_cpp_q8_0_vs_chat": round(median(theirs) / median(ours), 2)}


def run(quick: bool = False) -> dict[str, Any]:
    model = starter_model()
    out_dir = work_dir("export")
    quants = ("f16", "q8_0")
    results: dict[str, Any] = {}
    results.update(_export_times(model, out_dir, quants, 1 if quick else 3))
    results.update(_parity(model, out_dir, quants))
    n, reps = (32, 2) if quick else (128, 5)
    results.update(_decode_speed(model, out_dir / "starter.q8_0.gguf", n, reps))
    shutil.rmtree(out_dir, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one export, fewer tokens")
    args = parser.parse_args()
    results = run(args.quick)
    print(json.dumps(results, indent=2))
    name = "results-export-quick.json" if args.quick else "results-export.json"
    (BENCH_DIR / name).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
