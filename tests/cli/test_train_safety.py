"""Runs that must not be lost or doubled: one trainer per run folder, a resume that fails
changes nothing, a run that fails early is listed with its reason, a full disk is named, a
checkpoint that holds code is refused. Real processes, real files, a real small disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from llamahome_gui.cli import main
from llamahome_gui.core.runs import list_checkpoints, read_events, run_info, write_run_config
from llamahome_gui.core.runs.events import (
    Checkpointed,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
)
from llamahome_gui.core.train import TrainingError, run_training
from tests.cli.test_train_cli import cli, tiny_args
from tests.core.test_train import make_configs, write_alpaca


def snapshot(run: Path) -> dict[str, bytes]:
    """Every file of a run folder and its bytes (what "nothing changed" means)."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_a_second_trainer_on_a_running_run_is_refused_and_the_first_goes_on(tiny_model_dir,
                                                                             tmp_path):
    data = write_alpaca(tmp_path / "d.json", repeat=8)
    run = tmp_path / "run"
    first = cli(*tiny_args(tiny_model_dir, data, "--set", "training.training.max_steps=400",
                           "--set", "training.training.per_device_train_batch_size=1",
                           "--set", "training.training.save_steps=2",
                           "--run-dir", str(run), "--events", "-"))
    try:
        for line in first.stdout:
            if json.loads(line)["event"] == "checkpoint":
                break
        started = time.monotonic()
        second = cli("--resume", str(run))
        out, err = second.communicate(timeout=120)
        refused_after = time.monotonic() - started
        assert second.returncode == 2, err
        assert f"error: {run} is being trained by process {first.pid}" in err
        assert "Traceback" not in err and out == ""
        print(f"second trainer refused after {refused_after:.2f} s")
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    finally:
        first.kill()
        first.wait()
    events = read_events(run)
    assert sum(isinstance(e, RunStarted) for e in events) == 1
    step_numbers = [e.step for e in events if isinstance(e, StepLogged)]
    assert step_numbers == list(range(1, len(step_numbers) + 1))
    assert run_info(run).status == "stopped"
    assert not (run / "trainer.lock").exists()  # the first trainer let go when it ended


def test_a_failed_resume_changes_nothing_and_a_plain_resume_still_works(tiny_model_dir, tmp_path,
                                                                         capsys):
    data = write_alpaca(tmp_path / "d.json")
    run = tmp_path / "run"
    assert main(["train", *tiny_args(tiny_model_dir, data, "--set", "training.lora.r=2",
                                     "--set", "training.training.max_steps=3",
                                     "--set", "training.training.save_steps=2",
                                     "--run-dir", str(run))]) == 0
    assert [p.name for p in list_checkpoints(run)] == ["step-000002"]
    before = snapshot(run)
    capsys.readouterr()

    # a changed LoRA shape: refused before anything is written, naming the key
    assert main(["train", "--resume", str(run), "--set", "training.lora.r=8",
                 "--set", "training.lora.target_modules=['q_proj']"]) == 2
    err = capsys.readouterr().err
    assert "training.lora.r is 2 there, 8 now" in err and "training.lora.target_modules" in err
    assert len(err.strip().splitlines()) == 2 and err.startswith("error: cannot resume")
    assert snapshot(run) == before

    # a checkpoint that holds code instead of tensors: refused in one line, nothing runs
    marker = tmp_path / "code-ran"
    optimizer = run / "checkpoints" / "step-000002" / "optimizer.pt"
    good = optimizer.read_bytes()
    _write_code_pickle(optimizer, f"touch {marker}")
    tampered = snapshot(run)
    assert main(["train", "--resume", str(run)]) == 1
    err = capsys.readouterr().err
    assert f"error: {optimizer} is not a valid checkpoint" in err and "Traceback" not in err
    assert not marker.exists() and snapshot(run) == tampered

    # the run is still resumable as it was
    optimizer.write_bytes(good)
    assert main(["train", "--resume", str(run), "--set", "training.training.max_steps=4"]) == 0
    events = read_events(run)
    assert [e.start_step for e in events if isinstance(e, RunStarted)] == [0, 2]
    assert isinstance(events[-1], RunFinished) and events[-1].step == 4


def _write_code_pickle(path: Path, command: str) -> None:
    import torch

    class Payload:
        def __reduce__(self):
            return (os.system, (command,))

    torch.save({"state": Payload()}, path)


