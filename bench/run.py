"""Run every benchmark, print a table against the goals, write the figures as JSON.

    .venv/bin/python bench/run.py [--quick] [--json FILE] [--only NAME ...]

``--quick`` sizes everything to finish within 10 minutes on a 2-core CPU. Benchmarks report;
they never fail a build: a benchmark that breaks is reported with its error and the others
still run. The JSON holds the headline keys, the raw figures behind each ratio, the machine
(CPU model, cores, torch version, device) and how long each benchmark took.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, machine  # noqa: E402

# key, goal text, test (None: reported, no goal)
GOALS: list[tuple[str, str, Any]] = [
    ("train_speedup_vs_reference", ">= 1.3", lambda v: v >= 1.3),
    ("chat_decode_vs_llamacpp_f16", ">= 1.0", lambda v: v >= 1.0),
    ("chat_decode_vs_llamacpp_q8_0", ">= 1.0", lambda v: v >= 1.0),
    ("chat_decode_ratio", ">= 0.97", lambda v: v >= 0.97),
    ("chat_ttft_overhead", "<= 0.05", lambda v: v <= 0.05),
    ("ui_heartbeat_p99_ms", "<= 16", lambda v: v <= 16),
    ("ui_heartbeat_max_ms", "<= 100", lambda v: v <= 100),
    ("startup_ratio_vs_bare_qt", "<= 2", lambda v: v <= 2),
    ("serve_ttft_ratio_c8", "<= 3", lambda v: v <= 3),
    ("serve_errors", "== 0", lambda v: v == 0),
    ("serve_ttft_p50_ms_c1", "-", None),
    ("serve_ttft_p50_ms_c8", "-", None),
    ("serve_tokens_per_s_c8", "-", None),
    ("monitor_sample_ms", "-", None),
    ("monitor_redraw_ms", "-", None),
    ("memory_estimate_error", "|x|<=0.15", lambda v: abs(v) <= 0.15),
    ("memory_estimate_error_long", "|x|<=0.15", lambda v: abs(v) <= 0.15),
]
ORDER = ("startup", "monitor", "chat", "serve", "train", "memory", "ui")


def _qt_bench(script: str, quick: bool) -> dict[str, Any]:
    """Qt benchmarks run in their own process: one QApplication, their own user folders."""
    with tempfile.TemporaryDirectory(prefix="llamahome-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [PYTHON, str(ROOT / "bench" / script), "--json-out", str(out)]
        if quick:
            cmd.append("--quick")
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1")
        proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=1800)
        for line in proc.stdout.splitlines():
            if line.startswith("  ") and line[2:3].isalpha():  # progress, not the JSON
                print(line, flush=True)
        if not out.is_file():
            raise RuntimeError(f"{script} exited with code {proc.returncode}:\n"
                               + "\n".join(proc.stdout.splitlines()[-20:]))
        return json.loads(out.read_text())


def run_one(name: str, quick: bool, results: dict[str, Any]) -> dict[str, Any]:
    if name == "startup":
        import bench_startup

        return bench_startup.run(quick)
    if name == "monitor":
        return _qt_bench("bench_monitor.py", quick)
    if name == "chat":
        import bench_chat

        return bench_chat.run(quick)
    if name == "serve":
        import bench_serve

        return bench_serve.run(quick)
    if name == "train":
        import bench_train

        return bench_train.run(quick)
    if name == "memory":
        import bench_memory

        return bench_memory.run(quick, results.get("_train"))
    if name == "ui":
        return _qt_bench("bench_ui.py", quick)
    raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(ORDER)}")


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table(figures: dict[str, Any]) -> str:
    lines = [f"{'key':<30}{'value':>12}  {'goal':<9}met", "-" * 56]
    for key, goal, test in GOALS:
        value = figures.get(key)
        met = "" if test is None or value is None else ("yes" if test(value) else "NO")
        lines.append(f"{key:<30}{_fmt(value):>12}  {goal:<9}{met}")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes: within 10 min on 2 cores")
    p.add_argument("--json", type=Path, help="write all figures to this file")
    p.add_argument("--only", nargs="+", choices=ORDER, help="run only these benchmarks")
    a = p.parse_args()
    started = time.time()
    figures: dict[str, Any] = {"mode": "quick" if a.quick else "full",
                               "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                               "machine": machine(), "seconds": {}, "errors": {}}
    results: dict[str, Any] = {}
    for name in a.only or ORDER:
        print(f"[{time.strftime('%H:%M:%S')}] {name}", flush=True)
        t0 = time.time()
        try:
            result = run_one(name, a.quick, results)
        except Exception as exc:  # a broken benchmark must not hide the others' figures
            traceback.print_exc()
            figures["errors"][name] = f"{type(exc).__name__}: {exc}"[:2000]
            result = {}
        figures["seconds"][name] = round(time.time() - t0, 1)
        results[f"_{name}"] = result
        figures.update({k: v for k, v in result.items() if not k.startswith("_")})
    for key, _goal, _test in GOALS:
        figures.setdefault(key, None)
    figures["seconds"]["total"] = round(time.time() - started, 1)
    figures["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    print()
    print(table(figures))
    print(f"\n{figures['machine']['cpu']}, {figures['machine']['cores']} cores, torch "
          f"{figures['machine']['torch']}, {figures['machine']['device']}; "
          f"{figures['seconds']['total']:.0f} s")
    if figures["errors"]:
        print("errors: " + "; ".join(f"{k}: {v.splitlines()[0]}" for k, v in figures["errors"].items()))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
