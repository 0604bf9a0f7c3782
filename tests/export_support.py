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
