"""Resource monitor (no Qt): psutil + NVML sampler, numpy ring buffers, threshold alerts,
metrics files and the background sampling loop.

``MonitorLoop.from_config(ConfigManager)`` is the engine; ``sample.flatten`` names the
series (``cpu_percent``, ``ram_used_bytes``, ``gpu0_util_percent`` ...) used everywhere.
"""

from llamahome_gui.core.monitor.alerts import Alert, AlertTracker, Thresholds
from llamahome_gui.core.monitor.history import SeriesHistory
from llamahome_gui.core.monitor.loop import MonitorLoop
from llamahome_gui.core.monitor.nvml import NvmlReader, decode_throttle
from llamahome_gui.core.monitor.sample import GpuProcess, GpuSample, Sample, flatten
from llamahome_gui.core.monitor.sampler import ResourceSampler
from llamahome_gui.core.monitor.store import MetricsRecorder, RowWriter

__all__ = [
    "Alert", "AlertTracker", "GpuProcess", "GpuSample", "MetricsRecorder", "MonitorLoop",
    "NvmlReader", "ResourceSampler", "RowWriter", "Sample", "SeriesHistory", "Thresholds",
    "decode_throttle", "flatten",
]
