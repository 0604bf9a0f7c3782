"""Resource monitor costs: one sample (psutil + NVML), and redrawing 1 h of history.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_monitor.py

Figures, not assertions. The redraw fills the ring buffers with 3600 samples at 1 Hz (the
real sampler's values, re-stamped one second apart) and times ``MonitorPage.redraw`` plus the
paint of the page, for the 1 h range and the 1 min range.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def ms(values: list[float]) -> str:
    values = sorted(values)
    return (f"median {statistics.median(values) * 1e3:.2f} ms, "
            f"p90 {values[int(len(values) * 0.9)] * 1e3:.2f} ms (n={len(values)})")


def main() -> None:
    from llamahome_gui.core.monitor.history import SeriesHistory
    from llamahome_gui.core.monitor.loop import MonitorLoop
    from llamahome_gui.core.monitor.sample import flatten
    from llamahome_gui.core.monitor.sampler import ResourceSampler

    sampler = ResourceSampler()
    sampler.prime(gpus=True)
    costs, cpu_costs = [], []
    for _ in range(300):
        t0, c0 = time.perf_counter(), time.thread_time()
        sampler.sample()
        costs.append(time.perf_counter() - t0)
        cpu_costs.append(time.thread_time() - c0)
    gpus, why = sampler.gpu_reader.read()
    print(f"sample (psutil + NVML, {len(gpus)} GPUs{'; ' + why if why else ''}): {ms(costs)}; "
          f"CPU time {ms(cpu_costs)}")

    history = SeriesHistory()
    loop_costs = []
    now = time.time()
    rows = [flatten(sampler.sample()) for _ in range(50)]
    for i in range(3600):
        row = dict(rows[i % len(rows)], time=now - 3600 + i)
        t0 = time.perf_counter()
        history.append(row)
        loop_costs.append(time.perf_counter() - t0)
    print(f"ring-buffer append ({len(rows[0]) - 1} series): "
          f"median {statistics.median(loop_costs) * 1e6:.1f} µs")

    from PyQt6.QtWidgets import QApplication

    from llamahome_gui.ui.pages.monitor_page import MonitorPage
    from llamahome_gui.workers.monitor_worker import MonitorService

    app = QApplication.instance() or QApplication([])
    loop = MonitorLoop(1.0, sampler=sampler, history=history)
    service = MonitorService(loop)
    page = MonitorPage(service)
    page.resize(1600, 1000)
    page.show()
    service.sampled.emit(sampler.sample())  # builds per-core curves, shows values
    app.processEvents()
    for seconds in (3600, 60):
        page.range_s = seconds
        redraw, paint, cpu = [], [], []
        for _ in range(40):
            t0, c0 = time.perf_counter(), time.thread_time()
            page.redraw()
            t1 = time.perf_counter()
            cpu.append(time.thread_time() - c0)
            page.repaint()
            app.processEvents()
            t2 = time.perf_counter()
            redraw.append(t1 - t0)
            paint.append(t2 - t1)
        curves = sum(len(g.curves) for g in page.graphs.values())
        print(f"redraw {seconds} s window ({curves} curves, setData): {ms(redraw)}; "
              f"CPU time (load-independent) {ms(cpu)}")
        print(f"  + paint of the page: {ms(paint)}")


if __name__ == "__main__":
    main()
