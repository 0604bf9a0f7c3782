"""The status-bar resource strip: values on every page, alerts in the status bar."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QSettings

from llamahome_gui.app import app_theme
from llamahome_gui.config.manager import ConfigManager
from llamahome_gui.core.monitor.loop import MonitorLoop
from llamahome_gui.core.monitor.sampler import ResourceSampler
from llamahome_gui.ui.context import AppContext
from llamahome_gui.ui.state import ConfigState
from llamahome_gui.ui.widgets.resource_strip import ResourceStripWidget, create_strip
from llamahome_gui.workers.monitor_worker import MonitorService
from tests.core.test_monitor_nvml import make_fake_nvml


@pytest.fixture
def ctx(qapp, config_dir, tmp_path):
    config = ConfigManager(config_dir)
    config.update("resource", {"monitor.check_interval": 0.05})
    made = AppContext(config, ConfigState(config, watch=False),
                      QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat), app_theme())
    yield made
    if made.monitor_if_started() is not None:
        made.monitor.stop()


def test_strip_shows_cpu_ram_and_why_no_gpu(qtbot, ctx) -> None:
    strip = create_strip(ctx)
    qtbot.addWidget(strip)
    strip.show()
    qtbot.waitUntil(lambda: strip.labels["cpu"].text() != "CPU –", timeout=10_000)
    cpu = strip.labels["cpu"].text()
    assert cpu.startswith("CPU") and cpu.endswith("%") and 0 <= float(cpu[3:-1]) <= 100
    ram = strip.labels["ram"].text()
    used, total = ram.removeprefix("RAM ").removesuffix(" GiB").split("/")
    assert 0 < float(used) <= float(total)
    qtbot.waitUntil(lambda: len(strip.sparks["cpu"].values) >= 3, timeout=10_000)
    if not ctx.monitor.latest.gpus:
        assert strip.labels["gpu"].text() == "GPU –"
        assert "NVML" in strip.labels["gpu"].toolTip()


def test_strip_gpu_memory(qtbot, ctx) -> None:
    service = MonitorService(MonitorLoop(0.05, sampler=ResourceSampler(make_fake_nvml())),
                             ctx.config)
    strip = ResourceStripWidget(service, ctx)
    qtbot.addWidget(strip)
    strip.show()
    service.start()
    try:
        qtbot.waitUntil(lambda: strip.labels["gpu"].text() == "GPU 12.0/80 GiB", timeout=10_000)
        assert strip.sparks["gpu"].isVisible()
    finally:
        service.stop()


def test_in_the_main_window_on_every_page_with_alerts_in_the_status_bar(qtbot, config_dir) -> None:
    from llamahome_gui.app import build_main_window

    config = ConfigManager(config_dir)
    config.update("resource", {"monitor.check_interval": 0.1, "monitor.memory_threshold": 0.0,
                               "monitor.cpu_threshold": 1.0})
    config.update("monitoring", {"alerts.notification_backend": "statusbar"})
    window = build_main_window(config_dir)
    qtbot.addWidget(window)
    window.persist_settings = False
    try:
        strip = window.statusBar().findChild(ResourceStripWidget, "monitor.strip")
        assert strip is not None
        window.navigate("chat")
        window.show()
        qtbot.waitUntil(lambda: strip.isVisible() and strip.labels["ram"].text() != "RAM –",
                        timeout=15_000)
        qtbot.waitUntil(lambda: "⚠ RAM at" in window.statusBar().currentMessage(),
                        timeout=15_000)
    finally:
        window.ctx.monitor.stop()
