"""`llamahome train --set training.training.num_processes=2` on this CPU: the command starts
torchrun itself (gloo), the run records world_size 2, its adapter loads in plain peft, and
its checkpoints hold every rank's RNG so a resume gives each rank its own."""

from __future__ import annotations

import json
import subprocess
import sys

from llamahome_gui.core.runs.events import RunFinished, RunStarted, read_events
from tests.core.test_train import write_alpaca


def test_two_processes_from_the_command_line(tiny_model_dir, tmp_path, config_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from llamahome_gui.config.schema import LoraSection, TrainingSection
    from llamahome_gui.core.train.checkpoint import load_checkpoint
    from llamahome_gui.core.train.lora import apply_lora

    data = write_alpaca(tmp_path / "d.json")
    sets = {"model.model.path": json.dumps(str(tiny_model_dir)),
            "model.model.device": '"cpu"',
            "training.training.dataset_path": json.dumps(str(data)),
            "training.training.output_dir": json.dumps(str(tmp_path / "runs")),
            "training.training.max_steps": "4", "training.training.save_steps": "2",
            "training.training.num_processes": "2", "training.training.sample_max_new_tokens": "0",
            "training.lora.r": "4"}
    cmd = [sys.executable, "-m", "llamahome_gui", "train", "--config-dir", str(config_dir)]
    for key, value in sets.items():
        cmd += ["--set", f"{key}={value}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "starting 2 training processes with torchrun" in result.stdout
    assert "Traceback" not in result.stderr
    [run_dir] = list((tmp_path / "runs").iterdir())
    events = read_events(run_dir)
    starts = [e for e in events if isinstance(e, RunStarted)]
    assert len(starts) == 1 and starts[0].config["world_size"] == 2  # rank 0 alone writes
    assert isinstance(events[-1], RunFinished) and events[-1].step == 4

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = PeftModel.from_pretrained(base, str(run_dir / "adapter"))
    assert any("lora_A" in n for n, _ in tuned.named_parameters())

    # Each rank's RNG is in the checkpoint, and a resumed rank gets its own back.
    checkpoint = run_dir / "checkpoints" / "step-000002"
    saved = torch.load(checkpoint / "rng.pt", weights_only=True)["cpu_ranks"]
    assert saved.shape[0] == 2 and not torch.equal(saved[0], saved[1])
    model = apply_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir), LoraSection(r=4))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    from transformers import get_scheduler

    scheduler = get_scheduler(TrainingSection().lr_scheduler, optimizer, num_warmup_steps=0,
                              num_training_steps=4)
    load_checkpoint(checkpoint, model, optimizer, scheduler, rank=1)
    assert torch.equal(torch.get_rng_state(), saved[1])
