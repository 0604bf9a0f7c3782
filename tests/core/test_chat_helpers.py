"""Shared chat test fixtures (no tests here): real PEFT LoRA adapters on the tiny model.

Other chat test modules import these fixtures by name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

QUESTION = [{"role": "user", "content": "Tell me about the sea."}]


def make_lora_adapter(model_dir: Path, out_dir: Path, seed: int = 0) -> Path:
    """Save a real LoRA adapter whose B matrices are random (non-zero), so it changes answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(model_dir, use_safetensors=True)
    config = LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "down_proj"],
                        init_lora_weights=False, task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir


@pytest.fixture(scope="session")
def lora_adapter_dir(tiny_model_dir, tmp_path_factory) -> Path:
    return make_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter-a") / "adapter", 1)


@pytest.fixture(scope="session")
def second_adapter_dir(tiny_model_dir, tmp_path_factory) -> Path:
    return make_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter-b") / "adapter", 2)
