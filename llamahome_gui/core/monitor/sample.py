"""One resource sample as plain dataclasses, plus its flat numeric form.

The flat form (``flatten``) names every series once; the ring buffers, the CSV columns and
the graphs all use the same names, so a column in a metrics file is the curve on screen.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class GpuProcess:
    pid: int
    name: str
    used_memory_bytes: int | None


@dataclass
class GpuSample:
    """One NVIDIA GPU. ``None`` = the driver does not report that field (see ``errors``)."""

    index: int
    name: str = ""
    uuid: str = ""
    utilization_percent: float | None = None
    memory_utilization_percent: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    fan_percent: float | None = None
    energy_j: float | None = None
    throttle_reasons: list[str] = field(default_factory=list)
    processes: list[GpuProcess] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class Sample:
    """Everything read at one instant; ``time`` is ``time.time()`` seconds."""

    time: float
    cpu_percent: float
    cpu_per_core: list[float]
    ram_used_bytes: int
    ram_total_bytes: int
    swap_used_bytes: int
    swap_total_bytes: int
    app_rss_bytes: int
    # watched process id -> RSS of it and its descendants (the trainer child process)
    watched_rss_bytes: dict[int, int] = field(default_factory=dict)
    gpus: list[GpuSample] = field(default_factory=list)
    gpu_error: str | None = None
    # share of the whole machine's CPU (0..100, like cpu_percent) used by this app's own
    # process tree and the watched ones (the trainer): expected load, not an alert
    app_cpu_percent: float = 0.0
    # this app's resident memory less its file-backed pages (mapped libraries and model
    # files, which the OS counts as available): the part that is in ``ram_used_bytes``
    app_private_bytes: int = 0

    @property
    def other_cpu_percent(self) -> float:
        """CPU load of everything that is not this app or its trainer."""
        return max(0.0, self.cpu_percent - self.app_cpu_percent)

    @property
    def ram_percent(self) -> float:
        return 100.0 * self.ram_used_bytes / self.ram_total_bytes if self.ram_total_bytes else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the ``--json`` output and a JSONL metrics line."""
        data = asdict(self)
        data["ram_percent"] = round(self.ram_percent, 2)
        data["watched_rss_bytes"] = {str(k): v for k, v in self.watched_rss_bytes.items()}
        return data


# series name suffix -> GpuSample attribute, in column order
GPU_SERIES: dict[str, str] = {
    "util_percent": "utilization_percent",
    "mem_util_percent": "memory_utilization_percent",
    "mem_used_bytes": "memory_used_bytes",
    "mem_total_bytes": "memory_total_bytes",
    "temp_c": "temperature_c",
    "power_w": "power_w",
    "power_limit_w": "power_limit_w",
    "sm_clock_mhz": "sm_clock_mhz",
    "mem_clock_mhz": "mem_clock_mhz",
    "fan_percent": "fan_percent",
    "energy_j": "energy_j",
}

# which metrics.metrics.enabled_metrics entry a series belongs to
CPU_SERIES = ("cpu_percent", "app_cpu_percent")
MEMORY_SERIES = ("ram_used_bytes", "ram_total_bytes", "ram_percent", "swap_used_bytes",
                 "swap_total_bytes", "app_rss_bytes", "app_private_bytes", "watched_rss_bytes")


def metric_group(name: str) -> str:
    """``cpu``, ``memory`` or ``gpu``: the ``enabled_metrics`` entry a series belongs to."""
    if name.startswith("gpu"):
        return "gpu"
    if name.startswith("cpu") or name in CPU_SERIES:
        return "cpu"
    return "memory"


def flatten(sample: Sample) -> dict[str, float]:
    """Series name -> value (NaN where unknown). ``time`` first, then a stable order."""
    row: dict[str, float] = {
        "time": sample.time,
        "cpu_percent": sample.cpu_percent,
        "ram_used_bytes": float(sample.ram_used_bytes),
        "ram_total_bytes": float(sample.ram_total_bytes),
        "ram_percent": sample.ram_percent,
        "swap_used_bytes": float(sample.swap_used_bytes),
        "swap_total_bytes": float(sample.swap_total_bytes),
        "app_rss_bytes": float(sample.app_rss_bytes),
        "app_cpu_percent": sample.app_cpu_percent,
        "app_private_bytes": float(sample.app_private_bytes),
        "watched_rss_bytes": (float(sum(sample.watched_rss_bytes.values()))
                              if sample.watched_rss_bytes else math.nan),
    }
    for i, value in enumerate(sample.cpu_per_core):
        row[f"cpu{i}_percent"] = value
    for gpu in sample.gpus:
        for suffix, attr in GPU_SERIES.items():
            value = getattr(gpu, attr)
            row[f"gpu{gpu.index}_{suffix}"] = math.nan if value is None else float(value)
    return row
