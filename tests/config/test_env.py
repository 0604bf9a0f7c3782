"""Environment overrides: resolved against the schema, typed, validated, never written."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamahome_gui.config.errors import ConfigValidationError
from llamahome_gui.config.manager import ConfigManager


def test_short_and_explicit_names_override_loaded_values(config_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("LLAMAHOME_GPU_MEMORY_FRACTION", "0.5")
    monkeypatch.setenv("LLAMAHOME_MODEL_NAME", "llama")
    monkeypatch.setenv("LLAMAHOME__TRAINING__LORA__TARGET_MODULES", '["q_proj", "v_proj"]')
    cfg = ConfigManager(config_dir)
    assert cfg.load("resource").gpu.memory_fraction == 0.5
    assert cfg.get("model.model.name") == "llama"
    assert cfg.load("training").lora.target_modules == ["q_proj", "v_proj"]
    assert cfg.env_sources() == {
        "model.model.name": "LLAMAHOME_MODEL_NAME",
        "resource.gpu.memory_fraction": "LLAMAHOME_GPU_MEMORY_FRACTION",
        "training.lora.target_modules": "LLAMAHOME__TRAINING__LORA__TARGET_MODULES"}
    assert cfg.env_sources("resource") == {
        "resource.gpu.memory_fraction": "LLAMAHOME_GPU_MEMORY_FRACTION"}
    override = cfg.env_overrides("resource")["resource.gpu.memory_fraction"]
    assert (str(override), override.raw, override.value) == ("LLAMAHOME_GPU_MEMORY_FRACTION",
                                                             "0.5", 0.5)
    assert cfg.source("resource.gpu.memory_fraction") == "environment"


def test_values_are_parsed_to_the_field_type(config_dir: Path) -> None:
    env = {"LLAMAHOME_MODEL_NAME": "123", "LLAMAHOME_GPU_ALLOW_GROWTH": "no",
           "LLAMAHOME_LORA_TARGET_MODULES": "q_proj, v_proj", "LLAMAHOME_LORA_R": "32",
           "LLAMAHOME_GPU_CUDA_DEVICES": "0,1", "LLAMAHOME_MODEL_SIZE": "13b"}
    cfg = ConfigManager(config_dir, env=env)
    assert cfg.get("model.model.name") == "123"          # a string field keeps the text
    assert cfg.get("model.model.size") == "13b"
    assert cfg.get("resource.gpu.allow_growth") is False
    assert cfg.get("resource.gpu.cuda_devices") == [0, 1]
    assert cfg.get("training.lora.target_modules") == ["q_proj", "v_proj"]
    assert cfg.get("training.lora.r") == 32


def test_overrides_are_never_written(config_dir: Path) -> None:
    cfg = ConfigManager(config_dir, env={"LLAMAHOME_GPU_MEMORY_FRACTION": "0.5"})
    path = config_dir / "resource_config.toml"
    before = path.read_bytes()
    assert cfg.update("resource", {"monitor.cpu_threshold": 0.7}) == [
        "resource.monitor.cpu_threshold"]
    text = path.read_text()
    assert "memory_fraction = 0.9" in text and "0.5" not in text
    assert len(set(before.split(b"\n")) ^ set(text.encode().split(b"\n"))) == 2
    assert cfg.load("resource").gpu.memory_fraction == 0.5


def test_bad_override_value_names_the_variable_and_rule(config_dir: Path) -> None:
    cfg = ConfigManager(config_dir, env={"LLAMAHOME_GPU_MEMORY_FRACTION": "1.5"})
    with pytest.raises(ConfigValidationError) as info:
        cfg.load("resource")
    assert str(info.value) == ("environment LLAMAHOME_GPU_MEMORY_FRACTION: "
                               "resource.gpu.memory_fraction = 1.5: must be <= 1.0")
    cfg.load("training")  # other components are unaffected


def test_ambiguous_short_name_lists_the_candidates(config_dir: Path) -> None:
    schemas = config_dir / "schemas"
    (schemas / "cluster_config.toml").write_text(
        '[gpu]\nmemory_fraction = { type = "float", min = 0.0, max = 1.0, default = 0.5, '
        'description = "Share of each node\'s GPU." }\n')
    cfg = ConfigManager(config_dir, env={"LLAMAHOME_GPU_MEMORY_FRACTION": "0.4"})
    with pytest.raises(ConfigValidationError) as info:
        cfg.load("resource")
    assert str(info.value) == (
        "environment LLAMAHOME_GPU_MEMORY_FRACTION: ambiguous: it matches "
        "resource.gpu.memory_fraction (LLAMAHOME__RESOURCE__GPU__MEMORY_FRACTION), "
        "cluster.gpu.memory_fraction (LLAMAHOME__CLUSTER__GPU__MEMORY_FRACTION); "
        "set the explicit variable instead")
    explicit = ConfigManager(config_dir, env={"LLAMAHOME__CLUSTER__GPU__MEMORY_FRACTION": "0.4"})
    assert explicit.load("cluster").gpu.memory_fraction == 0.4
    assert explicit.load("resource").gpu.memory_fraction == 0.9


def test_unknown_names(config_dir: Path) -> None:
    cfg = ConfigManager(config_dir, env={
        "LLAMAHOME_LOG_FILE": "x.log",
        "LLAMAHOME__TRAINING__LORA__RANK": "8",
        "LLAMAHOME__TRAINER__LORA__R": "8",
    })
    errors, warnings = cfg.validate_all()
    assert [str(e) for e in errors] == [
        "environment LLAMAHOME__TRAINER__LORA__R: no config component 'trainer'; did you mean "
        "training? (known: model, training, inference, resource, metrics, monitoring)",
        "environment LLAMAHOME__TRAINING__LORA__RANK: training has no key 'lora.rank'; did you "
        "mean LLAMAHOME__TRAINING__LORA__R?",
    ]
    assert [str(w) for w in warnings] == [
        "environment LLAMAHOME_LOG_FILE: warning: not a config key, ignored (explicit form: "
        "LLAMAHOME__<COMPONENT>__<SECTION>__<KEY>)"]


def test_the_apps_own_variables_are_not_overrides(config_dir: Path) -> None:
    env = {"LLAMAHOME_CONFIG_HOME": "/x", "LLAMAHOME_DATA_HOME": "/y",
           "LLAMAHOME_TEST_CACHE": "/z"}
    cfg = ConfigManager(config_dir, env=env)
    assert cfg.env_sources() == {}
    assert cfg.validate_all() == ([], [])


def test_explicit_name_wins_over_short_name(config_dir: Path) -> None:
    cfg = ConfigManager(config_dir, env={"LLAMAHOME_LORA_R": "8",
                                         "LLAMAHOME__TRAINING__LORA__R": "64"})
    assert cfg.get("training.lora.r") == 64
    assert cfg.env_sources("training") == {"training.lora.r": "LLAMAHOME__TRAINING__LORA__R"}
