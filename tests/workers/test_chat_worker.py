"""ChatWorker: the engine in its own thread, events as dataclasses, Stop from the GUI thread."""

from __future__ import annotations

import threading

import pytest

from llamahome_gui.core.chat import GenerationSettings
from llamahome_gui.workers.chat_worker import (
    AdapterChanged,
    ChatFailed,
    ChatWorker,
    GenerationFinished,
    GenerationStarted,
    ModelLoaded,
    ModelUnloaded,
    TokenReceived,
)
from tests.core import test_chat_helpers as helpers

lora_adapter_dir = helpers.lora_adapter_dir  # fixture
TURNS = helpers.QUESTION
GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=16, repetition_penalty=1.0)


@pytest.fixture
def worker(qtbot):
    worker = ChatWorker()
    yield worker
    worker.shutdown()


def test_load_generate_stream_in_order(qtbot, worker, tiny_model_dir):
    with qtbot.waitSignal(worker.loaded, timeout=60000) as loaded:
        worker.load(str(tiny_model_dir), device="cpu")
    assert isinstance(loaded.args[0], ModelLoaded) and loaded.args[0].info.parameters > 0
    assert worker.engine.loaded and threading.current_thread() is threading.main_thread()

    tokens: list[TokenReceived] = []
    worker.token_received.connect(tokens.append)
    with qtbot.waitSignals([worker.started, worker.finished], order="strict", timeout=60000) as sig:
        request_id = worker.generate("", TURNS, GREEDY)
    started, done = sig.all_signals_and_args[0].args[0], sig.all_signals_and_args[1].args[0]
    assert isinstance(started, GenerationStarted) and started.request_id == request_id
    assert isinstance(done, GenerationFinished) and done.stats.new_tokens == 16
    assert len(tokens) > 1 and "".join(t.text for t in tokens) == done.text
    assert all(t.request_id == request_id for t in tokens)


def test_stop_halts_and_cancels_queued(qtbot, worker, tiny_model_dir):
    worker.load(str(tiny_model_dir), device="cpu")
    long = GenerationSettings(temperature=0.0, max_new_tokens=900, repetition_penalty=1.0)
    results: list[GenerationFinished] = []
    worker.finished.connect(results.append)
    with qtbot.waitSignal(worker.token_received, timeout=60000):
        first = worker.generate("", TURNS, long)
        second = worker.generate("", TURNS, long)
    worker.stop()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=30000)
    assert results[0].request_id == first and results[0].stats.stop_reason == "stopped"
    assert results[0].stats.new_tokens < 900
    assert results[1].request_id == second and results[1].cancelled
    # A new request after Stop runs normally.
    with qtbot.waitSignal(worker.finished, timeout=60000) as done:
        worker.generate("", TURNS, GREEDY)
    assert done.args[0].stats.stop_reason == "length"


def test_adapter_switch_and_failures_arrive_as_signals(qtbot, worker, tiny_model_dir,
                                                       lora_adapter_dir, tmp_path):
    with qtbot.waitSignal(worker.failed, timeout=30000) as failed:
        worker.load(str(tmp_path / "missing"))
    assert isinstance(failed.args[0], ChatFailed) and failed.args[0].stage == "load"
    assert "does not exist" in failed.args[0].message

    with qtbot.waitSignal(worker.adapter_changed, timeout=60000) as changed:
        worker.load(str(tiny_model_dir), device="cpu", adapter=str(lora_adapter_dir))
    assert changed.args[0] == AdapterChanged(str(lora_adapter_dir.resolve()))
    answers: dict[str, str] = {}
    worker.finished.connect(lambda e: answers.__setitem__(e.side, e.text))
    worker.generate("", TURNS, GREEDY, side="A", use_adapter=False)
    worker.generate("", TURNS, GREEDY, side="B", use_adapter=True)
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=60000)
    assert answers["A"] != answers["B"]

    with qtbot.waitSignal(worker.failed, timeout=30000) as bad:
        worker.set_adapter(str(tmp_path))
    assert bad.args[0].stage == "adapter" and "adapter_config.json" in bad.args[0].message
    with qtbot.waitSignal(worker.unloaded, timeout=30000) as gone:
        worker.unload()
    assert isinstance(gone.args[0], ModelUnloaded)
    qtbot.waitUntil(lambda: not worker.engine.loaded)
