"""Resource monitor engine with real psutil: samples, watched processes, ring buffers,
alerts once per crossing, and the sampling thread."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading

import numpy as np
import psutil
import pytest

from llamahome_gui.config.manager import ConfigManager
from llamahome_gui.core.monitor.alerts import AlertTracker, Thresholds
from llamahome_gui.core.monitor.history import SeriesHistory, capacity_for
from llamahome_gui.core.monitor.loop import MonitorLoop
from llamahome_gui.core.monitor.sample import GpuSample, Sample, flatten
from llamahome_gui.core.monitor.sampler import ResourceSampler
from tests.core.test_monitor_nvml import make_fake_nvml

GIB = 2**30


def test_real_sample_has_sane_cpu_and_memory() -> None:
    sample = ResourceSampler(gpus=False).sample()
    assert 0.0 <= sample.cpu_percent <= 100.0
    assert len(sample.cpu_per_core) == psutil.cpu_count()
    assert 0 < sample.ram_used_bytes <= sample.ram_total_bytes == psutil.virtual_memory().total
    assert sample.app_rss_bytes > 10 * 2**20  # this Python process
    assert json.loads(json.dumps(sample.to_dict()))["ram_total_bytes"] == sample.ram_total_bytes


def test_watched_child_process_rss_and_exit() -> None:
    """The trainer child's memory shows up, and a finished process is dropped by itself."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; b = bytearray(80 * 2**20); b[::4096] = b'x' * "
         "len(b[::4096]); print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        sampler = ResourceSampler(gpus=False)
        sampler.watch(child.pid)
        sample = sampler.sample()
        assert sample.watched_rss_bytes[child.pid] > 80 * 2**20
        assert flatten(sample)["watched_rss_bytes"] > 80 * 2**20
    finally:
        child.stdin.close()
        child.wait(30)
    assert sampler.sample().watched_rss_bytes == {}
    assert sampler.watched_pids == []
    assert math.isnan(flatten(sampler.sample())["watched_rss_bytes"])
    with pytest.raises(ValueError, match="no process with id"):
        sampler.watch(child.pid)


def test_flatten_names_gpu_series_and_unknowns_are_nan() -> None:
    fake = make_fake_nvml(unsupported={0: {"nvmlDeviceGetFanSpeed"}})
    row = flatten(ResourceSampler(fake).sample())
    assert row["gpu0_mem_used_bytes"] == 12 * GIB and row["gpu0_power_w"] == 250.0
    assert math.isnan(row["gpu0_fan_percent"])
    assert [k for k in row if k.startswith("cpu") and k[3].isdigit()] == [
        f"cpu{i}_percent" for i in range(psutil.cpu_count())]


# ----------------------------------------------------------------------------- history

def test_history_keeps_an_hour_at_one_hertz() -> None:
    assert capacity_for(1.0) >= 3600 and capacity_for(0.5) >= 7200
    assert SeriesHistory().capacity >= 3600


def test_history_wraps_in_order_and_filters_by_time() -> None:
    h = SeriesHistory(capacity=5)
    for i in range(8):
        row = {"time": 100.0 + i, "cpu_percent": float(i)}
        if i >= 6:
            row["gpu0_temp_c"] = 50.0 + i  # a series that appears later
        h.append(row)
    t, y = h.get("cpu_percent")
    assert t.tolist() == [103, 104, 105, 106, 107] and y.tolist() == [3, 4, 5, 6, 7]
    t, y = h.get("cpu_percent", since=105.5)
    assert t.tolist() == [106, 107]
    _, temp = h.get("gpu0_temp_c")
    assert np.isnan(temp[:3]).all() and temp[3:].tolist() == [56, 57]
    assert h.latest("cpu_percent") == 7 and math.isnan(h.latest("nope"))
    assert len(h) == 5


# ------------------------------------------------------------------------------ alerts

def _sample(t: float, cpu: float = 10.0, ram_frac: float = 0.1, gpu_temp: float | None = None,
            gpu_mem_frac: float | None = None, app_cpu: float = 0.0) -> Sample:
    gpus = []
    if gpu_temp is not None or gpu_mem_frac is not None:
        gpus = [GpuSample(index=0, temperature_c=gpu_temp, memory_total_bytes=80 * GIB,
                          memory_used_bytes=None if gpu_mem_frac is None
                          else int(gpu_mem_frac * 80 * GIB))]
    return Sample(time=t, cpu_percent=cpu, cpu_per_core=[cpu], ram_used_bytes=int(ram_frac * 16 * GIB),
                  ram_total_bytes=16 * GIB, swap_used_bytes=0, swap_total_bytes=0,
                  app_rss_bytes=1, gpus=gpus, app_cpu_percent=app_cpu)


def test_memory_alert_once_per_crossing() -> None:
    tracker = AlertTracker(Thresholds(memory=0.9))
    times = [0, 1, 2, 3, 4, 5, 400, 401]
    events = [tracker.check(_sample(t, ram_frac=f))
              for t, f in zip(times, [0.5, 0.95, 0.97, 0.99, 0.89, 0.5, 0.96, 0.97], strict=True)]
    flat = [(i, a.key, a.active) for i, alerts in enumerate(events) for a in alerts]
    # at the limit-ish 0.89 it is not yet "back" (hysteresis), at 0.5 it is
    assert flat == [(1, "ram", True), (5, "ram", False), (6, "ram", True)]
    first = events[1][0]
    assert first.message == "RAM at 95%, above the 90% limit"
    assert first.value == pytest.approx(95.0) and first.threshold == pytest.approx(90.0)


