"""``llamahome config set`` on unlucky files: symlinks, read-only files and folders, a bad
environment variable, leftovers of killed saves, duplicate keys (NaN: test_config_cli). A non-zero exit always
means the file's bytes are unchanged."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cli.test_config_cli import REPO, run


@pytest.fixture
def c(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    return target


def test_symlinked_config_keeps_its_link_and_the_target_gets_the_value(c: Path,
                                                                        tmp_path: Path) -> None:
    real_dir = tmp_path / "dotfiles"
    real_dir.mkdir()
    real = real_dir / "training_config.toml"
    shutil.move(c / "training_config.toml", real)
    link = c / "training_config.toml"
    link.symlink_to(real)
    result = run("set", "training.lora.r", "12", "--config-dir", str(c), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and link.resolve() == real
    assert "r = 12" in real.read_text()
    assert not list(c.glob(".*.tmp")) and not list(real_dir.glob(".*.tmp"))


def test_read_only_file_is_refused_and_unchanged(c: Path, tmp_path: Path) -> None:
    path = c / "training_config.toml"
    before = path.read_bytes()
    path.chmod(0o444)
    result = run("set", "training.lora.r", "12", "--config-dir", "config", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("config/training_config.toml is read-only")
    assert len(result.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert not list(c.glob(".*.tmp")) and not (c / "training_config.toml.bak").exists()


def test_mode_and_owner_are_kept_by_a_save(c: Path, tmp_path: Path) -> None:
    path = c / "training_config.toml"
    path.chmod(0o600)
    owner = (path.stat().st_uid, path.stat().st_gid)
    if os.geteuid() == 0:  # root saves another user's file: it stays theirs
        owner = (65534, 65534)
        os.chown(path, *owner)
    assert run("set", "training.lora.r", "12", "--config-dir", str(c),
               cwd=tmp_path).returncode == 0
    assert "r = 12" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (path.stat().st_uid, path.stat().st_gid) == owner


def _as_other_user() -> list[str]:
    """Run as nobody when we are root (root may write into a 0555 folder)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a folder read-only")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@contextmanager
def shared_tmp() -> Iterator[tuple[Path, dict[str, str]]]:
    """A temp folder another user can enter (pytest's are private) holding a copy of the
    shipped config, and the environment that keeps the user folders inside it."""
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp)
        top.chmod(0o755)
        shutil.copytree(REPO / "config", top / "config")
        yield top, {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(top),
                    "LLAMAHOME_CONFIG_HOME": str(top / "u"),
                    "LLAMAHOME_DATA_HOME": str(top / "d")}


def test_read_only_folder_error_names_the_config_file() -> None:
    with shared_tmp() as (top, env):
        c = top / "config"
        path = c / "training_config.toml"
        path.chmod(0o666)
        before = path.read_bytes()
        c.chmod(0o555)
        try:
            result = subprocess.run(
                [*_as_other_user(), sys.executable, "-m", "llamahome_gui", "config", "set",
                 "training.lora.r", "12", "--config-dir", "config"], cwd=top, env=env,
                capture_output=True, text=True, timeout=120)
        finally:
            c.chmod(0o755)
        assert result.returncode == 1
        line = result.stderr.strip()
        assert line.startswith("cannot save config/training_config.toml: the folder config is "
                               "not writable"), line
        assert ".tmp" not in line and ".lock" not in line and "\n" not in line
        assert path.read_bytes() == before


def test_bad_env_var_with_set_exits_2_and_writes_nothing(c: Path, tmp_path: Path) -> None:
    path = c / "training_config.toml"
    before = path.read_bytes()
    result = run("set", "training.lora.r", "8", "--config-dir", str(c), cwd=tmp_path,
                 env={"LLAMAHOME_LORA_R": "abc"})
    assert result.returncode == 2
    assert "LLAMAHOME_LORA_R" in result.stderr and "whole number" in result.stderr
    assert path.read_bytes() == before
    assert not (c / "training_config.toml.bak").exists()


def test_leftover_temp_files_go_at_the_next_save(c: Path, tmp_path: Path) -> None:
    stale = [c / ".training_config.toml.k1ll3d.tmp", c / ".training_config.toml.bak.x9.tmp"]
    for f in stale:
        f.write_text("half a save")
    other = c / ".model_config.toml.abc.tmp"
    other.write_text("another file's")
    assert run("set", "training.lora.r", "12", "--config-dir", str(c),
               cwd=tmp_path).returncode == 0
    assert not any(f.exists() for f in stale)
    assert other.exists(), "only the saved file's leftovers are removed"


def test_duplicate_key_names_its_line(c: Path, tmp_path: Path) -> None:
    path = c / "training_config.toml"
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("r = "))
    lines.insert(at + 1, "r = 4")
    path.write_text("\n".join(lines) + "\n")
    result = run("validate", "--config-dir", str(c), cwd=tmp_path)
    assert result.returncode == 2
    assert f"training_config.toml:{at + 2}:" in result.stderr, result.stderr
    assert 'Key "r" already exists' in result.stderr
