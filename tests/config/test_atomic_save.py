"""A writer killed (SIGKILL) in the middle of a save leaves the old file or the new one,
never a torn one -- checked with real child processes stopped inside each step of the save,
at random moments, and against a naive writer that must fail the same check."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from llamahome_gui.config.manager import ConfigManager

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

REPO = Path(__file__).resolve().parents[2]
CHILD = r'''
import os, signal, sys
mode, target, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
from llamahome_gui.config import manager
from llamahome_gui.config.manager import ConfigManager

def stop_here():
    print("in-save", flush=True)
    signal.pause()          # the parent kills us here

calls = {"fsync": 0, "replace": 0}
def counting(name, real):
    def wrapper(*args):
        calls[name] += 1
        if name == mode and calls[name] == target:
            stop_here()
        return real(*args)
    return wrapper

os.fsync = counting("fsync", os.fsync)
os.replace = counting("replace", os.replace)
if mode == "naive":
    def naive_write(path, data, backup=False):
        with open(path, "wb") as fh:
            fh.write(data[: len(data) // 2]); fh.flush()
            stop_here()
            fh.write(data[len(data) // 2:])
    manager.atomic_write = naive_write

cfg = ConfigManager(folder, env={})
if mode == "loop":
    i = 0
    while True:
        cfg.update("training", {"lora.r": 8 if i % 2 else 16, "training.max_steps": i % 2})
        print("saved", flush=True)
        i += 1
cfg.update("training", {"lora.r": 8, "training.max_steps": 1})
print("done", flush=True)
'''


def _child(tmp: Path, mode: str, target: int, folder: Path) -> subprocess.Popen[str]:
    script = tmp / "writer.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, str(script), mode, str(target), str(folder)],
                            stdout=subprocess.PIPE, text=True, env=env)


def _kill_after(proc: subprocess.Popen[str], marker: str, count: int = 1) -> None:
    assert proc.stdout is not None
    for _ in range(count):
        line = proc.stdout.readline()
        assert line.strip() == marker, f"child said {line!r}"
    proc.kill()
    proc.wait()


@pytest.fixture
def versions(config_dir: Path) -> tuple[bytes, bytes]:
    """(old, new) bytes of training_config.toml around the child's edit."""
    path = config_dir / "training_config.toml"
    old = path.read_bytes()
    ConfigManager(config_dir, env={}).update("training", {"lora.r": 8, "training.max_steps": 1})
    new = path.read_bytes()
    path.write_bytes(old)
    path.with_name(path.name + ".bak").unlink()
    return old, new


# (patched call, which call stops): bak temp written | bak in place | target temp written |
# just before the rename | after the rename
STOPS = [("fsync", 1), ("replace", 1), ("fsync", 3), ("replace", 2), ("fsync", 4)]


@pytest.mark.parametrize(("mode", "target"), STOPS, ids=[f"{m}{t}" for m, t in STOPS])
def test_kill_inside_each_step_of_a_save(tmp_path: Path, config_dir: Path,
                                         versions: tuple[bytes, bytes], mode: str,
                                         target: int) -> None:
    path = config_dir / "training_config.toml"
    _kill_after(_child(tmp_path, mode, target, config_dir), "in-save")
    assert path.read_bytes() in versions
    if mode == "replace" and target == 2:
        assert path.read_bytes() == versions[0], "not renamed yet: the old file"
    if (mode, target) == ("fsync", 4):
        assert path.read_bytes() == versions[1], "renamed: the new file"
    bak = path.with_name(path.name + ".bak")
    assert not bak.exists() or bak.read_bytes() == versions[0]
    # the folder stays usable: a stray temp file is ignored and the next save works
    cfg = ConfigManager(config_dir, env={})
    assert cfg.components() == ["model", "training", "inference", "resource", "metrics",
                                "monitoring"]
    cfg.update("training", {"lora.r": 8, "training.max_steps": 1})
    assert path.read_bytes() == versions[1]


def test_kills_at_random_moments_of_repeated_saves(tmp_path: Path, config_dir: Path,
                                                   versions: tuple[bytes, bytes]) -> None:
    path = config_dir / "training_config.toml"
    rng = random.Random(1234)
    for _ in range(4):
        _kill_after(_child(tmp_path, "loop", 0, config_dir), "saved", rng.randint(1, 30))
        assert path.read_bytes() in versions
        assert ConfigManager(config_dir, env={}).load("training").lora.r in (8, 16)


def test_control_a_naive_writer_fails_the_same_check(tmp_path: Path, config_dir: Path,
                                                     versions: tuple[bytes, bytes]) -> None:
    path = config_dir / "training_config.toml"
    _kill_after(_child(tmp_path, "naive", 0, config_dir), "in-save")
    assert path.read_bytes() not in versions, "the check must be able to see a torn file"
