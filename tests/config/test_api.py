"""The ConfigManager calls the forms and the engine use besides load/update."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamahome_gui.config.errors import ConfigValidationError
from llamahome_gui.config.manager import ConfigManager


def test_merge_lays_values_over_the_file_without_writing(config_dir: Path) -> None:
    cfg = ConfigManager(config_dir, env={})
    before = (config_dir / "training_config.toml").read_bytes()
    merged = cfg.merge("training", {"lora": {"r": 64}, "training.max_steps": 5})
    assert (merged.lora.r, merged.training.max_steps, merged.lora.lora_alpha) == (64, 5, 32.0)
    assert (config_dir / "training_config.toml").read_bytes() == before
    with pytest.raises(ConfigValidationError, match=r"training.lora.r = 0: must be >= 1"):
        cfg.merge("training", {"lora.r": 0})


def test_reset_a_whole_section(config_dir: Path) -> None:
    cfg = ConfigManager(config_dir, env={})
    cfg.update("training", {"lora.r": 48, "lora.bias": "all", "training.max_steps": 9})
    assert sorted(cfg.reset("training.lora")) == ["training.lora.bias", "training.lora.r"]
    assert cfg.get("training.training.max_steps") == 9
    assert cfg.reset("training.lora") == []


def test_preset_values_for_the_forms_and_dynamic_components(config_dir: Path) -> None:
    cfg = ConfigManager(config_dir, env={})
    flat = cfg.preset("low-memory").flat()
    assert flat["training.training.gradient_checkpointing"] is True
    assert flat["resource.gpu.memory_fraction"] == 0.7
    assert set(cfg.components()) >= {"model", "training", "inference", "resource", "metrics",
                                     "monitoring"}
