"""Two writers of one config file at the same moment: neither edit is lost.

Real processes running the real ``llamahome config set``, threads calling
``ConfigManager.update`` released together by a barrier, and the window's Save racing the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from llamahome_gui.config.manager import ConfigManager

REPO = Path(__file__).resolve().parents[2]

# Each child imports everything first, then runs one `config set` per line it is sent, so the
# two children start their saves at the same moment (not one python start-up apart).
GATED_CHILD = r'''
import contextlib, io, sys
from llamahome_gui.cli import main
folder, key = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["config", "set", key, line.strip(), "--config-dir", folder])
    print(code, err.getvalue().strip().replace("\n", " | "), flush=True)
'''


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _values(folder: Path) -> tuple[int, int]:
    t = ConfigManager(folder, env={}).load("training")
    return t.lora.r, t.training.max_steps


def test_two_cli_processes_released_together_never_lose_an_edit(config_dir: Path,
                                                                tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(GATED_CHILD)
    keys = ("training.lora.r", "training.training.max_steps")
    children = [subprocess.Popen([sys.executable, str(script), str(config_dir), key],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 env=_env()) for key in keys]
    lost = []
    try:
        for i in range(1, 21):
            for child in children:
                assert child.stdin is not None
                child.stdin.write(f"{i}\n")
                child.stdin.flush()
            for child in children:
                assert child.stdout is not None
                answer = child.stdout.readline()
                assert answer.startswith("0 "), f"round {i}: child said {answer!r}"
            if _values(config_dir) != (i, i):
                lost.append((i, _values(config_dir)))
    finally:
        for child in children:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=120)
    assert lost == [], f"edits lost in rounds {lost}"
    text = (config_dir / "training_config.toml").read_text()
    assert "# LoRA" in text or text.count("#") > 10, "comments survive the saves"


def test_two_llamahome_config_set_commands_at_once(config_dir: Path, tmp_path: Path) -> None:
    """The acceptance case as a user types it (fewer rounds: each is two python starts)."""
    for i in range(1, 4):
        procs = [subprocess.Popen(
            [sys.executable, "-m", "llamahome_gui", "config", "set", key, str(i + 40),
             "--config-dir", str(config_dir)], cwd=tmp_path, env=_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for key in ("training.lora.r", "training.training.max_steps")]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert "written to" in out
        assert _values(config_dir) == (i + 40, i + 40)


def _edit_after(barrier: threading.Barrier, folder: Path, values: dict[str, int],
                errors: list[BaseException]) -> None:
    cfg = ConfigManager(folder, env={})
    barrier.wait()
    try:
        cfg.update("training", values)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def test_threads_behind_a_barrier_keep_both_edits(config_dir: Path) -> None:
    for i in range(1, 31):
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_edit_after, args=(barrier, config_dir, v, errors))
                   for v in ({"lora.r": i}, {"training.max_steps": i})]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert _values(config_dir) == (i, i), f"round {i}"


def test_window_save_and_cli_set_both_survive(qtbot, config_dir: Path, tmp_path: Path) -> None:
    """The window's Save goes through the same locked path: an edit made on disk by the
    CLI to another key after the window loaded is kept, and the window's edit lands too."""
    from llamahome_gui.ui.state import ConfigState

    state = ConfigState(ConfigManager(config_dir), watch=False)
    state.set_value("training.lora.r", 24)
    done = subprocess.run([sys.executable, "-m", "llamahome_gui", "config", "set",
                           "training.training.max_steps", "77", "--config-dir", str(config_dir)],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert state.save("training") == {"training": ["training.lora.r"]}
    assert _values(config_dir) == (24, 77)
