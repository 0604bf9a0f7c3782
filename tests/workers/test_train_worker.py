"""TrainWorker against a small stand-in trainer script that writes the same events.jsonl lines.

The real trainer is exercised end to end by the Train page tests; here the process behaviours
(crash, kill -9, ignoring SIGINT, an error event) are produced on demand.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llamahome_gui.core.runs.events import EventTail, LineTail, RunStarted, read_events
from llamahome_gui.workers.train_worker import TrainState, TrainWorker

FAKE_TRAINER = textwrap.dedent('''
    import argparse, json, os, signal, sys, time
    sys.path.insert(0, REPO)
    from llamahome_gui.core.runs.events import (
        EVENTS_FILE, Checkpointed, Evaluated, RunFailed, RunFinished, RunStarted, RunStopped,
        StepLogged, encode, read_events)
    p = argparse.ArgumentParser()
    p.add_argument("--run-dir", required=True)
    p.add_argument("--config-dir")
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--resume")
    p.add_argument("--force", action="store_true")
    a = p.parse_args()
    mode = os.environ.get("FAKE_MODE", "done")
    run = a.run_dir
    ev = open(os.path.join(run, EVENTS_FILE), "a")
    def emit(event):
        ev.write(encode(event) + "\\n"); ev.flush()
    stop = []
    if mode == "loading":  # Stop pressed while the model loads: no handler of our own yet
        # Python's default (KeyboardInterrupt), set explicitly as the real trainer does: a
        # runner that starts the tests with SIGINT ignored (a background job without job
        # control) passes SIG_IGN down to us, and this Stop would never arrive.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("loading", flush=True)
        signal.pause()
    if mode == "hang":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    first = 0
    if a.resume:
        first = max(e.step for e in read_events(a.resume) if isinstance(e, Checkpointed))
    total = int(os.environ.get("FAKE_TOTAL", "5")) if mode == "done" else 10**6
    emit(RunStarted(total_steps=total, trainable_params=1234, pid=os.getpid(),
                    config={"sets": a.set}, start_step=first))
    print("trainer: loading model", flush=True)
    if mode == "crash":
        sys.exit(3)
    if mode == "refuse":
        print("error: this run will not fit in memory; add --force", file=sys.stderr)
        print("hint: lower the batch size", file=sys.stderr)
        sys.exit(1)
    if mode == "error":
        emit(RunFailed(message="data.jsonl:3: invalid JSON", hint="fix line 3"))
        sys.exit(1)
    step = first
    while step < total:
        step += 1
        emit(StepLogged(step=step, max_steps=total, epoch=step / 5, loss=3.0 / step, lr=1e-4,
                        grad_norm=1.0, tokens_per_s=100.0, elapsed_s=step * 0.1, eta_s=1.0))
        if step % 2 == 0:
            emit(Evaluated(step=step, eval_loss=3.5 / step))
            os.makedirs(os.path.join(run, "checkpoints", f"step-{step}"), exist_ok=True)
            emit(Checkpointed(step=step, path=os.path.join(run, "checkpoints", f"step-{step}")))
        if stop:
            ck = os.path.join(run, "checkpoints", f"step-{step}")
            os.makedirs(ck, exist_ok=True)
            emit(Checkpointed(step=step, path=ck))
            emit(RunStopped(step=step, checkpoint=ck))
            sys.exit(130)
        if mode != "done":
            time.sleep(0.05)
    os.makedirs(os.path.join(run, "adapter"), exist_ok=True)
    emit(RunFinished(adapter=os.path.join(run, "adapter"), final_loss=3.0 / step, duration_s=0.5))
''').replace("REPO", repr(str(Path(__file__).resolve().parents[2])))


@pytest.fixture
def fake_trainer(tmp_path) -> Path:
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    return script


@pytest.fixture
def make_worker(qtbot, fake_trainer, monkeypatch):
    workers: list[TrainWorker] = []

    def make(mode: str, grace_s: float = 30.0) -> TrainWorker:
        monkeypatch.setenv("FAKE_MODE", mode)
        worker = TrainWorker(command=[sys.executable, str(fake_trainer)], grace_s=grace_s)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:  # never leave a stand-in trainer running
        if worker.pid and worker.is_active():
            os.kill(worker.pid, signal.SIGKILL)


def test_run_to_done_emits_every_event_in_order(qtbot, make_worker, tmp_path):
    worker = make_worker("done")
    steps, evals, ckpts, logs, states = [], [], [], [], []
    worker.step_logged.connect(steps.append)
    worker.evaluated.connect(evals.append)
    worker.checkpointed.connect(ckpts.append)
    worker.log_received.connect(logs.append)
    worker.state_changed.connect(states.append)
    run = tmp_path / "runs" / "r1"
    with qtbot.waitSignals([worker.started, worker.finished], order="strict", timeout=15000) as blk:
        worker.start(run, overrides=["training.training.max_steps=5"])
    started, done = blk.all_signals_and_args[0].args[0], blk.all_signals_and_args[1].args[0]
    assert started.total_steps == 5 and started.trainable_params == 1234
    assert started.config == {"sets": ["training.training.max_steps=5"]}
    assert [s.step for s in steps] == [1, 2, 3, 4, 5]
    assert steps[-1].loss == pytest.approx(0.6)
    assert [e.step for e in evals] == [2, 4] and [c.step for c in ckpts] == [2, 4]
    assert done.adapter == str(run / "adapter") and done.final_loss == pytest.approx(0.6)
    assert worker.state == TrainState.DONE and not worker.is_active()
    qtbot.waitUntil(lambda: "trainer: loading model" in logs, timeout=5000)
    assert states[0] == "starting" and states[-1] == "done"
    assert (run / "trainer.log").read_text().startswith("trainer: loading model")


def test_stop_is_graceful_and_leaves_a_checkpoint_then_resume_continues(qtbot, make_worker, tmp_path,
                                                                      monkeypatch):
    worker = make_worker("slow")
    run = tmp_path / "r"
    with qtbot.waitSignal(worker.step_logged, timeout=15000):
        worker.start(run)
    with qtbot.waitSignal(worker.stopped, timeout=15000) as blk:
        worker.stop()
        assert worker.state == TrainState.STOPPING
    stopped = blk.args[0]
    assert not stopped.forced and Path(stopped.checkpoint).is_dir()
    assert worker.state == TrainState.STOPPED

    resumed = make_worker("done")
    monkeypatch.setenv("FAKE_TOTAL", str(stopped.step + 3))
    first = []
    resumed.step_logged.connect(first.append)
    with qtbot.waitSignal(resumed.finished, timeout=15000):
        resumed.start(run, resume=run)
    # only the resumed run's events are emitted, starting after the checkpoint's step
    assert [s.step for s in first] == [stopped.step + 1, stopped.step + 2, stopped.step + 3]
    history = read_events(run)
    assert sum(isinstance(e, RunStarted) for e in history) == 2


def test_kill_9_is_reported_as_failed_within_two_seconds(qtbot, make_worker, tmp_path):
    worker = make_worker("slow")
    with qtbot.waitSignal(worker.step_logged, timeout=15000):
        worker.start(tmp_path / "r")
    with qtbot.waitSignal(worker.failed, timeout=2000) as blk:
        os.kill(worker.pid, signal.SIGKILL)
    failure = blk.args[0]
    assert failure.message == "the trainer process was killed (SIGKILL)"
    assert "memory" in failure.hint and failure.exit_code == -9
    assert worker.state == TrainState.FAILED


def test_exit_without_a_final_event_is_a_failure_with_the_code(qtbot, make_worker, tmp_path):
    worker = make_worker("crash")
    with qtbot.waitSignal(worker.failed, timeout=15000) as blk:
        worker.start(tmp_path / "r")
    assert blk.args[0].message == "the trainer process exited with code 3 without reporting why"


def test_exit_after_an_error_line_reports_that_line(qtbot, make_worker, tmp_path):
    worker = make_worker("refuse")
    with qtbot.waitSignal(worker.failed, timeout=15000) as blk:
        worker.start(tmp_path / "r", extra_args=["--force"])
    assert blk.args[0].message == "this run will not fit in memory; add --force"
    assert blk.args[0].hint == "lower the batch size" and blk.args[0].exit_code == 1


def test_error_event_carries_the_reason_and_hint(qtbot, make_worker, tmp_path):
    worker = make_worker("error")
    with qtbot.waitSignal(worker.failed, timeout=15000) as blk:
        worker.start(tmp_path / "r")
    assert (blk.args[0].message, blk.args[0].hint) == ("data.jsonl:3: invalid JSON", "fix line 3")


def test_stop_while_loading_reports_stopped_without_a_checkpoint(qtbot, make_worker, tmp_path):
    worker = make_worker("loading")
    logs = []
    worker.log_received.connect(logs.append)
    worker.start(tmp_path / "r")
    qtbot.waitUntil(lambda: "loading" in logs, timeout=15000)
    with qtbot.waitSignal(worker.stopped, timeout=15000) as blk:
        worker.stop()
    assert blk.args[0].checkpoint is None and not blk.args[0].forced
    assert worker.state == TrainState.STOPPED


def test_a_trainer_ignoring_sigint_is_killed_after_the_grace_period(qtbot, make_worker, tmp_path):
    worker = make_worker("hang", grace_s=0.5)
    states = []
    worker.state_changed.connect(states.append)
    with qtbot.waitSignal(worker.step_logged, timeout=15000):
        worker.start(tmp_path / "r")
    with qtbot.waitSignal(worker.stopped, timeout=10000) as blk:
        worker.stop()
    assert blk.args[0].forced and blk.args[0].checkpoint is not None
    assert states[-3:] == ["stopping", "forcing", "stopped"]


def test_attach_replays_history_and_follows_a_running_trainer(qtbot, fake_trainer, tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    env = {**os.environ, "FAKE_MODE": "slow"}
    proc = subprocess.Popen([sys.executable, str(fake_trainer), "--run-dir", str(run)], env=env,
                            start_new_session=True)
    try:
        tail = EventTail(run)
        seen: list[dict] = []
        qtbot.waitUntil(lambda: seen.extend(tail.read()) or len(seen) > 3, timeout=15000)
        worker = TrainWorker()
        starts, steps = [], []
        worker.started.connect(starts.append)
        worker.step_logged.connect(steps.append)
        worker.attach(run, proc.pid)
        assert starts and starts[0].pid == proc.pid and steps and steps[0].step == 1
        n = len(steps)
        qtbot.waitUntil(lambda: len(steps) > n + 2, timeout=10000)  # still following live
        with qtbot.waitSignal(worker.failed, timeout=2000) as blk:
            proc.kill()
            proc.wait()
        assert "ended without a final event" in blk.args[0].message
    finally:
        proc.kill()
        proc.wait()


def test_line_tail_waits_for_a_complete_line(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = LineTail(path)
    assert tail.read_lines() == []
    with open(path, "w") as fh:
        fh.write('{"event": "st')
        fh.flush()
        assert tail.read_lines() == []
        fh.write('ep", "step": 1}\n{"event"')
        fh.flush()
        assert [json.loads(x)["step"] for x in tail.read_lines()] == [1]
        fh.write(': "eval", "step": 1}\n')
    assert json.loads(tail.read_lines()[0])["event"] == "eval"


def test_a_run_owned_by_another_trainer_is_refused_without_starting_one(qtbot, make_worker,
                                                                       tmp_path):
    """The window's Resume on a run a CLI trainer still trains: refused, nothing started."""
    run = tmp_path / "r"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from llamahome_gui.core.runs.lock import RunLock; l = RunLock(sys.argv[2]).acquire(); "
         "print('locked', flush=True); sys.stdin.read()",
         str(Path(__file__).resolve().parents[2]), str(run)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        worker = make_worker("done")
        with qtbot.waitSignal(worker.failed, timeout=5000) as blk:
            worker.start(run, resume=run)
        assert blk.args[0].message == f"{run} is being trained by process {holder.pid}"
        assert worker.pid is None and worker.state == TrainState.FAILED
        assert not (run / "events.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone (killed, its lock file left behind): the run is free again
    worker = make_worker("done")
    with qtbot.waitSignal(worker.finished, timeout=15000):
        worker.start(run)
