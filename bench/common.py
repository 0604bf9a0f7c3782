"""Shared pieces of the benchmarks: the model folder, isolated user folders, timed child
processes (wall time and the child's own peak RSS), and the machine description."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
CACHE_MODELS = ROOT / ".cache" / "bench-models"
PYTHON = sys.executable
SYSTEM_PROMPT = "You are a helpful assistant."

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def starter_model() -> Path:
    """The starter model as a safetensors folder, converted once into the bench cache."""
    from llamahome_gui.core.models.starter import import_starter

    return import_starter(CACHE_MODELS, progress=lambda m: print(f"  {m}", flush=True))


def work_dir(name: str) -> Path:
    """A fresh scratch folder for one benchmark (removed by the OS's tmp cleaning)."""
    return Path(tempfile.mkdtemp(prefix=f"llamahome-bench-{name}-"))


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a child: its own data/config homes, offscreen Qt, no network."""
    env = dict(os.environ)
    env.update({
        "LLAMAHOME_DATA_HOME": str(home / "data"),
        "LLAMAHOME_CONFIG_HOME": str(home / "config-home"),
        "LLAMAHOME_CACHE_HOME": str(CACHE_MODELS / "user-cache"),  # GGUF copies, made once
        "QT_QPA_PLATFORM": "offscreen",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


@dataclass
class ChildResult:
    returncode: int
    wall_s: float
    peak_rss: int  # bytes, the child's own high-water mark (wait4)
    stdout: str
    stderr: str


def run_child(cmd: list[str], env: dict[str, str], cwd: Path = ROOT,
              timeout: float = 1800.0) -> ChildResult:
    """Run ``cmd`` to its end; wall time from spawn to exit and the child's peak RSS.

    ``os.wait4`` gives the resource usage of exactly this process (not of every child this
    benchmark ever waited for, as RUSAGE_CHILDREN would).
    """
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err,
                            stdin=subprocess.DEVNULL)
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    return ChildResult(proc.returncode, wall, usage.ru_maxrss * 1024,
                       out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def check(result: ChildResult, what: str) -> None:
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise RuntimeError(f"{what} exited with code {result.returncode}:\n{tail}")


def machine() -> dict[str, object]:
    """CPU model, cores, memory, torch version and device of the machine the figures are from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    info: dict[str, object] = {"cpu": cpu, "cores": cores, "python": platform.python_version(),
                               "platform": platform.platform()}
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    except (ImportError, OSError):
        pass
    import torch
    import transformers

    info["torch"] = torch.__version__
    info["transformers"] = transformers.__version__
    if torch.cuda.is_available():
        info["device"] = f"cuda: {torch.cuda.get_device_name(0)}"
    else:
        info["device"] = "cpu"
    return info


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return float(ordered[k])
