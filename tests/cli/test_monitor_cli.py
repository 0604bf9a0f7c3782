"""``llamahome monitor`` as a user runs it: a real subprocess."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]


def llamahome(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llamahome_gui", "monitor", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_once_json(tmp_path) -> None:
    result = llamahome("--once", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert 0 <= data["cpu_percent"] <= 100
    assert len(data["cpu_per_core"]) == psutil.cpu_count()
    assert data["ram_total_bytes"] == psutil.virtual_memory().total
    assert 0 < data["ram_used_bytes"] <= data["ram_total_bytes"]
    assert isinstance(data["gpus"], list)
    if data["gpus"]:
        assert data["gpu_error"] is None and "memory_total_bytes" in data["gpus"][0]
    else:
        assert "NVML" in data["gpu_error"]  # why there are no GPUs


def test_interval_count_csv_writes_a_row_per_sample(tmp_path) -> None:
    result = llamahome("--interval", "0.2", "--count", "5", "--csv", "m.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "m.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 5
    assert {"time", "datetime", "cpu_percent", "ram_used_bytes", "ram_total_bytes"} <= set(table[0])
    times = [float(r["time"]) for r in table]
    assert all(0.1 < b - a < 1.0 for a, b in zip(times, times[1:], strict=False))
    lines = result.stdout.splitlines()
    assert "CPU %" in lines[0] and "RAM GiB" in lines[0]
    assert len([x for x in lines if x[:2].isdigit() and x[2] == ":"]) == 5  # one row each
    assert "wrote 5 samples to m.csv" in result.stderr


def test_json_lines_with_count(tmp_path) -> None:
    result = llamahome("--json", "--interval", "0.1", "--count", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    objs = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(objs) == 3 and all("gpu_error" in o for o in objs)


def test_bad_arguments_say_how_to_fix(tmp_path) -> None:
    result = llamahome("--interval", "0", "--count", "2", cwd=tmp_path)
    assert result.returncode == 2 and "--interval 0.0" in result.stderr
    assert "between 0 and 3600" in result.stderr
    result = llamahome("--once", "--csv", str(tmp_path / "no" / "such" / "dir.csv"), cwd=tmp_path)
    assert result.returncode == 2 and "cannot write --csv" in result.stderr
