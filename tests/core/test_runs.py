"""Run folders and the history reader the Runs page uses."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llamahome_gui.config.schema import COMPONENTS
from llamahome_gui.core.runs import (
    RUN_COMPONENTS,
    is_alive,
    latest_checkpoint,
    list_runs,
    new_run_dir,
    read_events,
    read_run_config,
    run_info,
    write_run_config,
)
from llamahome_gui.core.runs.events import (
    EVENT_TYPES,
    EVENTS_FILE,
    Checkpointed,
    Evaluated,
    EventTail,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    SampleGenerated,
    StatusReported,
    StepLogged,
    encode,
    parse_record,
)
from llamahome_gui.core.runs.liveness import process_created


def write_events(run_dir: Path, *events, tail: str = "") -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    text = "".join(encode(e) + "\n" for e in events) + tail
    (run_dir / EVENTS_FILE).write_text(text, encoding="utf-8")
    return run_dir


def start(pid: int, t: float, **extra) -> RunStarted:
    return RunStarted(time=t, pid=pid, total_steps=10,
                      config={"model": "/m/SmolLM2", "dataset": "/d/data.jsonl"}, **extra)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_new_run_dir_is_timestamped_and_unique(tmp_path):
    a = new_run_dir(tmp_path, "SmolLM2 135M / my data")
    b = new_run_dir(tmp_path, "SmolLM2 135M / my data")
    assert re.fullmatch(r"\d{8}-\d{6}-SmolLM2-135M-my-data", a.name)
    assert a != b and a.is_dir() and b.is_dir()


def test_empty_output_dir_means_the_user_runs_folder(isolated_user_dirs):
    folder = new_run_dir("", "x")
    assert folder.parent == isolated_user_dirs / "data" / "runs"


def test_run_config_snapshot_round_trips(tmp_path):
    configs = {name: COMPONENTS[name]() for name in RUN_COMPONENTS}
    configs["training"].training.max_steps = 7
    configs["training"].lora.target_modules = ["q_proj", "v_proj"]
    write_run_config(tmp_path, configs)
    back = read_run_config(tmp_path)
    assert back["training"].training.max_steps == 7
    assert back["training"].lora.target_modules == ["q_proj", "v_proj"]
    assert back == configs


def test_statuses_follow_the_last_word_of_each_run(tmp_path):
    now = time.time()
    write_events(tmp_path / "a-done", start(1, now - 50),
                 StepLogged(time=now - 40, step=10, max_steps=10, loss=0.5),
                 RunFinished(time=now - 30, step=10, adapter="/x/adapter", final_loss=0.5,
                             duration_s=20.0))
    write_events(tmp_path / "b-stopped", start(1, now - 40),
                 StepLogged(time=now - 35, step=3, max_steps=10, loss=1.0),
                 RunStopped(time=now - 30, step=3, checkpoint="/c"))
    write_events(tmp_path / "c-error", start(1, now - 30),
                 RunFailed(time=now - 29, message="out of memory", hint="h"))
    write_events(tmp_path / "d-died", start(dead_pid(), now - 20),
                 StepLogged(time=now - 19, step=2, max_steps=10, loss=1.5))
    write_events(tmp_path / "e-running", start(os.getpid(), now, pid_created=process_created()),
                 StepLogged(time=now - 9, step=4, max_steps=10, loss=1.2),
                 tail='{"event": "step", "st')  # the trainer is writing this line right now
    runs = {r.name: r for r in list_runs(tmp_path)}
    assert {n: r.status for n, r in runs.items()} == {
        "a-done": "done", "b-stopped": "stopped", "c-error": "failed", "d-died": "failed",
        "e-running": "running"}
    assert [r.name for r in list_runs(tmp_path)][0] == "e-running"  # newest first
    done = runs["a-done"]
    assert (done.steps, done.max_steps, done.final_loss, done.duration_s) == (10, 10, 0.5, 20.0)
    assert done.model == "/m/SmolLM2" and done.dataset == "/d/data.jsonl"
    assert runs["c-error"].error == "out of memory"
    assert "without a final event" in runs["d-died"].error
    assert runs["e-running"].steps == 4 and runs["e-running"].pid == os.getpid()


def test_a_resumed_run_reads_running_again(tmp_path):
    now = time.time()
    run = write_events(tmp_path / "r", start(1, now - 20),
                       RunStopped(time=now - 15, step=3, checkpoint="/c"),
                       start(os.getpid(), now, start_step=3, pid_created=process_created()))
    info = run_info(run)
    assert info.status == "running" and info.steps == 3


def test_read_events_skips_torn_and_foreign_lines(tmp_path):
    first = start(1, 5.0)
    write_events(tmp_path, first, tail='not json\n[1, 2]\n{"event": "step", "step": "x"}\n'
                 '{"event": "st')
    tail = EventTail(tmp_path)
    assert tail.read() == [first]
    assert len(tail.bad_lines) == 3  # the torn last line is not bad: it is not finished yet
    assert read_events(tmp_path / "missing") == []


# one example of every event kind, with every field set away from its default
EXAMPLES = [
    StatusReported(time=1.5, message="loading /m"),
    RunStarted(time=2.0, total_steps=40, pid=123, pid_created=1.25, start_step=7,
               trainable_params=10, total_params=100, steps_per_epoch=5,
               config={"model": "/m", "notes": ["a"]}),
    StepLogged(time=3.0, step=8, max_steps=40, loss=1.25, lr=1e-4, epoch=1.6, grad_norm=0.5,
               tokens_per_s=99.5, elapsed_s=12.0, eta_s=30.0, rewards_chosen=0.5,
               rewards_rejected=-0.25, reward_margin=0.75, reward_accuracy=0.875),
    Evaluated(time=4.0, step=8, eval_loss=1.5, elapsed_s=13.0, eval_rewards_chosen=0.25,
              eval_rewards_rejected=-0.5, eval_reward_margin=0.75, eval_reward_accuracy=1.0),
    SampleGenerated(time=4.5, step=8, prompt="Who are you?", text="I am Nova.", seconds=1.25),
    Checkpointed(time=5.0, step=8, path="/r/checkpoints/step-000008"),
    RunStopped(time=6.0, step=8, checkpoint="/r/checkpoints/step-000008", forced=True),
    RunFailed(time=7.0, message="bad", hint="fix it", step=8, exit_code=3),
    RunFinished(time=8.0, adapter="/r/adapter", step=40, final_loss=0.5, duration_s=60.0,
                reason="max_steps"),
]


def test_every_event_kind_round_trips_through_a_json_line():
    assert {type(e) for e in EXAMPLES} == set(EVENT_TYPES.values())  # none left out
    for event in EXAMPLES:
        for f in dataclasses.fields(event):  # the example really sets every field
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING \
                else f.default
            assert getattr(event, f.name) != default, (type(event).__name__, f.name)
        line = encode(event)
        record = json.loads(line)
        assert record["event"] == event.kind
        assert parse_record(record) == event
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.time = 0.0


def test_nan_is_written_as_null_and_read_back_as_a_gap():
    record = json.loads(encode(StepLogged(step=1, loss=float("nan"))))
    assert record["loss"] is None
    assert parse_record(record).loss is None


def test_old_run_folders_read_through_the_compatibility_step(tmp_path):
    """A trainer before the dataclasses wrote resumed_from; it reads as start_step."""
    old = {"event": "start", "time": 1.0, "pid": 1, "total_steps": 9, "resumed_from": 4}
    (tmp_path / EVENTS_FILE).write_text(json.dumps(old) + "\n")
    [event] = read_events(tmp_path)
    assert event.start_step == 4 and run_info(tmp_path).steps == 4


def test_latest_checkpoint_ignores_unfinished_folders(tmp_path):
    root = tmp_path / "checkpoints"
    for step, complete in ((5, True), (10, True), (15, False)):
        folder = root / f"step-{step:06d}"
        folder.mkdir(parents=True)
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    (root / ".step-000020.tmp").mkdir()
    assert latest_checkpoint(tmp_path) == root / "step-000010"
    assert latest_checkpoint(tmp_path / "nothing") is None


def test_is_alive_is_safe_against_pid_reuse():
    me = process_created()
    assert is_alive(os.getpid()) and is_alive(os.getpid(), me)
    assert not is_alive(dead_pid())
    assert not is_alive(None)
    # the same number with another start time is another process
    assert not is_alive(os.getpid(), me - 3600)
    # an old record only knows when the event was written: a process born long after it
    # is someone else's
    assert not is_alive(os.getpid(), started_before=time.time() - 10**7)
