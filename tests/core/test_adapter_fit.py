"""An adapter trained on another base model is refused with what differs (chat and
``adapters merge``); one trained on the same architecture at another path only warns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llamahome_gui.core.models.adapter_fit import AdapterMismatchError, check_adapter_fits
from tests.core.test_chat_helpers import lora_adapter_dir  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def two_layer_adapter(starter_model_dir: Path, tmp_path_factory) -> Path:
    """A real LoRA adapter of a 2-layer model with exactly the starter's layer shapes."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig.from_pretrained(starter_model_dir)
    config.num_hidden_layers = 2
    torch.manual_seed(0)
    small = LlamaForCausalLM(config)
    model = get_peft_model(small, LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                             task_type="CAUSAL_LM"))
    out = tmp_path_factory.mktemp("two-layer") / "adapter"
    model.save_pretrained(out, safe_serialization=True)
    return out


def _load(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)


def test_two_layer_adapter_on_the_thirty_layer_starter_is_refused(two_layer_adapter,
                                                                  starter_model_dir) -> None:
    with pytest.raises(AdapterMismatchError) as info:
        check_adapter_fits(_load(starter_model_dir), two_layer_adapter, starter_model_dir)
    assert "the adapter covers layers 0-1 (2), the model has layers 0-29 (30)" in str(info.value)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llamahome_gui", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_chat_and_merge_refuse_it_in_one_line(two_layer_adapter, starter_model_dir,
                                              config_dir, tmp_path) -> None:
    chat = _cli("chat", "--model", str(starter_model_dir), "--adapter", str(two_layer_adapter),
                "--prompt", "hi", "--config-dir", str(config_dir), cwd=tmp_path)
    assert chat.returncode == 2
    assert "Traceback" not in chat.stderr
    assert "was not trained on this model" in chat.stderr and "layers 0-1 (2)" in chat.stderr
    out = tmp_path / "merged"
    merge = _cli("adapters", "merge", "--model", str(starter_model_dir), "--adapter",
                 str(two_layer_adapter), "--out", str(out), cwd=tmp_path)
    assert merge.returncode == 2
    assert "layers 0-1 (2), the model has layers 0-29 (30)" in merge.stderr
    assert not out.exists() or not any(out.iterdir())


def test_same_model_fits_without_a_word(lora_adapter_dir, tiny_model_dir) -> None:  # noqa: F811
    assert check_adapter_fits(_load(tiny_model_dir), lora_adapter_dir, tiny_model_dir) == []


def test_same_architecture_at_another_path_is_a_warning(lora_adapter_dir,  # noqa: F811
                                                        tiny_model_dir, tmp_path) -> None:
    copy = tmp_path / "tiny-copy"
    shutil.copytree(tiny_model_dir, copy)
    notes = check_adapter_fits(_load(copy), lora_adapter_dir, copy)
    assert len(notes) == 1 and "trained on" in notes[0] and str(copy) in notes[0]


def test_another_architecture_names_what_differs(lora_adapter_dir,  # noqa: F811
                                                 tiny_model_dir, tmp_path) -> None:
    other = tmp_path / "wider"
    other.mkdir()
    config = json.loads((tiny_model_dir / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "hidden_size": 128,
                                                   "architectures": ["MistralForCausalLM"]}))
    adapter = tmp_path / "adapter"
    shutil.copytree(lora_adapter_dir, adapter)
    meta = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps(
        {**meta, "base_model_name_or_path": str(other)}))
    with pytest.raises(AdapterMismatchError) as info:
        check_adapter_fits(_load(tiny_model_dir), adapter, tiny_model_dir)
    message = str(info.value)
    assert "architecture MistralForCausalLM (trained) vs LlamaForCausalLM (loaded)" in message
    assert "hidden_size 128" in message


def test_adapter_with_other_widths_names_the_shapes(two_layer_adapter, tiny_model_dir) -> None:
    with pytest.raises(AdapterMismatchError) as info:
        check_adapter_fits(_load(tiny_model_dir), two_layer_adapter, tiny_model_dir)
    assert "shape mismatch" in str(info.value) and "576 inputs in the adapter, 64 here" \
        in str(info.value)

