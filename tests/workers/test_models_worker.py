"""ModelJobWorker: signals in order, progress from the job's thread, cancel as a stop point,
one job at a time."""

from __future__ import annotations

import threading

from llamahome_gui.workers.models_worker import ModelJobWorker


class ImportCancelled(Exception):
    """Named like core's, which is how the worker recognises a cancel."""


def counting_job(n: int, *, progress, cancel, gate: threading.Event | None = None):
    for i in range(n):
        if gate is not None:
            gate.wait(60)
        if cancel():
            raise ImportCancelled
        progress("Counting", i + 1, n)
    return n * 10


def test_signals_in_order_and_the_result(qtbot):
    worker = ModelJobWorker()
    steps = []
    worker.progressed.connect(lambda stage, done, total: steps.append((stage, done, total)))
    with qtbot.waitSignals([worker.started, worker.succeeded, worker.finished], order="strict",
                           timeout=30_000) as waited:
        assert worker.start("count", counting_job, 3)
    assert waited.all_signals_and_args[1].args == ("count", 30)
    assert steps == [("Counting", 1, 3), ("Counting", 2, 3), ("Counting", 3, 3)]
    assert not worker.is_busy()


def test_cancel_and_one_job_at_a_time(qtbot):
    worker = ModelJobWorker()
    gate = threading.Event()
    with qtbot.waitSignals([worker.started, worker.cancelled, worker.finished], order="strict",
                           timeout=30_000):
        assert worker.start("slow", counting_job, 5, gate=gate)
        assert worker.is_busy() and not worker.start("other", counting_job, 1)
        worker.cancel()
        gate.set()
    assert worker.wait(30)


def test_errors_arrive_as_one_line(qtbot):
    worker = ModelJobWorker()

    def broken(*, progress, cancel):
        raise ValueError("model.gguf is truncated")

    with qtbot.waitSignal(worker.failed, timeout=30_000) as failed:
        worker.start("broken", broken)
    assert failed.args == ["broken", "model.gguf is truncated"]
    assert "ValueError" in worker.last_traceback
