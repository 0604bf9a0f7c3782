"""LoRA variants and QLoRA: DoRA/rsLoRA adapters load in plain peft; 4/8-bit either trains
or is refused in one line before anything loads; the memory estimate counts k-bit weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llamahome_gui.core.runs.events import RunStarted
from llamahome_gui.core.train import TrainingError, run_training
from llamahome_gui.core.train.quantize import quantization_problem
from tests.core.test_train import make_configs, of_kind, steps, write_alpaca


def _logits(model, tokenizer) -> object:
    import torch

    ids = tokenizer("The sky on Zorb is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_dora_and_rslora_adapter_loads_in_plain_peft(tiny_model_dir, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json"), max_steps=3)
    configs["training"].lora.use_dora = True
    configs["training"].lora.use_rslora = True
    assert run_training(tmp_path / "run", configs).status == "done"
    adapter = tmp_path / "run" / "adapter"
    saved = json.loads((adapter / "adapter_config.json").read_text())
    assert saved["use_dora"] is True and saved["use_rslora"] is True
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    before = _logits(base, tokenizer)
    model = PeftModel.from_pretrained(base, str(adapter))
    assert any("lora_magnitude_vector" in n for n, _ in model.named_parameters())
    assert not torch.allclose(_logits(model, tokenizer), before, atol=1e-4)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llamahome_gui", "train", *args],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


def test_8bit_on_the_cpu_is_refused_in_one_line_before_loading(tiny_model_dir, tmp_path,
                                                              config_dir):
    data = write_alpaca(tmp_path / "d.json")
    result = _cli("--config-dir", str(config_dir), "--set", "model.model.device=\"cpu\"",
                  "--set", f"model.model.path=\"{tiny_model_dir}\"",
                  "--set", f"training.training.dataset_path=\"{data}\"",
                  "--set", f"training.training.output_dir=\"{tmp_path / 'runs'}\"",
                  "--set", "model.model.quantization=\"8bit\"", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert errors == [line for line in errors if "model.model.quantization = 8bit" in line]
    assert len(errors) == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "runs").exists()  # nothing started
    # The engine itself refuses the same way, before the data or the weights are read.
    configs = make_configs(tiny_model_dir, tmp_path / "missing.json")
    configs["model"].model.quantization = "8bit"
    configs["model"].model.device = "cpu"
    # (why depends on the machine: no bitsandbytes, or its slow 8-bit CPU layers)
    with pytest.raises(TrainingError, match="model.model.quantization = 8bit"):
        run_training(tmp_path / "run", configs)


def test_4bit_on_the_cpu_trains_or_is_refused_before_loading(tiny_model_dir, tmp_path):
    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json"), max_steps=3)
    configs["model"].model.quantization = "4bit"
    configs["model"].model.device = "cpu"
    problem = quantization_problem("4bit", "cpu")
    if problem is not None:  # bitsandbytes missing or too old: a one-line refusal
        with pytest.raises(TrainingError, match="model.model.quantization = 4bit"):
            run_training(tmp_path / "run", configs)
        assert not of_kind(tmp_path / "run", RunStarted)
        return
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = run_training(tmp_path / "run", configs)
    assert result.status == "done"
    start = of_kind(tmp_path / "run", RunStarted)[0]
    assert start.config["quantization"] == "4bit"
    assert all(e.loss is not None for e in steps(tmp_path / "run"))
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = PeftModel.from_pretrained(base, str(tmp_path / "run" / "adapter"))
    assert any("lora_A" in n for n, _ in model.named_parameters())


def test_memory_estimate_counts_kbit_weights(starter_model_dir):
    from llamahome_gui.config.schema import LoraSection, TrainingSection
    from llamahome_gui.core.models.info import model_info
    from llamahome_gui.core.models.memory import estimate_training_memory

    info = model_info(starter_model_dir)
    est = {q: estimate_training_memory(info, TrainingSection(), LoraSection(), "cuda",
                                       dtype="bfloat16", quantization=q, available=80 * 2**30)
           for q in ("none", "8bit", "4bit")}
    assert est["4bit"].weights < est["8bit"].weights < est["none"].weights
    linear = sum(i * o for _, i, o in info.linear_shapes())
    # the decoder's linear weights shrink to about half a byte; the rest is kept in fp32
    assert est["4bit"].weights == pytest.approx(linear * 0.516 + (info.parameters - linear) * 4,
                                                rel=0.01)
    assert est["4bit"].total < est["none"].total
    dpo = estimate_training_memory(info, TrainingSection(method="dpo"), LoraSection(), "cuda",
                                   available=80 * 2**30)
    assert dpo.tokens_per_step == 2 * est["none"].tokens_per_step
