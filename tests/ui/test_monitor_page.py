"""The Monitor page in a real (offscreen) window: curves grow as samples arrive, range,
pause, export, GPU graphs (nvidia-ml-py stand-in) and the alert log."""

from __future__ import annotations

import csv

import pytest
from PyQt6.QtCore import Qt

from llamahome_gui.core.monitor.loop import MonitorLoop
from llamahome_gui.core.monitor.sampler import ResourceSampler
from llamahome_gui.ui.pages.monitor_page import MonitorPage, create_page
from llamahome_gui.workers.monitor_worker import MonitorService
from tests.core.test_monitor_nvml import make_fake_nvml
from tests.monitor_support import make_ctx, stop_monitor


@pytest.fixture
def ctx(qapp, config_dir, tmp_path):
    made = make_ctx(config_dir, tmp_path)
    yield made
    stop_monitor(made)

def points(page: MonitorPage, graph: str, series: str) -> int:
    x, _ = page.graphs[graph].curves[series].getData()
    return 0 if x is None else len(x)


def test_cpu_curve_gains_points_as_samples_arrive(qtbot, ctx) -> None:
    page = create_page(ctx)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: points(page, "cpu", "cpu_percent") >= 2, timeout=10_000)
    first = points(page, "cpu", "cpu_percent")
    qtbot.waitUntil(lambda: points(page, "cpu", "cpu_percent") >= first + 3, timeout=10_000)
    assert points(page, "ram", "ram_used_bytes") >= first + 3
    assert page.graphs["cpu"].value_label.text().endswith(" %")
    assert page.graphs["ram"].value_label.text().endswith(" GiB")
    assert "of " in page.graphs["ram"].detail_label.text()
    assert page.graphs["cpu"].lines["limit"].value() == pytest.approx(80.0)


def test_range_pause_and_export(qtbot, ctx, tmp_path) -> None:
    page = create_page(ctx)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: points(page, "cpu", "cpu_percent") >= 3, timeout=10_000)

    qtbot.mouseClick(page.findChild(type(page.pause_button), "monitor.range.3600"),
                     Qt.MouseButton.LeftButton)
    (x0, x1), _ = page.graphs["cpu"].plot.getPlotItem().viewRange()
    assert x1 - x0 == pytest.approx(3600, rel=0.01)
    assert int(ctx.settings.value("monitor/range_s")) == 3600  # remembered next time

    qtbot.mouseClick(page.pause_button, Qt.MouseButton.LeftButton)
    assert page.pause_button.text() == "Resume"
    frozen = points(page, "cpu", "cpu_percent")
    held = len(page.service.history)
    qtbot.waitUntil(lambda: len(page.service.history) >= held + 3, timeout=10_000)
    assert points(page, "cpu", "cpu_percent") == frozen  # sampling went on, graph did not
    qtbot.mouseClick(page.pause_button, Qt.MouseButton.LeftButton)
    assert points(page, "cpu", "cpu_percent") >= frozen + 3

    rows = page.export_csv(tmp_path / "export.csv")
    with open(tmp_path / "export.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert rows == len(table) >= frozen + 3
    assert {"time", "datetime", "cpu_percent", "ram_used_bytes"} <= set(table[0])
    assert "Exported" in page.alert_list.item(0).text()


def test_gpu_graphs_values_and_temperature_alert(qtbot, ctx) -> None:
    fake = make_fake_nvml()
    service = MonitorService(MonitorLoop(0.05, sampler=ResourceSampler(fake)), ctx.config)
    page = MonitorPage(service, ctx)
    qtbot.addWidget(page)
    page.show()
    service.start()
    try:
        qtbot.waitUntil(lambda: "gpu_power" in page.graphs
                        and points(page, "gpu_temp", "gpu0_temp_c") >= 2, timeout=10_000)
        assert page.gpu_note.isHidden()
        values = {k: page.graphs[k].value_label.text()
                  for k in ("gpu_util", "gpu_mem", "gpu_temp", "gpu_power")}
        assert values == {"gpu_util": "63 %", "gpu_mem": "12.0 GiB", "gpu_temp": "61 °C",
                          "gpu_power": "250 W"}
        assert "power cap" in page.graphs["gpu_util"].detail_label.text()
        assert page.graphs["gpu_temp"].lines["limit"].value() == pytest.approx(85.0)
        assert page.graphs["gpu_power"].lines["limit"].value() == pytest.approx(700.0)
        fake.gpus[0]["temp"] = 91
        qtbot.waitUntil(lambda: page.alert_list.count() > 0 and "GPU 0 temperature at 91 °C"
                        in page.alert_list.item(0).text(), timeout=10_000)
        assert page.graphs["gpu_temp"].value_label.text() == "91 °C"
    finally:
        service.stop()


def test_no_gpu_says_why_and_ram_alert_is_logged(qtbot, config_dir, tmp_path) -> None:
    ctx = make_ctx(config_dir, tmp_path, memory_threshold=0.0, cpu_threshold=1.0)
    page = create_page(ctx)
    qtbot.addWidget(page)
    page.show()
    try:
        qtbot.waitUntil(lambda: page.alert_list.count() > 0, timeout=10_000)
        assert page.alert_list.item(0).text().split("  ", 1)[1].startswith("⚠ RAM at")
        if not page.service.latest.gpus:
            assert page.gpu_note.isVisible() and "NVML" in page.gpu_note.text()
    finally:
        ctx.monitor.stop()
