"""Presets: checked overlays; applying writes only the keys whose value changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamahome_gui.config.errors import ConfigError, ConfigValidationError, display_path
from llamahome_gui.config.manager import ConfigManager


def _file_lines(folder: Path) -> dict[str, list[str]]:
    return {p.name: p.read_text().split("\n") for p in sorted(folder.glob("*_config.toml"))}


def test_shipped_presets_exist_and_validate(config_dir: Path) -> None:
    cfg = ConfigManager(config_dir)
    assert {"low-memory", "fast-debug", "quality"} <= set(cfg.presets())
    for name in cfg.presets():
        preset = cfg.preset(name)
        assert preset.description and preset.values


def test_preset_values_without_writing(config_dir: Path) -> None:
    cfg = ConfigManager(config_dir)
    before = _file_lines(config_dir)
    values = cfg.preset_values("fast-debug")
    assert values["training"]["training.max_steps"] == 10
    assert values["monitoring"]["logging.log_level"] == "DEBUG"
    assert _file_lines(config_dir) == before


@pytest.mark.parametrize("name", ["low-memory", "fast-debug", "quality"])
def test_applying_writes_only_changed_keys(config_dir: Path, name: str) -> None:
    cfg = ConfigManager(config_dir)
    before = _file_lines(config_dir)
    preset = cfg.preset(name)
    changed = cfg.apply_preset(name)
    after = _file_lines(config_dir)
    for component, keys in changed.items():
        file = f"{component}_config.toml"
        diff = [(a, b) for a, b in zip(before[file], after[file], strict=True) if a != b]
        assert len(diff) == len(keys)
        expected = {k for k, v in preset.values[component].items()
                    if cfg.model_class(component)().model_dump()[k.split(".")[0]][
                        k.split(".")[1]] != v}
        assert {k.split(".", 1)[1] for k in keys} == expected
    for component, values in preset.values.items():
        for rel, value in values.items():
            assert cfg.get(f"{component}.{rel}") == value
    assert all(v == [] for v in cfg.apply_preset(name).values()), "second apply writes nothing"


def test_bad_preset_is_refused_before_anything_is_written(config_dir: Path) -> None:
    folder = config_dir / "presets" / "broken"
    folder.mkdir(parents=True)
    (folder / "training_config.toml").write_text("[lora]\nr = 8\n")
    (folder / "resource_config.toml").write_text("[gpu]\n# too much\nmemory_fraction = 2.0\n")
    cfg = ConfigManager(config_dir)
    before = _file_lines(config_dir)
    with pytest.raises(ConfigValidationError) as info:
        cfg.apply_preset("broken")
    assert str(info.value) == (f"{display_path(folder / 'resource_config.toml')}:3: "
                               "resource.gpu.memory_fraction = 2.0: must be <= 1.0")
    assert _file_lines(config_dir) == before


def test_unknown_preset_lists_the_known_ones(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"no preset 'low-mem'; did you mean low-memory\? "
                                          r"\(presets: fast-debug, low-memory, quality\)"):
        ConfigManager(config_dir).preset("low-mem")
