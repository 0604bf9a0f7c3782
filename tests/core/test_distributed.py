"""Data-parallel training: `torchrun -m llamahome_gui train` with 2 CPU processes (gloo).

Runs in CI (about half a minute on the tiny model); accelerate's multi-process launcher sets
the same environment as torchrun, so this covers both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llamahome_gui.core.runs import list_runs, read_events
from tests.core.test_train import steps, write_alpaca


@pytest.mark.timeout(300)
def test_two_processes_train_one_run(tiny_model_dir, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        torchrun = shutil.which("torchrun")
    data = write_alpaca(tmp_path / "d.json", repeat=4)
    runs = tmp_path / "runs"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "llamahome_gui",
         "train", "--set", f"model.model.path='{tiny_model_dir}'",
         "--set", f"training.training.dataset_path='{data}'",
         "--set", f"training.training.output_dir='{runs}'",
         "--set", "training.training.max_steps=3", "--set", "training.training.eval_split=0.25",
         "--set", "training.training.eval_steps=3", "--set", "training.training.save_steps=2",
         "--set", "training.training.per_device_train_batch_size=1"],
        capture_output=True, text=True, env=env, timeout=280, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [info] = list_runs(runs)  # rank 1 did not make a folder of its own
    assert info.status == "done" and info.steps == 3
    events = read_events(info.path)
    start = next(e for e in events if e.kind == "start")
    assert start.config["world_size"] == 2
    # one writer: every event exactly once
    assert [e.step for e in steps(info.path)] == [1, 2, 3]
    assert [e.kind for e in events].count("done") == 1
    assert [e.step for e in events if e.kind == "checkpoint"] == [2]
    assert len([e for e in events if e.kind == "eval"]) == 1
    assert (info.path / "adapter" / "adapter_model.safetensors").is_file()
    assert proc.stdout.count("run folder:") == 1
