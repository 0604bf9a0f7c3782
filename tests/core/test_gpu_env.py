"""``resource.gpu.cuda_devices`` and ``allow_growth`` reach the trainer's environment."""

from __future__ import annotations

import subprocess
import sys

from llamahome_gui.config.schema import GpuSection
from llamahome_gui.core.train.gpu_env import gpu_env
from tests.cli.test_train_cli import tiny_args
from tests.core.test_train import write_alpaca


def test_chosen_gpus_and_growth_become_variables() -> None:
    env = gpu_env(GpuSection(cuda_devices=[2, 0], allow_growth=True), {})
    assert env == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "2,0",
                   "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}
    assert gpu_env(GpuSection(cuda_devices=[], allow_growth=False), {}) == {}   # all GPUs
    mine = {"PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:128"}
    assert gpu_env(GpuSection(allow_growth=True), mine)["PYTORCH_CUDA_ALLOC_CONF"] == \
        "max_split_size_mb:128,expandable_segments:True"                      # the user's kept


def test_the_trainer_process_runs_with_the_chosen_gpus(tiny_model_dir, tmp_path) -> None:
    data = write_alpaca(tmp_path / "d.json", repeat=2)
    probe = ("import os, sys; from llamahome_gui.cli import main; code = main(sys.argv[1:]); "
             "print('ENV', os.environ.get('CUDA_VISIBLE_DEVICES'), "
             "os.environ.get('PYTORCH_CUDA_ALLOC_CONF'), file=sys.stderr); sys.exit(code)")
    proc = subprocess.run(
        [sys.executable, "-c", probe, "train", "--estimate",
         *tiny_args(tiny_model_dir, data, "--set", "resource.gpu.cuda_devices=[1]")],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "GPUs 1 (resource.gpu.cuda_devices; CUDA_VISIBLE_DEVICES=1)" in proc.stdout
    assert "ENV 1 expandable_segments:True" in proc.stderr


def test_the_monitor_shows_only_the_chosen_gpus(config_dir) -> None:
    from llamahome_gui.config.manager import ConfigManager
    from llamahome_gui.core.monitor.loop import MonitorLoop
    from llamahome_gui.core.monitor.sampler import ResourceSampler
    from tests.core.test_monitor_nvml import make_fake_nvml

    fake = make_fake_nvml()
    fake.gpus = [dict(fake.gpus[0], uuid=f"GPU-{i}") for i in range(3)]   # a 3-GPU machine
    assert [g.index for g in ResourceSampler(fake).sample().gpus] == [0, 1, 2]
    assert [g.index for g in ResourceSampler(fake, devices=[2, 0]).sample().gpus] == [0, 2]
    cfg = ConfigManager(config_dir)
    cfg.update("resource", {"gpu.cuda_devices": [1]})
    assert MonitorLoop.from_config(cfg).sampler.devices == {1}
