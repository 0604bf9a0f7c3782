"""The shared MonitorService: one per AppContext, signals on the GUI thread, watched pids,
alerts once per crossing, new limits applied when the user saves their settings."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PyQt6.QtCore import QThread

from llamahome_gui.core.monitor.sample import Sample
from tests.monitor_support import make_ctx, stop_monitor


@pytest.fixture
def ctx(qapp, config_dir, tmp_path):
    made = make_ctx(config_dir, tmp_path)
    yield made
    stop_monitor(made)

def test_one_service_per_context_and_samples_arrive_on_gui_thread(qtbot, qapp, ctx) -> None:
    service = ctx.monitor
    assert ctx.monitor is service and service.running
    threads = []
    service.sampled.connect(lambda s: threads.append(QThread.currentThread()))
    with qtbot.waitSignal(service.sampled, timeout=10_000) as blocker:
        pass
    sample = blocker.args[0]
    assert isinstance(sample, Sample) and sample.ram_total_bytes > 0
    qtbot.waitUntil(lambda: len(service.history) >= 3, timeout=10_000)
    t, cpu = service.history.get("cpu_percent")
    assert len(t) >= 3 and (t[1:] > t[:-1]).all()
    assert threads and all(th is qapp.thread() for th in threads)


def test_watch_trainer_pid(qtbot, ctx) -> None:
    service = ctx.monitor
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        service.watch_pid(child.pid)
        qtbot.waitUntil(lambda: service.latest is not None
                        and child.pid in service.latest.watched_rss_bytes, timeout=10_000)
        qtbot.waitUntil(lambda: service.history.latest("watched_rss_bytes") > 1e6, timeout=10_000)
    finally:
        child.stdin.close()
        child.wait(30)
    qtbot.waitUntil(lambda: child.pid not in service.latest.watched_rss_bytes, timeout=10_000)


def test_alert_once_per_crossing_and_saved_limits_apply(qtbot, qapp, config_dir, tmp_path) -> None:
    ctx = make_ctx(config_dir, tmp_path, memory_threshold=0.0)  # RAM is always above 0 %
    service = ctx.monitor
    try:
        raised, cleared = [], []
        service.alert_raised.connect(raised.append)
        service.alert_cleared.connect(cleared.append)
        qtbot.waitUntil(lambda: any(a.key == "ram" for a in service.alert_log), timeout=10_000)
        start = len(service.history)
        qtbot.waitUntil(lambda: len(service.history) >= start + 5, timeout=10_000)
        assert [a.key for a in service.alert_log].count("ram") == 1
        assert "RAM at" in next(a.message for a in service.alert_log if a.key == "ram")

        # the user raises the limit in the Configs page and saves: the alert clears
        ctx.state.set_value("resource.monitor.memory_threshold", 1.0)
        ctx.state.save("resource")
        assert service.thresholds.memory == 1.0
        qtbot.waitUntil(lambda: any(a.key == "ram" for a in cleared), timeout=10_000)
        assert not any(a.key == "ram" for a in raised[1:])
    finally:
        service.stop()