def test_cpu_alert_needs_a_sustained_load() -> None:
    tracker = AlertTracker(Thresholds(cpu=0.8), cpu_sustain=3)
    raised = [bool(tracker.check(_sample(i, cpu=c))) for i, c in
              enumerate([95, 95, 10, 95, 95, 95, 99, 99])]
    assert raised == [False, False, False, False, False, True, False, False]


def test_an_alert_repeats_at_most_once_per_few_minutes() -> None:
    """A reading swinging around its limit: one alert (and its end) per repeat window."""
    tracker = AlertTracker(Thresholds(memory=0.9), repeat_after_s=300)
    swings = [0.95, 0.5] * 30  # a crossing every 2 s for two minutes
    said = [a for t, f in enumerate(swings) for a in tracker.check(_sample(t, ram_frac=f))]
    assert [(a.active, a.time) for a in said] == [(True, 0), (False, 1)]
    assert tracker.check(_sample(200, ram_frac=0.95)) == []
    assert tracker.active_keys == set()  # unannounced: the status bar does not claim it
    tracker.check(_sample(201, ram_frac=0.5))
    assert [a.active for a in tracker.check(_sample(301, ram_frac=0.95))] == [True]


def test_cpu_load_of_the_apps_own_trainer_is_not_an_alert() -> None:
    tracker = AlertTracker(Thresholds(cpu=0.8), cpu_sustain=1)
    assert tracker.check(_sample(0, cpu=98, app_cpu=90)) == []  # our trainer fills the CPU
    alerts = tracker.check(_sample(1, cpu=98, app_cpu=5))  # something else does
    assert [a.key for a in alerts] == ["cpu"]
    assert alerts[0].message == "CPU used by other programs at 93%, above the 80% limit"


def test_sampler_counts_a_busy_watched_process_as_the_apps_own_cpu() -> None:
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        sampler = ResourceSampler(gpus=False)
        sampler.watch(child.pid)
        sampler.sample()  # starts the per-process CPU counters
        proc = psutil.Process(child.pid)
        start = sum(proc.cpu_times()[:2])
        burnt = threading.Event()
        while not burnt.wait(0.05):  # poll until the child has used 0.5 s of CPU
            if sum(proc.cpu_times()[:2]) - start >= 0.5:
                burnt.set()
        sample = sampler.sample()
    finally:
        child.kill()
        child.wait(30)
    assert 1.0 <= sample.app_cpu_percent <= 100.0


def test_gpu_alerts_and_disabled_alerts() -> None:
    tracker = AlertTracker(Thresholds(memory=0.9, gpu_temp_c=85))
    alerts = tracker.check(_sample(0, gpu_temp=90, gpu_mem_frac=0.95))
    assert {a.key for a in alerts} == {"gpu0.temperature", "gpu0.memory"}
    assert "GPU 0 temperature at 90 °C" in next(a.message for a in alerts if "temp" in a.key)
    off = AlertTracker(Thresholds(memory=0.1, cpu=0.0, enabled=False))
    assert off.check(_sample(0, cpu=100, ram_frac=1.0)) == []


def test_thresholds_from_config(config_dir) -> None:
    config = ConfigManager(config_dir)
    config.update("resource", {"monitor.cpu_threshold": 0.5, "monitor.gpu_temp_threshold": 70.0})
    config.update("monitoring", {"alerts.enabled": False})
    limits = Thresholds.from_config(config.load("resource"), config.load("monitoring"))
    assert (limits.cpu, limits.memory, limits.gpu_temp_c, limits.enabled) == (0.5, 0.9, 70.0, False)


# -------------------------------------------------------------------------------- loop

def test_loop_samples_in_background_and_raises_alerts(config_dir, tmp_path) -> None:
    config = ConfigManager(config_dir)
    config.update("resource", {"monitor.check_interval": 0.05, "monitor.memory_threshold": 0.0})
    config.update("metrics", {"metrics.aggregation_interval": 0.1})
    loop = MonitorLoop.from_config(config, metrics_folder=tmp_path / "metrics")
    got_three, alerted = threading.Event(), threading.Event()
    samples = []

    def on_sample(s: Sample) -> None:
        samples.append(s)
        if len(samples) >= 3:
            got_three.set()

    loop.on_sample(on_sample)
    loop.on_alert(lambda a: alerted.set())
    loop.start()
    try:
        assert got_three.wait(20) and alerted.wait(20)
    finally:
        loop.stop()
    assert not loop.running
    assert [a.key for a in loop.alert_log].count("ram") == 1  # RAM stays above 0 %: once
    t, cpu = loop.history.get("cpu_percent")
    assert len(t) >= 3 and np.all(np.diff(t) > 0) and np.isfinite(cpu).all()
    files = list((tmp_path / "metrics").glob("resources-*.csv"))
    assert len(files) == 1 and len(files[0].read_text().splitlines()) >= 2
