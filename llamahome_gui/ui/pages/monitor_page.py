"""The Monitor page: rolling CPU, RAM and per-GPU graphs with the current values shown large.

Data comes from the app's one ``MonitorService`` (``ctx.monitor``); this page only draws.
Graphs redraw on each sample while the page is visible and not paused; the range selector
picks the window (1 min / 10 min / 1 h) read from the ring buffers. Alerts and monitor
problems go to the log list at the bottom; nothing here is modal except the export file
chooser the user asked for.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from PyQt6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.core.monitor.alerts import Alert
from llamahome_gui.core.monitor.sample import Sample
from llamahome_gui.core.monitor.store import RowWriter
from llamahome_gui.core.units import GIB, fmt_bytes, fmt_gib
from llamahome_gui.ui.context import AppContext
from llamahome_gui.ui.widgets.resource_plot import COLOURS, ResourcePlotWidget
from llamahome_gui.workers.monitor_worker import MonitorService

RANGES: tuple[tuple[str, int], ...] = (("1 min", 60), ("10 min", 600), ("1 h", 3600))
HEADROOM = 1.12  # y axis above a limit line, so its label stays readable
GPU_COLOURS = ("#22c55e", "#3b82f6", "#eab308", "#a855f7", "#f97316", "#14b8a6", "#ec4899",
               "#64748b")


RANGE_SETTING = "monitor/range_s"


def _saved_range(ctx: AppContext | None) -> int:
    """The range the user picked last time (QSettings), else 1 min."""
    if ctx is None:
        return 60
    try:
        value = int(ctx.settings.value(RANGE_SETTING, 60))
    except (TypeError, ValueError):
        return 60
    return value if value in dict(RANGES).values() else 60


def create_page(ctx: AppContext) -> QWidget:
    return MonitorPage(ctx.monitor, ctx)


class MonitorPage(QWidget):
    def __init__(self, service: MonitorService, ctx: AppContext | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page.monitor")
        self.service, self.ctx = service, ctx
        self.range_s = _saved_range(ctx)
        self.paused = False
        self.graphs: dict[str, ResourcePlotWidget] = {}
        self._gpu_count = 0
        self._cores_drawn = False
        self._alert_count = 0
        self._energy_start: dict[int, float] = {}

        bar = QHBoxLayout()
        title = QLabel("<b>Resources</b>")
        bar.addWidget(title)
        bar.addSpacing(16)
        bar.addWidget(QLabel("Show the last"))
        self.range_group = QButtonGroup(self)
        for text, seconds in RANGES:
            button = QPushButton(text)
            button.setObjectName(f"monitor.range.{seconds}")
            button.setCheckable(True)
            button.setStyleSheet("QPushButton:checked { background: palette(highlight); "
                                 "color: palette(highlighted-text); }")
            button.setChecked(seconds == self.range_s)
            self.range_group.addButton(button, seconds)
            bar.addWidget(button)
        self.range_group.idClicked.connect(self._on_range_group_clicked)
        bar.addStretch(1)
        self.cost_label = QLabel("")
        self.cost_label.setToolTip("Sampling interval and the time one sample takes")
        bar.addWidget(self.cost_label)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("monitor.pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Freeze the graphs (sampling goes on)")
        self.pause_button.toggled.connect(self._on_pause_button_toggled)
        bar.addWidget(self.pause_button)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setObjectName("monitor.export")
        self.export_button.setToolTip("Save every sample held in memory (up to 2 h) as CSV")
        self.export_button.clicked.connect(self._on_export_button_clicked)
        bar.addWidget(self.export_button)

        self.gpu_note = QLabel("")
        self.gpu_note.setObjectName("monitor.gpu_note")
        self.gpu_note.setWordWrap(True)
        self.gpu_note.hide()

        self.grid = QGridLayout()
        self.grid.setSpacing(10)

        self.alert_list = QListWidget()
        self.alert_list.setObjectName("monitor.alerts")
        self.alert_list.setMaximumHeight(84)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.gpu_note)
        layout.addLayout(self.grid, 1)
        self.alerts_label = QLabel("Alerts: none so far")
        layout.addWidget(self.alerts_label)
        layout.addWidget(self.alert_list)

        self._build_host_graphs()
        for alert in service.alert_log:
            self._log_alert(alert)
        service.sampled.connect(self._on_service_sampled)
        service.alert_raised.connect(self._on_service_alert)
        service.alert_cleared.connect(self._on_service_alert)
        service.problem_reported.connect(self._on_service_problem_reported)
        if ctx is not None:
            ctx.theme.changed.connect(self._on_theme_changed)
        if service.latest is not None:
            self._on_service_sampled(service.latest)

    # ---------------------------------------------------------------- graphs
    def _place(self, graph: ResourcePlotWidget) -> None:
        self.graphs[graph.key] = graph
        columns = 2 if self._gpu_count else 1
        index = len(self.graphs) - 1
        self.grid.addWidget(graph, index // columns, index % columns)

    def _build_host_graphs(self) -> None:
        cpu = ResourcePlotWidget("cpu", "CPU use", "%", y_range=(0, 100))
        cpu.add_curve("cpu_percent", COLOURS["cpu"], label="all cores", fill=True).setZValue(10)
        cpu.add_curve("app_cpu_percent", COLOURS["app"], label="this app + trainer", width=1)
        self._place(cpu)
        ram = ResourcePlotWidget("ram", "Memory", "GiB", y_range=None)
        ram.add_curve("ram_used_bytes", COLOURS["ram"], label="RAM used", scale=GIB, fill=True)
        ram.add_curve("watched_rss_bytes", COLOURS["watched"], label="trainer", scale=GIB)
        ram.add_curve("app_private_bytes", COLOURS["app"], label="this app (private)", scale=GIB,
                      width=1)
        self._place(ram)

    def _build_core_curves(self, count: int) -> None:
        """One faint curve per core under the total, made once with the first sample."""
        self._cores_drawn = True
        for i in range(count):
            self.graphs["cpu"].add_curve(f"cpu{i}_percent", COLOURS["cpu"], width=1, alpha=70)

    def _build_gpu_graphs(self, count: int) -> None:
        """Made once, when the first sample shows GPUs: one graph per reading, a curve per GPU."""
        self._gpu_count = count
        for graph in self.graphs.values():
            self.grid.removeWidget(graph)
        graphs, self.graphs = list(self.graphs.values()), {}
        for graph in graphs:
            self._place(graph)
        specs = (("gpu_util", "GPU use", "%", "util_percent", 1.0, (0, 100)),
                 ("gpu_mem", "GPU memory", "GiB", "mem_used_bytes", GIB, None),
                 ("gpu_temp", "GPU temperature", "°C", "temp_c", 1.0, None),
                 ("gpu_power", "GPU power", "W", "power_w", 1.0, None))
        for key, title, unit, suffix, scale, y_range in specs:
            graph = ResourcePlotWidget(key, title, unit, y_range=y_range)
            for i in range(count):
                graph.add_curve(f"gpu{i}_{suffix}", GPU_COLOURS[i % len(GPU_COLOURS)],
                                label=f"GPU {i}" if count > 1 else "", scale=scale,
                                fill=count == 1)
            self._place(graph)

    def redraw(self) -> None:
        """Push the ring buffers into the curves for the chosen range."""
        now = time.time()
        since = now - self.range_s
        history = self.service.history
        for graph in self.graphs.values():
            graph.update_from(history, since, now)

    # ---------------------------------------------------------------- values
    def _show_values(self, s: Sample) -> None:
        limits = self.service.thresholds
        busiest = max(s.cpu_per_core, default=0.0)
        self.graphs["cpu"].set_value(f"{s.cpu_percent:.0f} %",
                                     f"{len(s.cpu_per_core)} cores, busiest {busiest:.0f} %")
        self.graphs["cpu"].set_line("limit", limits.cpu * 100, f"limit {limits.cpu * 100:.0f} %")
        watched = sum(s.watched_rss_bytes.values())
        # used = total - available; file-backed pages count as available, so the app is
        # shown by its private memory (the part inside "used"), its RSS in the tooltip
        detail = (f"used of {fmt_bytes(s.ram_total_bytes)} ({s.ram_percent:.0f} %)\n"
                  f"this app {fmt_bytes(s.app_private_bytes)} private")
        if s.watched_rss_bytes:
            detail += f"\ntrainer {fmt_bytes(watched)}"
        if s.swap_total_bytes:
            detail += f"\nswap {fmt_bytes(s.swap_used_bytes)}"
        ram = self.graphs["ram"]
        ram.set_value(fmt_gib(s.ram_used_bytes), detail)
        ram.setToolTip(f"Used = total − available (all programs). This app: "
                       f"{fmt_bytes(s.app_private_bytes)} private, {fmt_bytes(s.app_rss_bytes)} resident "
                       "counting mapped libraries and model files; trainer: resident, with its "
                       "children.")
        ram.set_line("total", s.ram_total_bytes / GIB, f"total {fmt_bytes(s.ram_total_bytes)}",
                     colour="#94a3b8", position=0.55)
        ram.set_line("limit", limits.memory * s.ram_total_bytes / GIB,
                     f"limit {limits.memory * 100:.0f} %")
        ram.set_y_max(s.ram_total_bytes / GIB * HEADROOM)
        if s.gpus:
            self._show_gpu_values(s)

    def _show_gpu_values(self, s: Sample) -> None:
        limits = self.service.thresholds
        gpus = s.gpus

        def each(fmt: str, values: list[float | None]) -> str:
            return "\n".join(f"GPU {g.index} " + ("–" if v is None else fmt.format(v))
                              for g, v in zip(gpus, values, strict=True)) if len(gpus) > 1 else ""

        def big(fmt: str, values: list[float | None]) -> str:
            known = [v for v in values if v is not None]
            return fmt.format(max(known)) if known else "n/a"

        g0 = gpus[0]
        util = [g.utilization_percent for g in gpus]
        throttle = ", ".join(g0.throttle_reasons) if len(gpus) == 1 else ""
        detail = each("{:.0f} %", util) or (
            f"{g0.name}\nSM clock {g0.sm_clock_mhz or 0:.0f} MHz"
            + (f"\nslowed: {throttle}" if throttle else ""))
        self.graphs["gpu_util"].set_value(big("{:.0f} %", util), detail)

        used = [None if g.memory_used_bytes is None else g.memory_used_bytes / GIB for g in gpus]
        totals = {g.memory_total_bytes for g in gpus}
        mem = self.graphs["gpu_mem"]
        top = max((t or 0) for t in totals) / GIB
        detail = each("{:.1f} GiB", used) or f"of {top:.1f} GiB"
        procs = sorted((p for g in gpus for p in g.processes if p.used_memory_bytes),
                       key=lambda p: -(p.used_memory_bytes or 0))
        if procs:
            detail += "\n" + "\n".join(f"{p.name or f'pid {p.pid}'} {fmt_bytes(p.used_memory_bytes or 0)}"
                                         for p in procs[:3])
        mem.set_value(big("{:.1f} GiB", used), detail)
        mem.set_y_max(top * HEADROOM)
        if len(totals) == 1 and top:
            mem.set_line("limit", limits.memory * top, f"limit {limits.memory * 100:.0f} %")

        temp = [g.temperature_c for g in gpus]
        detail = each("{:.0f} °C", temp) or (f"fan {g0.fan_percent:.0f} %"
                                             if g0.fan_percent is not None else "")
        self.graphs["gpu_temp"].set_value(big("{:.0f} °C", temp), detail)
        self.graphs["gpu_temp"].set_line("limit", limits.gpu_temp_c,
                                         f"limit {limits.gpu_temp_c:.0f} °C")
        hottest = max((t for t in temp if t is not None), default=0.0)
        self.graphs["gpu_temp"].set_y_max(max(100.0, limits.gpu_temp_c, hottest) * HEADROOM)

        power = [g.power_w for g in gpus]
        for g in gpus:
            if g.energy_j is not None:
                self._energy_start.setdefault(g.index, g.energy_j)
        used_wh = sum((g.energy_j or 0) - self._energy_start.get(g.index, g.energy_j or 0)
                      for g in gpus) / 3600
        detail = each("{:.0f} W", power) or (f"limit {g0.power_limit_w:.0f} W"
                                             if g0.power_limit_w else "")
        if any(g.energy_j is not None for g in gpus):
            detail += f"\n{used_wh:.1f} Wh since opened"
        pw = self.graphs["gpu_power"]
        pw.set_value(big("{:.0f} W", power), detail)
        limit_w = max((g.power_limit_w or 0.0) for g in gpus)
        if limit_w:
            pw.set_y_max(limit_w * HEADROOM)
        if len(gpus) == 1 and g0.power_limit_w:
            pw.set_line("limit", g0.power_limit_w, f"power limit {g0.power_limit_w:.0f} W")

    # ---------------------------------------------------------------- slots
    def _on_service_sampled(self, sample: Sample) -> None:
        if not self._cores_drawn:
            self._build_core_curves(len(sample.cpu_per_core))
        if sample.gpus and not self._gpu_count:
            self._build_gpu_graphs(len(sample.gpus))
        if not sample.gpus and sample.gpu_error:
            self.gpu_note.setText(f"No GPU graphs: {sample.gpu_error}.")
            self.gpu_note.show()
        else:
            self.gpu_note.hide()
        self._show_values(sample)
        self.cost_label.setText(f"every {self.service.interval:g} s · "
                                f"{self.service.loop.mean_cost_s * 1000:.1f} ms per sample")
        if not self.paused and self.isVisible():
            self.redraw()

    def _on_service_alert(self, alert: Alert) -> None:
        self._log_alert(alert)

    def _on_service_problem_reported(self, text: str) -> None:
        self._log(f"✗ {text}")

    def _on_theme_changed(self, _dark: bool) -> None:
        for graph in self.graphs.values():
            graph.apply_palette()

    def _on_range_group_clicked(self, seconds: int) -> None:
        self.range_s = seconds
        if self.ctx is not None:
            self.ctx.settings.setValue(RANGE_SETTING, seconds)
        self.redraw()

    def _on_pause_button_toggled(self, paused: bool) -> None:
        self.paused = paused
        self.pause_button.setText("Resume" if paused else "Pause")
        if not paused:
            self.redraw()

    def _on_export_button_clicked(self) -> None:
        default = Path.home() / time.strftime("resources-%Y%m%d-%H%M%S.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export samples as CSV", str(default),
                                              "CSV files (*.csv)")
        if path:
            self.export_csv(Path(path))

    # ---------------------------------------------------------------- helpers
    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.redraw()

    def _log_alert(self, alert: Alert) -> None:
        self._log(("⚠ " if alert.active else "✓ ") + alert.message, alert.time)

    def _log(self, text: str, when: float | None = None) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(when or time.time()))
        self.alert_list.insertItem(0, f"{stamp}  {text}")
        self._alert_count += 1
        self.alerts_label.setText(f"Alerts and messages: {self._alert_count}")
        while self.alert_list.count() > 500:
            self.alert_list.takeItem(self.alert_list.count() - 1)

    def export_csv(self, path: Path) -> int:
        """Write every sample in memory to ``path`` (header + one row each); returns rows."""
        history = self.service.history
        names = history.names
        t, _ = history.get(names[0]) if names else ([], None)
        columns = {n: history.get(n)[1] for n in names}
        try:
            path.unlink(missing_ok=True)
            writer = RowWriter(path, "csv")
            for i, stamp in enumerate(t):
                if not math.isnan(stamp):
                    writer.write({"time": float(stamp), **{n: float(v[i]) for n, v in columns.items()}})
            writer.close()
        except OSError as exc:
            self._log(f"✗ export failed: cannot write {path}: {exc.strerror or exc}")
            return 0
        message = f"Exported {writer.rows} samples to {path}"
        self._log(message)
        if self.ctx is not None:
            self.ctx.show_status(message, 8000)
        return writer.rows
