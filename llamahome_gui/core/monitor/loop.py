"""The background sampling thread: sample -> ring buffers -> alerts -> metrics files -> listeners.

Listeners are plain callables run on the sampling thread; the Qt worker turns them into
signals. Sampling cost is tracked (``last_cost_s``) so a slow driver is visible.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llamahome_gui.core.monitor.alerts import Alert, AlertTracker, Thresholds
from llamahome_gui.core.monitor.history import SeriesHistory, capacity_for
from llamahome_gui.core.monitor.sample import Sample, flatten
from llamahome_gui.core.monitor.sampler import ResourceSampler
from llamahome_gui.core.monitor.store import MetricsRecorder

log = logging.getLogger(__name__)

# wait this long after priming CPU counters before the first sample, so it is meaningful
FIRST_SAMPLE_DELAY_S = 0.15


class MonitorLoop:
    """Samples every ``interval`` seconds on a daemon thread until ``stop()``."""

    def __init__(self, interval: float = 1.0, *, sampler: ResourceSampler | None = None,
                 history: SeriesHistory | None = None, thresholds: Thresholds | None = None,
                 recorder: MetricsRecorder | None = None) -> None:
        self.interval = interval
        self.sampler = sampler or ResourceSampler()
        self.history = history or SeriesHistory(capacity_for(interval))
        self.alerts = AlertTracker(thresholds)
        self.recorder = recorder
        self.alert_log: deque[Alert] = deque(maxlen=500)
        self.latest: Sample | None = None
        self.last_cost_s = 0.0
        self.mean_cost_s = 0.0  # moving average of the sample cost (the first includes setup)
        self._sample_listeners: list[Callable[[Sample], None]] = []
        self._alert_listeners: list[Callable[[Alert], None]] = []
        self._problem_listeners: list[Callable[[str], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._step_lock = threading.Lock()
        self._samples = 0

    @classmethod
    def from_config(cls, config: Any, metrics_folder: Path | None = None) -> MonitorLoop:
        """Built from a ConfigManager: ``resource.monitor.*``, ``resource.gpu.cuda_devices``
        (the GPUs shown), ``monitoring.alerts.*``,
        ``metrics.*`` (files only when ``collect_metrics`` is on)."""
        resource = config.load("resource")
        monitoring = config.load("monitoring")
        recorder = None
        if resource.monitor.collect_metrics:
            recorder = MetricsRecorder(config.load("metrics"), metrics_folder)
        return cls(resource.monitor.check_interval,
                   sampler=ResourceSampler(devices=resource.gpu.cuda_devices),
                   thresholds=Thresholds.from_config(resource, monitoring), recorder=recorder)

    # ---------------------------------------------------------------- listeners
    def on_sample(self, fn: Callable[[Sample], None]) -> None:
        self._sample_listeners.append(fn)

    def on_alert(self, fn: Callable[[Alert], None]) -> None:
        self._alert_listeners.append(fn)

    def on_problem(self, fn: Callable[[str], None]) -> None:
        """``fn(text)`` when the monitor cannot do something the config asks (write files)."""
        self._problem_listeners.append(fn)

    def _report(self, text: str) -> None:
        log.warning("%s", text)
        for fn in self._problem_listeners:
            fn(text)

    # ---------------------------------------------------------------- running
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="resource-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.recorder is not None:
            self.recorder.close()

    def _run(self) -> None:
        if self.recorder is not None and self.recorder.message:
            self._report(self.recorder.message)
        self.sampler.prime(gpus=True)
        if self._stop.wait(FIRST_SAMPLE_DELAY_S):
            return
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - one bad read must not end the monitor
                log.exception("resource sample failed")
            next_at += self.interval
            now = time.monotonic()
            if next_at < now:  # fell behind (suspend, slow driver): do not burst
                next_at = now + self.interval
            self._stop.wait(next_at - now)

    def step(self) -> Sample:
        """Take one sample and pass it through history, alerts, files and listeners."""
        with self._step_lock:
            started = time.perf_counter()
            sample = self.sampler.sample()
            self.last_cost_s = cost = time.perf_counter() - started
            self.mean_cost_s = cost if self._samples == 0 else 0.8 * self.mean_cost_s + 0.2 * cost
            self._samples += 1
            row = flatten(sample)
            self.history.append(row)
            self.latest = sample
            alerts = self.alerts.check(sample)
            self.alert_log.extend(alerts)
            if self.recorder is not None:
                try:
                    self.recorder.add(row)
                except OSError as exc:
                    self.recorder = None
                    self._report(f"metrics files stopped: cannot write in "
                                 f"{exc.filename or 'the metrics folder'}: {exc.strerror or exc}")
        for fn in self._sample_listeners:
            fn(sample)
        for alert in alerts:
            for fn in self._alert_listeners:
                fn(alert)
        return sample
