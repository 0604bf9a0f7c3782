"""Threshold alerts: one event when a reading crosses its limit, one when it is back.

A reading hovering at the limit must not flood the user, so an alert re-arms only after the
value has dropped a margin (``hysteresis``) below the threshold. CPU load is spiky (opening
the app alone fills a core), so CPU must stay above its limit for ``cpu_sustain`` samples in
a row; memory and temperature alert at the first sample over.

CPU load that the app itself causes (its trainer, its chat) is what the user asked for, so the
CPU alert judges only the load of other programs. And however a reading swings, one metric
raises at most one alert per ``repeat_after_s`` (a few minutes): a second crossing inside that
window is neither announced nor its end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from llamahome_gui.core.monitor.sample import Sample

# one metric announces at most one alert per this many seconds
REPEAT_AFTER_S = 300.0


@dataclass(frozen=True)
class Thresholds:
    """Limits in user units: CPU / memory as fractions 0..1, GPU temperature in °C."""

    cpu: float = 0.8
    memory: float = 0.9
    gpu_temp_c: float = 85.0
    enabled: bool = True

    @classmethod
    def from_config(cls, resource: object, monitoring: object | None = None) -> Thresholds:
        """From ``resource.monitor.*`` and ``monitoring.alerts.enabled``."""
        mon = resource.monitor  # type: ignore[attr-defined]
        enabled = bool(mon.alert_on_threshold)
        if monitoring is not None:
            enabled = enabled and bool(monitoring.alerts.enabled)  # type: ignore[attr-defined]
        return cls(cpu=mon.cpu_threshold, memory=mon.memory_threshold,
                   gpu_temp_c=mon.gpu_temp_threshold, enabled=enabled)


@dataclass(frozen=True)
class Alert:
    """``active`` True: the limit was just passed; False: the reading is back under it."""

    key: str          # stable id of the reading, e.g. "cpu", "ram", "gpu0.memory"
    what: str         # for people: "CPU", "RAM", "GPU 0 memory"
    value: float      # in ``unit``
    threshold: float  # in ``unit``
    unit: str
    time: float
    active: bool = True

    @property
    def message(self) -> str:
        if self.active:
            return (f"{self.what} at {self.value:.0f}{self.unit}, above the "
                    f"{self.threshold:.0f}{self.unit} limit")
        return f"{self.what} back to {self.value:.0f}{self.unit} (limit {self.threshold:.0f}{self.unit})"


def readings(sample: Sample, limits: Thresholds) -> Iterator[tuple[str, str, float, float, str]]:
    """(key, what, value, threshold, unit) for every watched reading in ``sample``."""
    yield "cpu", "CPU used by other programs", sample.other_cpu_percent, limits.cpu * 100, "%"
    yield "ram", "RAM", sample.ram_percent, limits.memory * 100, "%"
    for gpu in sample.gpus:
        if gpu.memory_used_bytes is not None and gpu.memory_total_bytes:
            yield (f"gpu{gpu.index}.memory", f"GPU {gpu.index} memory",
                   100.0 * gpu.memory_used_bytes / gpu.memory_total_bytes, limits.memory * 100, "%")
        if gpu.temperature_c is not None:
            yield (f"gpu{gpu.index}.temperature", f"GPU {gpu.index} temperature",
                   gpu.temperature_c, limits.gpu_temp_c, " °C")


class AlertTracker:
    """Feeds on samples; returns the alerts that the newest sample starts or ends."""

    def __init__(self, limits: Thresholds | None = None, hysteresis: float = 0.05,
                 cpu_sustain: int = 3, repeat_after_s: float = REPEAT_AFTER_S) -> None:
        self.limits = limits or Thresholds()
        self.hysteresis = hysteresis  # share of the threshold the value must drop to re-arm
        self.cpu_sustain = max(1, cpu_sustain)
        self.repeat_after_s = repeat_after_s
        self._above: set[str] = set()
        self._quiet: set[str] = set()  # above the limit, but inside the repeat window: unsaid
        self._streak: dict[str, int] = {}
        self._last_raised: dict[str, float] = {}

    def set_limits(self, limits: Thresholds) -> None:
        self.limits = limits
        if not limits.enabled:
            self._above.clear()
            self._quiet.clear()

    @property
    def active_keys(self) -> set[str]:
        """Readings above their limit whose alert the user was told about."""
        return self._above - self._quiet

    def check(self, sample: Sample) -> list[Alert]:
        if not self.limits.enabled:
            return []
        alerts: list[Alert] = []
        for key, what, value, limit, unit in readings(sample, self.limits):
            self._streak[key] = self._streak.get(key, 0) + 1 if value > limit else 0
            needed = self.cpu_sustain if key == "cpu" else 1
            if key not in self._above and self._streak[key] >= needed:
                self._above.add(key)
                last = self._last_raised.get(key)
                if last is not None and sample.time - last < self.repeat_after_s:
                    self._quiet.add(key)
                    continue
                self._last_raised[key] = sample.time
                alerts.append(Alert(key, what, value, limit, unit, sample.time, True))
            elif key in self._above and value < limit * (1 - self.hysteresis):
                self._above.discard(key)
                if key in self._quiet:
                    self._quiet.discard(key)
                    continue
                alerts.append(Alert(key, what, value, limit, unit, sample.time, False))
        return alerts
