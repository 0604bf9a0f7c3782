"""Resource monitor costs: one sample, and a redraw of the Monitor page with 1 h of history.

What:
- sample: ``ResourceSampler.sample()`` (psutil, plus NVML where a GPU is present), the work
  the sampler thread does every ``check_interval``; median over a few hundred calls;
- ring buffer: ``SeriesHistory.append`` of one flattened sample;
- redraw: ``MonitorPage.redraw()`` (every curve's ``setData`` from the ring buffers) plus
  the paint of the page (``repaint`` + event processing, offscreen), with the history filled
  with 3600 samples one second apart (the real sampler's values, re-stamped) and the page
  showing the 1 h range; the 1 min range is reported too.

Against: the monitor's own budget -- a sample every second must cost the sampler thread a
small fraction of it, and a redraw must fit in one frame (16 ms) so the graphs never stall
the window. Keys ``monitor_sample_ms`` and ``monitor_redraw_ms`` (medians; redraw + paint).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_monitor.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median, percentile  # noqa: E402


def _ms(values: list[float]) -> dict[str, float]:
    return {"median_ms": round(median(values) * 1e3, 3),
            "p90_ms": round(percentile(values, 90) * 1e3, 3), "n": len(values)}


def run(quick: bool = False) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from llamahome_gui.core.monitor.history import SeriesHistory
    from llamahome_gui.core.monitor.loop import MonitorLoop
    from llamahome_gui.core.monitor.sample import flatten
    from llamahome_gui.core.monitor.sampler import ResourceSampler

    n_samples, n_redraws = (200, 20) if quick else (600, 60)
    sampler = ResourceSampler()
    sampler.prime(gpus=True)
    sampler.watch(os.getpid())  # as during a run: the trainer's RSS is followed too
    sample_costs = []
    for _ in range(n_samples):
        t0 = time.perf_counter()
        sampler.sample()
        sample_costs.append(time.perf_counter() - t0)
    gpus, why = sampler.gpu_reader.read()

    history = SeriesHistory()
    append_costs = []
    now = time.time()
    rows = [flatten(sampler.sample()) for _ in range(30)]
    for i in range(3600):
        row = dict(rows[i % len(rows)], time=now - 3600 + i)
        t0 = time.perf_counter()
        history.append(row)
        append_costs.append(time.perf_counter() - t0)

    from PyQt6.QtWidgets import QApplication

    from llamahome_gui.ui.pages.monitor_page import MonitorPage
    from llamahome_gui.workers.monitor_worker import MonitorService

    app = QApplication.instance() or QApplication([])
    service = MonitorService(MonitorLoop(1.0, sampler=sampler, history=history))
    page = MonitorPage(service)
    page.resize(1280, 800)
    page.show()
    service.sampled.emit(sampler.sample())  # builds the per-core curves, shows the values
    app.processEvents()
    ranges: dict[int, dict[str, Any]] = {}
    for seconds in (3600, 60):
        page.range_s = seconds
        redraw, paint, both = [], [], []
        for _ in range(n_redraws):
            t0 = time.perf_counter()
            page.redraw()
            t1 = time.perf_counter()
            page.repaint()
            app.processEvents()
            t2 = time.perf_counter()
            redraw.append(t1 - t0)
            paint.append(t2 - t1)
            both.append(t2 - t0)
        ranges[seconds] = {"redraw": _ms(redraw), "paint": _ms(paint), "total": _ms(both)}
    curves = sum(len(g.curves) for g in page.graphs.values())
    page.close()
    return {
        "monitor_sample_ms": _ms(sample_costs)["median_ms"],
        "monitor_redraw_ms": ranges[3600]["total"]["median_ms"],
        "monitor_details": {
            "sample": _ms(sample_costs), "gpus": len(gpus), "gpu_note": why or "",
            "ring_append": _ms(append_costs), "history_samples": len(history),
            "curves": curves, "range_1h": ranges[3600], "range_1min": ranges[60],
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description="monitor: sample cost and 1 h redraw cost")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json-out", type=Path, help="also write the result here")
    a = p.parse_args()
    text = json.dumps(run(a.quick), indent=2)
    if a.json_out:
        a.json_out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
