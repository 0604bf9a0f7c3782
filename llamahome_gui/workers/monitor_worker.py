"""The app's one resource monitor as a Qt service.

API for pages (Train, Monitor, the status-bar strip)::

    mon = ctx.monitor                  # one MonitorService per AppContext, already sampling
    mon.sampled.connect(slot)          # slot(sample: core.monitor.Sample), GUI thread
    mon.alert_raised.connect(slot)     # slot(alert: core.monitor.Alert), a limit was passed
    mon.alert_cleared.connect(slot)    # slot(alert), the reading is back under the limit
    mon.problem_reported.connect(slot) # slot(text: str), e.g. metrics files cannot be written
    t, y = mon.history.get("cpu_percent", since=time.time() - 600)   # numpy arrays
    mon.history.latest("ram_used_bytes"); mon.latest  # newest value / newest Sample
    mon.watch_pid(trainer_pid)         # its RSS (with children) -> series "watched_rss_bytes"
    mon.unwatch_pid(trainer_pid)       # (a process that exits is dropped by itself)
    mon.alert_log                      # alerts so far, oldest first (deque of Alert)

Timestamps are ``time.time()`` seconds, so the history lines up with training events.
Series names are those of ``core.monitor.sample.flatten``: ``cpu_percent``, ``cpu0_percent``,
``ram_used_bytes``, ``ram_total_bytes``, ``ram_percent``, ``swap_used_bytes``,
``app_rss_bytes``, ``watched_rss_bytes``, ``gpu{i}_util_percent``, ``gpu{i}_mem_used_bytes``,
``gpu{i}_mem_total_bytes``, ``gpu{i}_temp_c``, ``gpu{i}_power_w``, ``gpu{i}_power_limit_w`` ...

Sampling runs on a plain background thread (core ``MonitorLoop``); its callbacks emit these
signals, which Qt queues to the GUI thread. Saving ``resource`` / ``monitoring`` settings
applies new thresholds and interval at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QCoreApplication, QObject, pyqtSignal

from llamahome_gui.core.monitor.alerts import Alert, Thresholds
from llamahome_gui.core.monitor.history import SeriesHistory
from llamahome_gui.core.monitor.loop import MonitorLoop
from llamahome_gui.core.monitor.sample import Sample


class MonitorService(QObject):
    sampled = pyqtSignal(object)           # Sample
    alert_raised = pyqtSignal(object)      # Alert (active)
    alert_cleared = pyqtSignal(object)     # Alert (back under the limit)
    problem_reported = pyqtSignal(str)

    def __init__(self, loop: MonitorLoop, config: Any = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loop = loop
        self.config = config
        loop.on_sample(self.sampled.emit)
        loop.on_alert(self._emit_alert)
        loop.on_problem(self.problem_reported.emit)

    @classmethod
    def from_config(cls, config: Any, metrics_folder: Path | None = None,
                    parent: QObject | None = None) -> MonitorService:
        return cls(MonitorLoop.from_config(config, metrics_folder), config, parent)

    def _emit_alert(self, alert: Alert) -> None:
        (self.alert_raised if alert.active else self.alert_cleared).emit(alert)

    # ---------------------------------------------------------------- data
    @property
    def history(self) -> SeriesHistory:
        return self.loop.history

    @property
    def latest(self) -> Sample | None:
        return self.loop.latest

    @property
    def alert_log(self) -> list[Alert]:
        return list(self.loop.alert_log)

    @property
    def thresholds(self) -> Thresholds:
        return self.loop.alerts.limits

    @property
    def interval(self) -> float:
        return self.loop.interval

    # ---------------------------------------------------------------- control
    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    @property
    def running(self) -> bool:
        return self.loop.running

    def watch_pid(self, pid: int) -> None:
        """Add ``pid`` (e.g. the trainer child) to the RSS readings; ValueError if gone."""
        self.loop.sampler.watch(pid)

    def unwatch_pid(self, pid: int) -> None:
        self.loop.sampler.unwatch(pid)

    def reload_config(self, component: str = "") -> None:
        """Re-read thresholds and the interval after the user saved their settings."""
        if self.config is None or component not in ("", "resource", "monitoring"):
            return
        try:
            resource = self.config.load("resource")
            monitoring = self.config.load("monitoring")
        except Exception as exc:  # noqa: BLE001 - keep the old limits, say why
            self.problem_reported.emit(f"monitor settings not applied: {exc}")
            return
        self.loop.alerts.set_limits(Thresholds.from_config(resource, monitoring))
        self.loop.interval = resource.monitor.check_interval
        self.loop.sampler.devices = frozenset(resource.gpu.cuda_devices)

    def _on_state_saved(self, component: str, *_: object) -> None:
        self.reload_config(component)


def start_monitor(config: Any, state: Any = None,
                  report: Callable[[str, int], None] | None = None) -> MonitorService:
    """A started MonitorService over ``config``; saving ``resource`` / ``monitoring`` in
    ``state`` (a ConfigState) applies the new settings. ``report(text, msecs)`` hears why
    default settings are used."""
    app = QCoreApplication.instance()
    try:
        service = MonitorService.from_config(config, parent=app)
    except Exception as exc:  # noqa: BLE001 - a bad setting must not cost the graphs
        service = MonitorService(MonitorLoop(), config, parent=app)
        if report is not None:
            report(f"Resource monitor uses default settings: {exc}", 15000)
    if state is not None:
        state.saved.connect(service._on_state_saved)
        state.reloaded.connect(service._on_state_saved)
    if app is not None:
        app.aboutToQuit.connect(service.stop)
    service.start()
    return service
