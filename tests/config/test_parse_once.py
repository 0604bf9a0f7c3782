"""Each version of a config file is parsed once, however often it is read or located."""

from __future__ import annotations

import tomlkit

from llamahome_gui.config import store
from llamahome_gui.config.manager import ConfigManager


def test_each_file_version_is_parsed_once(config_dir, monkeypatch) -> None:
    path = config_dir / "training_config.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("seed = 42", "seed = 42\nsede = 1\nsed = 2"), encoding="utf-8")
    store._PARSED.clear()
    parsed: list[str] = []
    real = tomlkit.parse
    monkeypatch.setattr(tomlkit, "parse", lambda t: parsed.append(t) or real(t))
    cfg = ConfigManager(config_dir)
    for _ in range(3):
        warnings = [w for name in cfg.components() for w in cfg.check(name).warnings]
    assert len(parsed) == len(cfg.components())          # one parse per file, not per read
    lines = {w.key_path: w.line for w in warnings}
    seed_line = text.splitlines().index("seed = 42") + 1
    assert lines["training.training.sede"] == seed_line + 1  # located in the cached parse
    assert lines["training.training.sed"] == seed_line + 2
    path.write_text(text.replace("seed = 42", "seed = 7"), encoding="utf-8")
    assert cfg.load("training").training.seed == 7       # a new version is parsed again
    assert len(parsed) == len(cfg.components()) + 1
