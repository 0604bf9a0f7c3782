"""NVIDIA GPUs through nvidia-ml-py (``import pynvml``), read field by field.

NVML is initialised once per process (first read) and shut down at exit. Without a driver
or library the reader reports no GPUs and says why; a field one GPU does not support is
``None`` with the reason in ``GpuSample.errors`` while every other field still reads.
The module is passed in (``nvml=``) so tests can use a small fake with the same functions.
"""

from __future__ import annotations

import atexit
import threading
from types import ModuleType
from typing import Any

from llamahome_gui.core.monitor.sample import GpuProcess, GpuSample

# nvmlClocksEventReason* bit -> words a user understands
THROTTLE_REASONS: tuple[tuple[int, str], ...] = (
    (0x1, "idle"),
    (0x2, "application clock setting"),
    (0x4, "power cap"),
    (0x8, "hardware slowdown"),
    (0x10, "sync boost"),
    (0x20, "thermal (software)"),
    (0x40, "thermal (hardware)"),
    (0x80, "power brake"),
    (0x100, "display clock setting"),
)

# NVML error codes whose meaning we explain in words
_WHY = {
    9: "the NVIDIA driver is not loaded",
    12: "libnvidia-ml (the NVIDIA driver's library) not found, so no NVIDIA driver is installed",
    3: "not supported",
    4: "insufficient permissions",
    15: "the GPU has fallen off the bus",
}


def decode_throttle(mask: int) -> list[str]:
    """Why the clocks are held down, in words; [] when they are not."""
    return [words for bit, words in THROTTLE_REASONS if mask & bit]


def _why(nvml: Any, exc: Exception) -> str:
    code = getattr(exc, "value", None)
    if code in _WHY:
        return _WHY[code]
    return str(exc) or type(exc).__name__


class NvmlReader:
    """Reads every GPU NVML sees. Thread-safe; ``read()`` never raises."""

    def __init__(self, nvml: ModuleType | None = None) -> None:
        self._nvml = nvml
        self._lock = threading.Lock()
        self._ready = False
        self._tried = False
        self.error: str | None = None
        self._handles: list[Any] = []
        self._static: list[tuple[str, str]] = []  # (name, uuid) per GPU

    # ------------------------------------------------------------------ lifecycle
    def _init(self) -> None:
        self._tried = True
        if self._nvml is None:
            try:
                import pynvml
            except ImportError:
                self.error = ("nvidia-ml-py is not installed (pip install nvidia-ml-py): "
                              "GPU readings are off")
                return
            self._nvml = pynvml
        nvml = self._nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            self.error = f"NVML unavailable: {_why(nvml, exc)}"
            return
        self._ready = True
        atexit.register(self.close)
        try:
            count = nvml.nvmlDeviceGetCount()
            self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except nvml.NVMLError as exc:
            self.error = f"NVML could not list the GPUs: {_why(nvml, exc)}"
            self._handles = []
            return
        if not self._handles:
            self.error = "NVML found no NVIDIA GPU"
        self._static = [(self._field(h, "name", nvml.nvmlDeviceGetName, {}) or "",
                         self._field(h, "uuid", nvml.nvmlDeviceGetUUID, {}) or "")
                        for h in self._handles]

    def close(self) -> None:
        """Shut NVML down (once); later reads initialise it again."""
        with self._lock:
            if self._ready:
                try:
                    self._nvml.nvmlShutdown()
                except Exception:  # noqa: BLE001 - exiting anyway
                    pass
            self._ready = False
            self._tried = False
            self._handles = []

    # ------------------------------------------------------------------ reading
    def read(self) -> tuple[list[GpuSample], str | None]:
        """(one GpuSample per GPU, why there are none or None)."""
        with self._lock:
            if not self._tried:
                self._init()
            if not self._ready:
                return [], self.error
            gpus = [self._read_one(i, h) for i, h in enumerate(self._handles)]
            return gpus, (self.error if not gpus else None)

    def _field(self, handle: Any, name: str, fn: Any, errors: dict[str, str], *args: Any) -> Any:
        try:
            value = fn(handle, *args)
        except self._nvml.NVMLError as exc:
            errors[name] = _why(self._nvml, exc)
            return None
        return value.decode() if isinstance(value, bytes) else value

    def _read_one(self, index: int, handle: Any) -> GpuSample:
        nvml = self._nvml
        gpu = GpuSample(index=index)
        gpu.name, gpu.uuid = self._static[index]
        err = gpu.errors
        util = self._field(handle, "utilization", nvml.nvmlDeviceGetUtilizationRates, err)
        if util is not None:
            gpu.utilization_percent = float(util.gpu)
            gpu.memory_utilization_percent = float(util.memory)
        mem = self._field(handle, "memory", nvml.nvmlDeviceGetMemoryInfo, err)
        if mem is not None:
            gpu.memory_used_bytes, gpu.memory_total_bytes = int(mem.used), int(mem.total)
        temp = self._field(handle, "temperature", nvml.nvmlDeviceGetTemperature, err,
                           nvml.NVML_TEMPERATURE_GPU)
        gpu.temperature_c = None if temp is None else float(temp)
        power = self._field(handle, "power", nvml.nvmlDeviceGetPowerUsage, err)
        gpu.power_w = None if power is None else power / 1000.0
        limit = self._field(handle, "power_limit", nvml.nvmlDeviceGetEnforcedPowerLimit, err)
        gpu.power_limit_w = None if limit is None else limit / 1000.0
        sm = self._field(handle, "sm_clock", nvml.nvmlDeviceGetClockInfo, err, nvml.NVML_CLOCK_SM)
        gpu.sm_clock_mhz = None if sm is None else float(sm)
        mclk = self._field(handle, "mem_clock", nvml.nvmlDeviceGetClockInfo, err,
                           nvml.NVML_CLOCK_MEM)
        gpu.mem_clock_mhz = None if mclk is None else float(mclk)
        fan = self._field(handle, "fan", nvml.nvmlDeviceGetFanSpeed, err)
        gpu.fan_percent = None if fan is None else float(fan)
        energy = self._field(handle, "energy", nvml.nvmlDeviceGetTotalEnergyConsumption, err)
        gpu.energy_j = None if energy is None else energy / 1000.0
        reasons = self._field(handle, "throttle_reasons",
                              nvml.nvmlDeviceGetCurrentClocksThrottleReasons, err)
        gpu.throttle_reasons = [] if reasons is None else decode_throttle(int(reasons))
        gpu.processes = self._processes(handle, err)
        return gpu

    def _processes(self, handle: Any, err: dict[str, str]) -> list[GpuProcess]:
        import psutil

        nvml = self._nvml
        seen: dict[int, GpuProcess] = {}
        for fn in (nvml.nvmlDeviceGetComputeRunningProcesses,
                   nvml.nvmlDeviceGetGraphicsRunningProcesses):
            for proc in self._field(handle, "processes", fn, err) or []:
                if proc.pid in seen:
                    continue
                try:
                    name = psutil.Process(proc.pid).name()
                except (psutil.Error, OSError):
                    name = ""  # another container or user: NVML sees it, we cannot
                seen[proc.pid] = GpuProcess(proc.pid, name, proc.usedGpuMemory)
        return list(seen.values())
