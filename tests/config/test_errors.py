"""Every config error names the file, the line, the key path, the bad value and the rule,
and nothing is written when validation fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamahome_gui.config.errors import (
    ConfigError,
    ConfigValidationError,
    TomlSyntaxError,
    display_path,
)
from llamahome_gui.config.manager import ConfigManager


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().split("\n"), 1) if needle in line)


CASES = [
    ("resource", "memory_fraction = 0.9", "memory_fraction = 1.5",
     "resource.gpu.memory_fraction = 1.5: must be <= 1.0"),
    ("resource", "check_interval = 1.0", "check_interval = 0",
     "resource.monitor.check_interval = 0: must be > 0.0"),
    ("model", 'quantization = "none"', 'quantization = "16bit"',
     "model.model.quantization = \"16bit\": must be one of 'none', '8bit' or '4bit'"),
    ("training", "r = 16", 'r = "16"', 'training.lora.r = "16": must be a whole number'),
    ("training", "r = 16", "r = 16.5", "training.lora.r = 16.5: must be a whole number"),
    ("model", 'name = "SmolLM2-135M-Instruct"', "name = 5",
     'model.model.name = 5: must be a string in quotes, e.g. "text"'),
    ("resource", 'per_process_memory = "12GB"', 'per_process_memory = "lots"',
     "resource.gpu.per_process_memory = \"lots\": 'lots' is not a size: write a number and a "
     "unit, e.g. \"12GB\" or \"512MiB\""),
    ("model", 'device = "auto"', 'device = "gpu0"',
     "model.model.device = \"gpu0\": 'gpu0' is not a device: use auto, cpu, mps, cuda or cuda:N"),
    ("training", 'target_modules = "all-linear"', "target_modules = []",
     "training.lora.target_modules = []: must have at least 1 item(s)"),
    ("model", "trust_remote_code = false", 'trust_remote_code = "no"',
     'model.model.trust_remote_code = "no": must be true or false'),
    ("metrics", 'enabled_metrics = ["cpu", "memory", "gpu", "throughput"]',
     'enabled_metrics = ["cpu", "disk"]',
     "metrics.metrics.enabled_metrics = \"disk\": must be one of 'cpu', 'memory', 'gpu' or "
     "'throughput'"),
]


@pytest.mark.parametrize(("component", "old", "new", "expected"), CASES,
                         ids=[c[3].split(" =")[0] for c in CASES])
def test_bad_value_in_file_names_file_line_key_value_rule(
        config_dir: Path, component: str, old: str, new: str, expected: str) -> None:
    path = config_dir / f"{component}_config.toml"
    _replace(path, old, new)
    line = _line_of(path, new)
    with pytest.raises(ConfigValidationError) as info:
        ConfigManager(config_dir).load(component)
    assert str(info.value) == f"{display_path(path)}:{line}: {expected}"
    assert info.value.issues[0].line == line


def test_example_message_from_the_issue(config_dir: Path, monkeypatch) -> None:
    monkeypatch.chdir(config_dir.parent)
    path = config_dir / "resource_config.toml"
    _replace(path, "memory_fraction = 0.9", "memory_fraction = 1.5")
    errors, _ = ConfigManager(Path("config")).validate_all()
    assert [str(e) for e in errors] == [
        "config/resource_config.toml:9: resource.gpu.memory_fraction = 1.5: must be <= 1.0"]


def test_a_table_where_a_section_belongs(tmp_path: Path) -> None:
    (tmp_path / "resource_config.toml").write_text("schema_version = 1\ngpu = 5\n")
    with pytest.raises(ConfigValidationError, match=r":2: resource.gpu = 5: must be a table"):
        ConfigManager(tmp_path).load("resource")


def test_invalid_toml_gives_parser_line_and_column(config_dir: Path) -> None:
    path = config_dir / "training_config.toml"
    _replace(path, "r = 16", "r = = 16")
    line = _line_of(path, "r = = 16")
    before = path.read_bytes()
    cfg = ConfigManager(config_dir)
    with pytest.raises(TomlSyntaxError) as info:
        cfg.load("training")
    assert (info.value.line, info.value.column) == (line, 5)
    assert str(info.value).startswith(f"{display_path(path)}:{line}:5: invalid TOML: ")
    with pytest.raises(TomlSyntaxError):
        cfg.update("training", {"training.max_steps": 3})
    assert path.read_bytes() == before


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "model_config.toml").write_bytes(b'[model]\nname = "caf\xe9"\n')
    with pytest.raises(TomlSyntaxError, match=r"model_config.toml:2:12: invalid TOML: not UTF-8"):
        ConfigManager(tmp_path).load("model")


def test_rejected_update_writes_nothing_and_names_the_line(config_dir: Path) -> None:
    path = config_dir / "resource_config.toml"
    before = path.read_bytes()
    cfg = ConfigManager(config_dir)
    with pytest.raises(ConfigValidationError) as info:
        cfg.update("resource", {"gpu.memory_fraction": 1.5, "monitor.cpu_threshold": 0.5})
    line = _line_of(path, "memory_fraction =")
    assert str(info.value) == (f"{display_path(path)}:{line}: resource.gpu.memory_fraction = 1.5: "
                               "must be <= 1.0")
    assert path.read_bytes() == before
    assert not path.with_name(path.name + ".bak").exists()


def test_update_of_unknown_key_suggests_the_right_one(config_dir: Path) -> None:
    with pytest.raises(ConfigValidationError, match=r"training.lora.rank: no such key; did you "
                                                    r"mean lora.r\?"):
        ConfigManager(config_dir).update("training", {"lora.rank": 8})


def test_unknown_component(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown config component 'trainig'; did you mean "
                                          r"training\? \(known: model, training"):
        ConfigManager(config_dir).load("trainig")


def test_other_errors_in_the_file_block_an_update(config_dir: Path) -> None:
    path = config_dir / "resource_config.toml"
    _replace(path, "cpu_threshold = 0.8", "cpu_threshold = 8")
    before = path.read_bytes()
    with pytest.raises(ConfigValidationError, match=r"resource.monitor.cpu_threshold = 8: must be "
                                                    r"<= 1.0"):
        ConfigManager(config_dir).update("resource", {"gpu.memory_fraction": 0.5})
    assert path.read_bytes() == before
    # fixing the bad key itself is allowed
    assert ConfigManager(config_dir).update("resource", {"monitor.cpu_threshold": 0.8})


def test_unknown_keys_are_kept_and_reported(config_dir: Path) -> None:
    path = config_dir / "training_config.toml"
    _replace(path, "r = 16", "r = 16\nrank = 8  # mine")
    cfg = ConfigManager(config_dir)
    checked = cfg.check("training")
    assert checked.errors == [] and checked.model.lora.r == 16
    line = _line_of(path, "rank = 8")
    assert [str(w) for w in checked.warnings] == [
        f"{display_path(path)}:{line}: warning: training.lora.rank: unknown key, kept but not "
        "used; did you mean r? (rank is its old name)"]
    cfg.update("training", {"lora.r": 32})
    assert "rank = 8  # mine" in path.read_text()


def test_typo_in_a_key_gets_a_suggestion(config_dir: Path) -> None:
    _replace(config_dir / "training_config.toml", "lora_alpha = 32.0", "lora_alpah = 32.0")
    warnings = ConfigManager(config_dir).check("training").warnings
    assert str(warnings[0]).endswith("training.lora.lora_alpah: unknown key, kept but not used; "
                                     "did you mean lora_alpha?")


def test_invalid_toml_in_a_crlf_file(tmp_path: Path) -> None:
    (tmp_path / "resource_config.toml").write_bytes(b"[gpu]\r\n# x\r\n\r\nmemory_fraction = \r\n")
    with pytest.raises(TomlSyntaxError) as info:
        ConfigManager(tmp_path).load("resource")
    assert info.value.line == 4


def test_newer_schema_version_is_refused(config_dir: Path) -> None:
    path = config_dir / "model_config.toml"
    _replace(path, "schema_version = 1", "schema_version = 7")
    with pytest.raises(ConfigError, match=r"schema_version = 7: this file was written by a newer "
                                          r"LlamaHome GUI \(this one reads up to 1\)"):
        ConfigManager(config_dir).load("model")


def test_a_table_where_a_value_belongs_prints_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "training_config.toml").write_text("[lora.r]\nvalue = 8\n")
    with pytest.raises(ConfigValidationError) as info:
        ConfigManager(tmp_path).load("training")
    assert str(info.value) == (f"{display_path(tmp_path / 'training_config.toml')}:1: "
                               "training.lora.r = {value = 8}: must be a whole number")


def test_setting_a_key_whose_file_value_has_the_wrong_type_fixes_it(config_dir: Path) -> None:
    path = config_dir / "training_config.toml"
    _replace(path, "r = 16", 'r = "16"')
    cfg = ConfigManager(config_dir)
    with pytest.raises(ConfigValidationError):
        cfg.load("training")
    assert cfg.update("training", {"lora.r": 16}) == ["training.lora.r"]
    assert "\nr = 16\n" in path.read_text() and cfg.load("training").lora.r == 16
