"""The always-visible resource strip in the status bar: CPU, RAM and GPU memory as a value
plus a two-minute sparkline, on every page. It is also where resource alerts reach the user
(status bar, and a desktop notification when ``monitoring.alerts.notification_backend`` is
``desktop``); nothing is modal. A click opens the Monitor page.
"""

from __future__ import annotations

import time

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QWidget

from llamahome_gui.core.monitor.alerts import Alert
from llamahome_gui.core.monitor.sample import Sample
from llamahome_gui.core.units import GIB
from llamahome_gui.ui.context import AppContext
from llamahome_gui.ui.widgets.resource_plot import COLOURS
from llamahome_gui.ui.widgets.sparkline_plot import SparklinePlotWidget
from llamahome_gui.workers.monitor_worker import MonitorService

SPARK_SECONDS = 120


def create_strip(ctx: AppContext) -> QWidget:
    return ResourceStripWidget(ctx.monitor, ctx)


class ResourceStripWidget(QWidget):
    def __init__(self, service: MonitorService, ctx: AppContext | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("monitor.strip")
        self.service, self.ctx = service, ctx
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("CPU, RAM and GPU memory (click for the Monitor page)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(4)
        self.labels: dict[str, QLabel] = {}
        self.sparks: dict[str, SparklinePlotWidget] = {}
        self._shown: set[Alert] = set()  # each alert reaches the user once
        for key, colour in (("cpu", COLOURS["cpu"]), ("ram", COLOURS["ram"]),
                            ("gpu", COLOURS["gpu_mem"])):
            label = QLabel(f"{key.upper()} –")
            label.setObjectName(f"monitor.strip.{key}")
            spark = SparklinePlotWidget(colour)
            self.labels[key], self.sparks[key] = label, spark
            layout.addWidget(label)
            layout.addWidget(spark)
            layout.addSpacing(6)
        service.sampled.connect(self._on_service_sampled)
        service.alert_raised.connect(self._on_service_alert_raised)
        service.alert_cleared.connect(self._on_service_alert_cleared)
        service.problem_reported.connect(self._on_service_problem_reported)
        if service.latest is not None:
            self._on_service_sampled(service.latest)
        # alerts raised while the window was still being built: say so once it runs
        QTimer.singleShot(0, self._replay_active_alerts)

    def _replay_active_alerts(self) -> None:
        active = self.service.loop.alerts.active_keys
        for alert in reversed(self.service.alert_log):
            if alert.active and alert.key in active:
                self._on_service_alert_raised(alert)
                return

    def _on_service_sampled(self, s: Sample) -> None:
        since = time.time() - SPARK_SECONDS
        history = self.service.history
        self.labels["cpu"].setText(f"CPU {s.cpu_percent:3.0f} %")
        self.sparks["cpu"].set_values(history.get("cpu_percent", since)[1], 100.0)
        self.labels["ram"].setText(f"RAM {s.ram_used_bytes / GIB:.1f}/{s.ram_total_bytes / GIB:.0f} GiB")
        self.sparks["ram"].set_values(history.get("ram_used_bytes", since)[1], s.ram_total_bytes)
        self.labels["ram"].setToolTip(f"RAM used by all programs {s.ram_percent:.0f} %; this "
                                      f"app {s.app_private_bytes / GIB:.2f} GiB private")
        gpu = next((g for g in s.gpus if g.memory_total_bytes), None)
        if gpu is None:
            self.labels["gpu"].setText("GPU –")
            self.labels["gpu"].setToolTip(s.gpu_error or "no GPU memory reading")
            self.sparks["gpu"].hide()
        else:
            used = gpu.memory_used_bytes or 0
            extra = f" (+{len(s.gpus) - 1})" if len(s.gpus) > 1 else ""
            self.labels["gpu"].setText(f"GPU{extra} {used / GIB:.1f}/"
                                       f"{gpu.memory_total_bytes / GIB:.0f} GiB")
            self.labels["gpu"].setToolTip(f"GPU {gpu.index} {gpu.name}: memory used; "
                                          f"{gpu.utilization_percent or 0:.0f} % busy")
            self.sparks["gpu"].show()
            self.sparks["gpu"].set_values(
                history.get(f"gpu{gpu.index}_mem_used_bytes", since)[1], gpu.memory_total_bytes)

    # ---------------------------------------------------------------- alerts
    def _on_service_alert_raised(self, alert: Alert) -> None:
        if self.ctx is None or alert in self._shown:
            return
        self._shown.add(alert)
        self.ctx.alert("Resource alert", alert.message, status=f"⚠ {alert.message}")

    def _on_service_alert_cleared(self, alert: Alert) -> None:
        if self.ctx is not None and self.ctx.alert_backend() in ("desktop", "statusbar"):
            self.ctx.show_status(f"✓ {alert.message}", 8000)

    def _on_service_problem_reported(self, text: str) -> None:
        if self.ctx is not None:
            self.ctx.show_status(f"Resource monitor: {text}", 15000)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self.ctx is not None and event.button() == Qt.MouseButton.LeftButton:
            self.ctx.navigate("monitor")
        super().mouseReleaseEvent(event)