def test_runs_that_fail_before_their_first_step_are_listed_with_the_reason(tiny_model_dir,
                                                                           tmp_path, capsys):
    from llamahome_gui.config.schema import COMPONENTS
    from llamahome_gui.core.runs import RUN_COMPONENTS, list_runs
    from llamahome_gui.core.runs.plan import plan_from_configs

    data = write_alpaca(tmp_path / "d.json")
    runs = tmp_path / "runs"
    # a new CLI run with a model that is not there: refused before a folder is made
    assert main(["train", *tiny_args(tmp_path / "nope", data, "--set",
                                     f"training.training.output_dir='{runs}'")]) == 1
    assert not runs.exists() or list(runs.iterdir()) == []
    # a new CLI run with a dataset that is not there: the trainer says so in the run
    assert main(["train", *tiny_args(tiny_model_dir, tmp_path / "none.jsonl", "--set",
                                     f"training.training.output_dir='{runs}'")]) == 1
    # a run folder the window prepared, refused by the memory check
    configs = {name: COMPONENTS[name]() for name in RUN_COMPONENTS}
    configs["model"].model.path = str(tiny_model_dir)
    configs["training"].training.dataset_path = str(data)
    configs["training"].training.output_dir = str(runs)
    configs["training"].training.max_seq_length = 131072
    configs["training"].training.per_device_train_batch_size = 1024
    gui_run = plan_from_configs(configs).create()
    assert main(["train", "--run-dir", str(gui_run)]) == 1
    capsys.readouterr()
    listed = {r.path: r for r in list_runs(runs)}
    assert len(listed) == 2 and {r.status for r in listed.values()} == {"failed"}
    assert "will not fit in memory" in listed[gui_run].error
    [other] = [r for p, r in listed.items() if p != gui_run]
    assert "none.jsonl does not exist" in other.error


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MB file system (tmpfs); skipped where mounting is not permitted."""
    mount = tmp_path / "small"
    mount.mkdir()
    tool = shutil.which("mount")
    if tool is None or subprocess.run([tool, "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> None:
    """Take the disk's free space down to about ``leave`` bytes."""
    free = shutil.disk_usage(disk).free
    with open(disk / "filler", "ab") as fh:
        fh.write(b"\0" * max(0, free - leave))


def test_a_full_disk_is_named_keeps_earlier_checkpoints_and_says_so_on_resume(
        tiny_model_dir, tmp_path, small_disk, capsys):
    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json"), max_steps=4,
                           save_steps=1)
    configs["monitoring"].visualization.tensorboard = False
    run = small_disk / "run"
    write_run_config(run, configs)

    def fill_after_first_checkpoint(event) -> None:
        if isinstance(event, Checkpointed) and event.step == 1:
            fill(small_disk, 48 * 1024)

    with pytest.raises(TrainingError) as err:
        run_training(run, configs, listeners=[fill_after_first_checkpoint])
    message = err.value.message
    assert message.startswith(f"no space left on {run}: ") and "MB free, a checkpoint needs about" \
        in message
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-000001"]  # no partial
    assert list_checkpoints(run)[-1].name == "step-000001"
    failure = read_events(run)[-1]
    assert isinstance(failure, RunFailed) and failure.message == message

    # resuming on the still-full disk: the same message, and nothing written
    before = snapshot(run)
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"error: no space left on {run}: ") and "Traceback" not in lines
    assert snapshot(run) == before


def test_a_checkpoint_that_fails_mid_write_leaves_no_partial_folder(tiny_model_dir, tmp_path,
                                                                    small_disk):
    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json"), max_steps=2,
                           save_steps=1)
    configs["monitoring"].visualization.tensorboard = False
    run = small_disk / "run"

    def fill_after_first_step(event) -> None:
        if isinstance(event, StepLogged) and event.step == 1:
            fill(small_disk, 24 * 1024)  # less than the adapter's weights alone

    with pytest.raises(TrainingError) as err:
        run_training(run, configs, listeners=[fill_after_first_step])
    assert err.value.message.startswith(f"no space left on {run}: ")
    assert "enforce fail" not in str(err.value) and "bug" not in err.value.hint
    assert list((run / "checkpoints").iterdir()) == []


def test_a_full_disk_leaves_no_empty_run_folder(tiny_model_dir, tmp_path, small_disk, capsys):
    runs = small_disk / "runs"
    runs.mkdir()
    fill(small_disk, 0)
    data = write_alpaca(tmp_path / "d.json")
    assert main(["train", *tiny_args(tiny_model_dir, data, "--set",
                                     f"training.training.output_dir='{runs}'")]) == 1
    err = capsys.readouterr().err
    assert f"cannot write the run folder under {runs}" in err and "No space left" in err
    assert list(runs.iterdir()) == []
