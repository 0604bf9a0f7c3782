"""Render a results JSON from ``bench/run.py`` as the Markdown figures table of the README.

    .venv/bin/python bench/report.py bench/results-quick.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import GOALS, _fmt  # noqa: E402

RAW = {
    "train_speedup_vs_reference": ("train_ours_tokens_per_s", "train_reference_tokens_per_s",
                                   "tokens/s (whole process)"),
    "chat_decode_ratio": ("chat_engine_decode_tokens_per_s", "chat_reference_decode_tokens_per_s",
                          "tokens/s"),
    "chat_ttft_overhead": ("chat_engine_ttft_ms", "chat_reference_ttft_ms", "ms"),
    "startup_ratio_vs_bare_qt": ("startup_app_ms", "startup_bare_qt_ms", "ms"),
    "memory_estimate_error": ("memory_predicted_bytes", "memory_measured_peak_rss_bytes",
                              "bytes"),
}


def markdown(figures: dict) -> str:
    m = figures.get("machine", {})
    lines = [f"Measured {figures.get('date_utc', '?')} UTC, `--{figures.get('mode', '?')}`"
             if figures.get("mode") == "quick" else
             f"Measured {figures.get('date_utc', '?')} UTC, full run",
             f"on {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB, "
             f"torch {m.get('torch', '?')}, transformers {m.get('transformers', '?')}, "
             f"device {m.get('device', '?')}; load average {m.get('load_avg_1m', '?')} at the "
             f"start, {m.get('load_avg_1m_end', '?')} at the end; "
             f"{figures.get('seconds', {}).get('total', '?')} s in all.", "",
             "| key | value | goal | met | ours / predicted | reference / measured |", "|---|---|---|---|---|---|"]
    for key, goal, test in GOALS:
        value = figures.get(key)
        met = "" if test is None or value is None else ("yes" if test(value) else "**no**")
        ours = ref = ""
        if key in RAW:
            a, b, unit = RAW[key]
            va, vb = figures.get(a), figures.get(b)
            if unit == "bytes" and va is not None and vb is not None:
                va, vb, unit = va / 2**30, vb / 2**30, "GiB"
            ours, ref = f"{_fmt(va)} {unit}", f"{_fmt(vb)} {unit}"
        if key == "ui_heartbeat_p99_ms":
            ours = f"p50 {_fmt(figures.get('ui_heartbeat_p50_ms'))} ms, p90 " \
                   f"{_fmt(figures.get('ui_heartbeat_p90_ms'))} ms"
        lines.append(f"| `{key}` | {_fmt(value)} | {goal} | {met} | {ours} | {ref} |")
    if figures.get("errors"):
        lines += ["", "Errors: " + "; ".join(f"{k}: {v.splitlines()[0]}"
                                            for k, v in figures["errors"].items())]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
