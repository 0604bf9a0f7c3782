"""psutil + NVML readings of one instant: ``ResourceSampler.sample()``.

CPU percentages are measured between two calls (psutil's way), so the sampler primes its
counters when it is made; the first sample is meaningful once a fraction of a second has
passed (``MonitorLoop`` waits a short moment before its first sample for this reason).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from types import ModuleType

import psutil

from llamahome_gui.core.monitor.nvml import NvmlReader
from llamahome_gui.core.monitor.sample import Sample

# One reader per process: NVML is initialised once however many samplers exist.
_SHARED_READER: NvmlReader | None = None
_SHARED_LOCK = threading.Lock()


def shared_nvml_reader() -> NvmlReader:
    global _SHARED_READER
    with _SHARED_LOCK:
        if _SHARED_READER is None:
            _SHARED_READER = NvmlReader()
        return _SHARED_READER


class ResourceSampler:
    """Reads CPU, memory, the app's and watched processes' RSS, and every NVIDIA GPU."""

    def __init__(self, nvml: ModuleType | NvmlReader | None = None, *, gpus: bool = True,
                 devices: Iterable[int] = ()) -> None:
        if isinstance(nvml, NvmlReader):
            self.gpu_reader: NvmlReader | None = nvml
        elif nvml is not None:
            self.gpu_reader = NvmlReader(nvml)
        else:
            self.gpu_reader = shared_nvml_reader() if gpus else None
        self.devices = frozenset(devices)  # GPU indices to report; empty = every GPU
        self._me = psutil.Process(os.getpid())
        self._watched: dict[int, psutil.Process] = {}
        # every process whose CPU time counts as the app's own, kept between samples
        # because psutil measures a process's CPU share between two calls on one object
        self._cpu_procs: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()
        self.prime()

    def prime(self, gpus: bool = False) -> None:
        """Start the CPU counters; the next ``sample()`` measures from here. ``gpus``: also
        open NVML now (its one-off set-up then stays out of the first sample's cost)."""
        if gpus and self.gpu_reader is not None:
            self.gpu_reader.read()
        psutil.cpu_percent(percpu=True)
        self._app_cpu_percent()
        self.primed_at = time.monotonic()

    # ---------------------------------------------------------------- watched pids
    def watch(self, pid: int) -> None:
        """Report ``pid``'s RSS (with its children) in every sample until it exits."""
        with self._lock:
            try:
                self._watched[pid] = psutil.Process(pid)
            except psutil.NoSuchProcess:
                raise ValueError(f"no process with id {pid} to watch") from None

    def unwatch(self, pid: int) -> None:
        with self._lock:
            self._watched.pop(pid, None)

    @property
    def watched_pids(self) -> list[int]:
        with self._lock:
            return list(self._watched)

    def _watched_rss(self) -> dict[int, int]:
        result: dict[int, int] = {}
        with self._lock:
            items = list(self._watched.items())
        for pid, proc in items:
            try:
                if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
                    raise psutil.NoSuchProcess(pid)
                rss = proc.memory_info().rss
                for child in proc.children(recursive=True):
                    try:
                        rss += child.memory_info().rss
                    except psutil.Error:
                        pass
                result[pid] = rss
            except psutil.Error:
                self.unwatch(pid)  # it exited: stop watching
        return result

    def _app_cpu_percent(self) -> float:
        """Share of the machine (0..100) used since the last call by this process, the
        watched ones and all their children: the load the user asked for by training."""
        with self._lock:
            roots = [self._me, *self._watched.values()]
        seen: dict[int, psutil.Process] = {}
        for root in roots:
            try:
                family = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in family:
                seen.setdefault(proc.pid, self._cpu_procs.get(proc.pid) or proc)
        total = 0.0
        for proc in seen.values():
            try:
                total += proc.cpu_percent(None)  # 0 on the first call for a new process
            except psutil.Error:
                continue  # it exited between the listing and the reading
        self._cpu_procs = seen
        return min(100.0, total / (psutil.cpu_count() or 1))

    # ---------------------------------------------------------------- the sample
    def sample(self) -> Sample:
        now = time.time()
        per_core = psutil.cpu_percent(percpu=True)
        vm = psutil.virtual_memory()
        swap = psutil.swap_memory()
        try:
            mem = self._me.memory_info()
            app_rss = mem.rss
            app_private = max(0, mem.rss - getattr(mem, "shared", 0))
        except psutil.Error:
            app_rss = app_private = 0
        gpus, gpu_error = self.gpu_reader.read() if self.gpu_reader else ([], "GPU reading off")
        if self.devices:  # resource.gpu.cuda_devices: only the GPUs the runs may use
            gpus = [g for g in gpus if g.index in self.devices]
        watched = self._watched_rss()
        return Sample(
            time=now,
            cpu_percent=round(sum(per_core) / len(per_core), 2) if per_core else 0.0,
            cpu_per_core=list(per_core),
            ram_used_bytes=int(vm.total - vm.available),
            ram_total_bytes=int(vm.total),
            swap_used_bytes=int(swap.used),
            swap_total_bytes=int(swap.total),
            app_rss_bytes=int(app_rss),
            watched_rss_bytes=watched,
            gpus=gpus,
            gpu_error=gpu_error,
            app_cpu_percent=round(self._app_cpu_percent(), 2),
            app_private_bytes=int(app_private),
        )
