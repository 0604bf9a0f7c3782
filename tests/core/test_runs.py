"""Run folders and the history reader the Runs page uses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

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


def write_events(run_dir: Path, *events: dict, tail: str = "") -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(e) + "\n" for e in events) + tail
    (run_dir / "events.jsonl").write_text(text, encoding="utf-8")
    return run_dir


def start(pid: int, t: float, **extra) -> dict:
    return {"event": "start", "time": t, "pid": pid, "total_steps": 10,
            "config": {"model": "/m/SmolLM2", "dataset": "/d/data.jsonl"}, **extra}


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
                 {"event": "step", "time": now - 40, "step": 10, "max_steps": 10, "loss": 0.5},
                 {"event": "done", "time": now - 30, "step": 10, "adapter": "/x/adapter",
                  "final_loss": 0.5, "duration_s": 20.0})
    write_events(tmp_path / "b-stopped", start(1, now - 40),
                 {"event": "step", "time": now - 35, "step": 3, "max_steps": 10, "loss": 1.0},
                 {"event": "stopped", "time": now - 30, "step": 3, "checkpoint": "/c"})
    write_events(tmp_path / "c-error", start(1, now - 30),
                 {"event": "error", "time": now - 29, "message": "out of memory", "hint": "h"})
    write_events(tmp_path / "d-died", start(dead_pid(), now - 20),
                 {"event": "step", "time": now - 19, "step": 2, "max_steps": 10, "loss": 1.5})
    write_events(tmp_path / "e-running", start(os.getpid(), now),
                 {"event": "step", "time": now - 9, "step": 4, "max_steps": 10, "loss": 1.2},
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
                       {"event": "stopped", "time": now - 15, "step": 3, "checkpoint": "/c"},
                       start(os.getpid(), now, resumed_from=3))
    info = run_info(run)
    assert info.status == "running" and info.steps == 3


def test_read_events_skips_torn_and_foreign_lines(tmp_path):
    write_events(tmp_path, {"event": "start", "pid": 1}, tail='not json\n[1, 2]\n{"event": "st')
    assert read_events(tmp_path) == [{"event": "start", "pid": 1}]
    assert read_events(tmp_path / "missing") == []


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


def test_is_alive():
    assert is_alive(os.getpid())
    assert not is_alive(dead_pid())
    assert not is_alive(None)
    # a live process started long after the run began is someone else's
    assert not is_alive(os.getpid(), started=time.time() - 10**7)
