"""The GPU reader against a small stand-in for nvidia-ml-py (no NVIDIA driver on the test
machine). The stand-in implements exactly the ``pynvml`` functions the reader calls and
raises nvidia-ml-py's own ``NVMLError`` classes, so error handling is the real one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pynvml
import pytest

from llamahome_gui.core.monitor.nvml import NvmlReader, decode_throttle
from llamahome_gui.core.monitor.sampler import ResourceSampler

REPO = Path(__file__).resolve().parents[2]
GIB = 2**30


def make_fake_nvml(gpus: list[dict] | None = None, init_error: int | None = None,
                   unsupported: dict[int, set[str]] | None = None) -> types.ModuleType:
    """A module with the nvidia-ml-py functions the reader uses.

    ``gpus``: per GPU a dict of raw NVML values (mW, mJ, bytes ...), mutable during a test;
    ``init_error``: NVML error code nvmlInit raises; ``unsupported``: GPU index -> names of
    functions that raise NOT_SUPPORTED for that GPU (e.g. a fanless data-centre card).
    """
    fake = types.ModuleType("pynvml")
    fake.NVMLError = pynvml.NVMLError
    fake.NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU
    fake.NVML_CLOCK_SM = pynvml.NVML_CLOCK_SM
    fake.NVML_CLOCK_MEM = pynvml.NVML_CLOCK_MEM
    fake.calls = {"init": 0, "shutdown": 0}
    fake.echo = False  # print on shutdown (the at-exit test reads it)
    fake.gpus = gpus if gpus is not None else [dict(
        name=b"NVIDIA Test 80GB", uuid="GPU-0000", util=63, mem_util=41, used=12 * GIB,
        total=80 * GIB, temp=61, power=250_000, limit=700_000, sm=1410, mclk=2619, fan=35,
        energy=3_600_000, throttle=0x4 | 0x40, compute=[(os.getpid(), 3 * GIB), (999_999_999, GIB)],
        graphics=[])]
    unsupported = unsupported or {}

    def nvmlInit() -> None:
        fake.calls["init"] += 1
        if init_error is not None:
            raise pynvml.NVMLError(init_error)

    def nvmlShutdown() -> None:
        fake.calls["shutdown"] += 1
        if fake.echo:
            print("fake nvmlShutdown", flush=True)

    def getter(fn_name: str, build):
        def fn(handle, *args):
            if fn_name in unsupported.get(handle, set()):
                raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
            return build(fake.gpus[handle], *args)
        fn.__name__ = fn_name
        setattr(fake, fn_name, fn)

    fake.nvmlInit, fake.nvmlShutdown = nvmlInit, nvmlShutdown
    fake.nvmlDeviceGetCount = lambda: len(fake.gpus)
    fake.nvmlDeviceGetHandleByIndex = lambda i: i
    ns = types.SimpleNamespace
    getter("nvmlDeviceGetName", lambda g: g["name"])
    getter("nvmlDeviceGetUUID", lambda g: g["uuid"])
    getter("nvmlDeviceGetUtilizationRates", lambda g: ns(gpu=g["util"], memory=g["mem_util"]))
    getter("nvmlDeviceGetMemoryInfo", lambda g: ns(used=g["used"], total=g["total"],
                                                   free=g["total"] - g["used"]))
    getter("nvmlDeviceGetTemperature", lambda g, sensor: g["temp"])
    getter("nvmlDeviceGetPowerUsage", lambda g: g["power"])
    getter("nvmlDeviceGetEnforcedPowerLimit", lambda g: g["limit"])
    getter("nvmlDeviceGetClockInfo",
           lambda g, kind: g["sm"] if kind == pynvml.NVML_CLOCK_SM else g["mclk"])
    getter("nvmlDeviceGetFanSpeed", lambda g: g["fan"])
    getter("nvmlDeviceGetTotalEnergyConsumption", lambda g: g["energy"])
    getter("nvmlDeviceGetCurrentClocksThrottleReasons", lambda g: g["throttle"])
    getter("nvmlDeviceGetComputeRunningProcesses",
           lambda g: [ns(pid=p, usedGpuMemory=m) for p, m in g["compute"]])
    getter("nvmlDeviceGetGraphicsRunningProcesses",
           lambda g: [ns(pid=p, usedGpuMemory=m) for p, m in g["graphics"]])
    return fake


def two_gpus() -> list[dict]:
    first = make_fake_nvml().gpus[0]
    second = dict(first, name="NVIDIA Fanless", uuid="GPU-0001", util=5, used=GIB, temp=40,
                  compute=[], throttle=0x1)
    return [first, second]


def test_reads_every_field_in_user_units() -> None:
    reader = NvmlReader(make_fake_nvml())
    gpus, error = reader.read()
    assert error is None and len(gpus) == 1
    gpu = gpus[0]
    assert gpu.name == "NVIDIA Test 80GB"  # bytes from old drivers become text
    assert gpu.utilization_percent == 63 and gpu.memory_utilization_percent == 41
    assert (gpu.memory_used_bytes, gpu.memory_total_bytes) == (12 * GIB, 80 * GIB)
    assert gpu.temperature_c == 61 and gpu.fan_percent == 35
    assert (gpu.power_w, gpu.power_limit_w) == (250.0, 700.0)  # NVML gives mW
    assert gpu.energy_j == 3600.0  # NVML gives mJ
    assert (gpu.sm_clock_mhz, gpu.mem_clock_mhz) == (1410, 2619)
    assert gpu.throttle_reasons == ["power cap", "thermal (hardware)"]
    names = {p.pid: (p.name, p.used_memory_bytes) for p in gpu.processes}
    assert names[os.getpid()][0] and names[os.getpid()][0] != "?"
    assert names[os.getpid()][1] == 3 * GIB
    assert names[999_999_999] == ("", GIB)  # a process we cannot see still shows its memory
    assert gpu.errors == {}


def test_field_not_supported_on_one_gpu_leaves_the_rest() -> None:
    fake = make_fake_nvml(two_gpus(), unsupported={1: {"nvmlDeviceGetFanSpeed",
                                                       "nvmlDeviceGetTotalEnergyConsumption"}})
    gpus, error = NvmlReader(fake).read()
    assert error is None and [g.index for g in gpus] == [0, 1]
    assert gpus[0].fan_percent == 35 and gpus[0].energy_j == 3600.0
    assert gpus[1].fan_percent is None and gpus[1].energy_j is None
    assert gpus[1].errors == {"fan": "not supported", "energy": "not supported"}
    assert gpus[1].temperature_c == 40 and gpus[1].memory_used_bytes == GIB
    assert gpus[1].throttle_reasons == ["idle"]


@pytest.mark.parametrize("code, words", [
    (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "driver is not loaded"),
    (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "no NVIDIA driver is installed"),
])
def test_no_driver_gives_no_gpus_and_the_reason(code: int, words: str) -> None:
    fake = make_fake_nvml(init_error=code)
    reader = NvmlReader(fake)
    for _ in range(3):
        gpus, error = reader.read()
        assert gpus == [] and words in error
    assert fake.calls["init"] == 1  # not retried on every sample
    reader.close()
    assert fake.calls["shutdown"] == 0  # never initialised, nothing to shut down


def test_zero_gpus_says_so() -> None:
    gpus, error = NvmlReader(make_fake_nvml(gpus=[])).read()
    assert gpus == [] and error == "NVML found no NVIDIA GPU"


def test_initialised_once_and_shut_down_once() -> None:
    fake = make_fake_nvml()
    sampler = ResourceSampler(fake)
    temps = []
    for temp in (50, 70, 90):
        fake.gpus[0]["temp"] = temp
        temps.append(sampler.sample().gpus[0].temperature_c)
    assert temps == [50, 70, 90]
    assert fake.calls == {"init": 1, "shutdown": 0}
    sampler.gpu_reader.close()
    sampler.gpu_reader.close()
    assert fake.calls["shutdown"] == 1


def test_app_process_uses_pynvml_and_shuts_it_down_at_exit() -> None:
    """The sampler imports ``pynvml`` lazily; whatever module that is gets nvmlShutdown at exit."""
    script = (
        "import sys, json\n"
        "from tests.core.test_monitor_nvml import make_fake_nvml\n"
        "sys.modules['pynvml'] = fake = make_fake_nvml()\n"
        "fake.echo = True\n"
        "from llamahome_gui.core.monitor.sampler import ResourceSampler\n"
        "s = ResourceSampler().sample()\n"
        "print(json.dumps({'gpus': len(s.gpus), 'mem': s.gpus[0].memory_total_bytes}), flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=True).stdout.splitlines()
    assert json.loads(out[0]) == {"gpus": 1, "mem": 80 * GIB}
    assert out[1:] == ["fake nvmlShutdown"]


def test_real_nvidia_ml_py_on_this_machine() -> None:
    """On a machine without the driver library the real module reports why; with one, GPUs."""
    gpus, error = NvmlReader().read()
    if gpus:
        assert error is None and all(g.memory_total_bytes for g in gpus)
    else:
        assert error and "NVML" in error


def test_decode_throttle_words() -> None:
    assert decode_throttle(0) == []
    assert decode_throttle(0x4 | 0x20) == ["power cap", "thermal (software)"]
