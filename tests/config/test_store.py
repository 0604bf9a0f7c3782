"""The TOML store keeps the user's bytes: untouched files stay identical, an edit changes
exactly the edited line (CRLF stays CRLF), the same value again writes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llamahome_gui.config.manager import ConfigManager
from llamahome_gui.config.schema import COMPONENTS
from llamahome_gui.config.store import locate, match_newlines, read_text
from tests.config.awkward import AWKWARD

SHIPPED = Path(__file__).resolve().parents[2] / "config"


def _lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\n")


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_shipped_file_round_trips_byte_for_byte(config_dir: Path, component: str) -> None:
    path = config_dir / f"{component}_config.toml"
    before = path.read_bytes()
    source = read_text(path)
    assert source.encode(source.render(source.parse())) == before
    # every key set to the value it already has: nothing is written at all
    cfg = ConfigManager(config_dir)
    values = cfg.load(component).model_dump()
    flat = {f"{s}.{k}": v for s, sec in values.items() if isinstance(sec, dict)
            for k, v in sec.items()}
    mtime = path.stat().st_mtime_ns
    assert cfg.update(component, flat) == []
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == mtime
    assert not path.with_name(path.name + ".bak").exists()


@pytest.mark.parametrize("name", list(AWKWARD))
def test_awkward_file_edit_changes_exactly_one_line(tmp_path: Path, name: str) -> None:
    raw = AWKWARD[name]
    path = tmp_path / "resource_config.toml"
    path.write_bytes(raw)
    cfg = ConfigManager(tmp_path)
    assert cfg.load("resource").gpu.memory_fraction == 0.9

    assert cfg.update("resource", {"gpu.memory_fraction": 0.9}) == []
    assert path.read_bytes() == raw, "same value again must leave the bytes alone"

    assert cfg.update("resource", {"gpu.memory_fraction": 0.5}) == ["resource.gpu.memory_fraction"]
    new = path.read_bytes()
    old_lines, new_lines = _lines(raw), _lines(new)
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert len(changed) == 1
    before, after = changed[0]
    assert before.replace(b"0.9", b"0.5", 1) == after  # indent, comment, CR all kept
    assert new.startswith(b"\xef\xbb\xbf") == raw.startswith(b"\xef\xbb\xbf")
    assert cfg.load("resource").gpu.memory_fraction == 0.5
    assert path.with_name("resource_config.toml.bak").read_bytes() == raw


def test_new_keys_in_crlf_file_get_crlf(tmp_path: Path) -> None:
    path = tmp_path / "resource_config.toml"
    path.write_bytes(AWKWARD["crlf"])
    cfg = ConfigManager(tmp_path)
    changed = cfg.update("resource", {"monitor.cpu_threshold": 0.5, "gpu.enable_tf32": False})
    assert sorted(changed) == ["resource.gpu.enable_tf32", "resource.monitor.cpu_threshold"]
    text = path.read_bytes()
    assert b"\r\ncpu_threshold = 0.5\r\n" in text and b"\r\nenable_tf32 = false\r\n" in text
    assert text.count(b"\n") == text.count(b"\r\n"), "every line ends in CRLF"
    assert AWKWARD["crlf"].split(b"\r\n")[0] in text  # the comment survives


def test_match_newlines_only_touches_new_lines() -> None:
    old = "a = 1\r\nb = 2\r\n"
    assert match_newlines(old, "a = 1\r\nb = 3\nc = 4\n") == "a = 1\r\nb = 3\r\nc = 4\r\n"
    assert match_newlines("a = 1\n", "a = 2\n") == "a = 2\n"


def test_locate_reports_line_and_column_for_every_layout() -> None:
    for name, raw in AWKWARD.items():
        text = raw.decode("utf-8").lstrip("\ufeff")
        line, column = locate(text, ["gpu", "memory_fraction"])
        assert "0.9" in text.split("\n")[line - 1], name
        assert text.split("\n")[line - 1][column - 1:].startswith("0.9"), name


def test_missing_file_falls_back_to_defaults_and_is_created_on_edit(tmp_path: Path) -> None:
    cfg = ConfigManager(tmp_path)
    assert cfg.load("training") == COMPONENTS["training"]()
    assert cfg.source("training.lora.r") == "default"
    checked = cfg.check("training")
    assert "file not found; schema defaults are used" in str(checked.warnings[0])
    assert cfg.update("training", {"lora.r": 8}) == ["training.lora.r"]
    text = (tmp_path / "training_config.toml").read_text(encoding="utf-8")
    assert "r = 8" in text and "# Rank of the LoRA update matrices" in text  # shipped comments
    assert cfg.load("training").lora.r == 8


def test_missing_keys_fall_back_to_defaults(tmp_path: Path) -> None:
    (tmp_path / "resource_config.toml").write_text("[gpu]\nmemory_fraction = 0.3\n")
    cfg = ConfigManager(tmp_path)
    loaded = cfg.load("resource")
    assert loaded.gpu.memory_fraction == 0.3
    assert loaded.monitor.check_interval == COMPONENTS["resource"]().monitor.check_interval
    assert cfg.source("resource.gpu.memory_fraction") == "file"
    assert cfg.source("resource.gpu.allow_growth") == "default"


def test_save_keeps_file_mode_and_leaves_no_temp_files(config_dir: Path) -> None:
    path = config_dir / "training_config.toml"
    os.chmod(path, 0o600)
    ConfigManager(config_dir).update("training", {"training.max_steps": 7})
    assert path.stat().st_mode & 0o777 == 0o600
    assert not [p for p in config_dir.iterdir() if p.name.endswith(".tmp")]


def test_preview_diff_shows_the_change_without_writing(config_dir: Path) -> None:
    path = config_dir / "training_config.toml"
    before = path.read_bytes()
    diff = ConfigManager(config_dir).preview_diff("training", {"lora.r": 48})
    assert path.read_bytes() == before
    assert "--- a/training_config.toml" in diff
    assert "-r = 16\n" in diff and "+r = 48\n" in diff
    assert [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in
            ("---", "+++")] == ["-r = 16", "+r = 48"]
    assert ConfigManager(config_dir).preview_diff("training", {"lora.r": 16}) == ""
