""""This looks like a bug" only for failures that are not the user's machine or files."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from llamahome_gui.core.runs import read_events
from llamahome_gui.core.train import run_training
from llamahome_gui.core.train.checkpoint import CHECKPOINT_PREFIX
from llamahome_gui.core.train.errors import BUG_HINT, failure_hint
from tests.core.test_train import make_configs, write_alpaca


def test_a_run_folder_problem_is_not_called_a_bug(tiny_model_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / f"{CHECKPOINT_PREFIX}000001").write_text(
        "a file where the first checkpoint folder goes")
    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json"), max_steps=2,
                           save_steps=1)
    with pytest.raises(OSError):
        run_training(run_dir, configs)
    errors = [e for e in read_events(run_dir) if e["event"] == "error"]
    assert len(errors) == 1
    assert "looks like a bug" not in errors[0]["hint"]
    assert errors[0]["hint"].startswith("check the file or folder named above")


@pytest.mark.parametrize(("exc", "start"), [
    (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
    (PermissionError(errno.EACCES, "Permission denied"), "make the file or folder"),
    (MemoryError(), "the machine ran out of memory"),
    (KeyError("lm_head"), BUG_HINT),
])
def test_hint_by_kind_of_failure(exc: BaseException, start: str) -> None:
    assert failure_hint(exc).startswith(start)
