"""Shared by the export tests: a trained tiny run, and scoring prompts through both models."""

from __future__ import annotations

import shutil
from pathlib import Path

SYSTEM = "You are Nova, a test assistant."


def train_tiny_run(model_dir: Path, root: Path, *, eval_split: float = 0.0) -> Path:
    """A finished run on the tiny model: run.toml, events, a real PEFT adapter."""
    from llamahome_gui.core.runs import write_run_config
    from llamahome_gui.core.train import run_training
    from tests.core.test_train import make_configs, write_alpaca

    configs = make_configs(model_dir, write_alpaca(root / "data.json"), max_steps=3,
                           learning_rate=5e-2, eval_split=eval_split, eval_steps=1)
    configs["inference"].chat.system_prompt = SYSTEM
    configs["inference"].generation.temperature = 0.3
    configs["inference"].generation.top_p = 0.8
    run_dir = root / "20260101-000000-tiny"
    write_run_config(run_dir, configs)
    result = run_training(run_dir, configs)
    assert result.status == "done"
    return run_dir


def copy_run(run_dir: Path, root: Path) -> Path:
    target = root / run_dir.name
    shutil.copytree(run_dir, target)
    return target


def chat_ids(tokenizer, question: str) -> list[int]:
    from llamahome_gui.core.chat.prompt import encode, render

    return encode(tokenizer, render(tokenizer, SYSTEM, [{"role": "user", "content": question}]))


def tiny_other_arch(tiny_model_dir: Path, root: Path, arch: str) -> Path:
    """A tiny random Qwen2 or Mistral model with the tiny Llama's tokenizer."""
    import torch
    from transformers import (
        AutoTokenizer,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    common = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  max_position_embeddings=1024, bos_token_id=tokenizer.bos_token_id,
                  eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(1)
    if arch == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    else:
        model = MistralForCausalLM(MistralConfig(sliding_window=None, **common))
    with torch.no_grad():  # random biases, so that writing them wrongly shows
        for name, param in model.named_parameters():
            if name.endswith(".bias"):
                param.normal_(0.0, 0.5)
    folder = root / f"tiny-{arch}"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
