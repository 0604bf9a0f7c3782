"""The Train page end to end in a real (offscreen) window with the real trainer process on the
tiny model: Start -> done with curves and a complete run folder; Stop -> checkpoint; Resume
from the Runs page continues; an app restart re-attaches to the live trainer; kill -9 ->
failed within 2 s; a broken dataset line -> failed naming the line."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt

from llamahome_gui.app import build_main_window

TIMEOUT_MS = 300_000  # the trainer imports torch and transformers first; the CPU is shared


def make_window(qtbot, config_dir: Path):
    window = build_main_window(config_dir)
    window.persist_settings = False
    window.resize(1280, 800)  # a real window's size: the result line's buttons get their width
    qtbot.addWidget(window)
    notes: list[tuple[str, str]] = []
    window.ctx.notify = lambda title, text: notes.append((title, text))
    window.notes = notes
    return window


@pytest.fixture
def train_setup(qtbot, config_dir, tiny_model_dir, tmp_path):
    """A window whose settings point at the tiny model and a private runs folder (saved, so
    the window closes without asking); yields (window, runs folder)."""
    runs = tmp_path / "runs"
    window = make_window(qtbot, config_dir)
    state = window.ctx.state
    state.set_values({
        "model.model.path": str(tiny_model_dir),
        "training.training.output_dir": str(runs),
        "training.training.max_steps": 4,
        "training.training.eval_steps": 2,
        "training.training.save_steps": 2,
        "training.training.per_device_train_batch_size": 4,
        "training.training.max_seq_length": 128,
    })
    state.save()
    pids: list[int] = []
    page = window.ctx.page("train")
    page.worker.started.connect(lambda e: pids.append(e.pid))
    yield window, runs, pids
    window.ctx.state.revert()  # e.g. the Chat page took the adapter: no "unsaved" question
    for pid in pids:  # never leave a trainer behind
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def click(qtbot, button) -> None:
    assert button.isEnabled(), f"{button.objectName()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def loss_points(page) -> int:
    page.progress.plot.flush()
    x, _ = page.progress.plot.track("run").curves["loss"].getData()
    return 0 if x is None else len(x)


def test_start_trains_to_done_with_live_curves_and_a_complete_run_folder(qtbot, train_setup):
    window, runs, _ = train_setup
    page = window.ctx.page("train")
    steps = []
    page.worker.step_logged.connect(steps.append)
    with qtbot.waitSignal(page.worker.finished, timeout=TIMEOUT_MS) as done:
        click(qtbot, page.findChild(type(page.start_button), "train.start"))
        assert not page.start_button.isEnabled() and page.stop_button.isEnabled()
        assert page.progress.state_label.text() == "Starting…"
    result = done.args[0]
    assert [s.step for s in steps] == [1, 2, 3, 4]
    assert loss_points(page) == 4
    plot = page.progress.plot.track("run")
    xs = plot.loss.data()[0]
    assert plot.eval_loss.n == 2 and len(plot.checkpoints) == 1
    assert xs[1] <= plot.checkpoints[0][0] <= xs[2]  # the checkpoint of step 2, on the step axis
    times = plot.loss.data("time")[0]
    assert times[1] <= plot.checkpoints[0][1] <= times[2]  # and on the time axis
    assert page.progress.progress.value() == page.progress.progress.maximum() == 4
    assert page.progress.state_label.text() == "Finished"
    assert page.progress.result_box.isVisibleTo(page)
    assert result.adapter in page.progress.adapter_label.full_text()
    assert page.progress.adapter_label.toolTip() == result.adapter
    assert page.progress.chat_button.isVisibleTo(page) and page.start_button.isEnabled()
    assert [t for t, _ in window.notes if t.startswith("Training")] == ["Training finished"]

    (run_dir,) = runs.iterdir()
    for name in ("run.toml", "events.jsonl", "metrics.csv", "trainer.log"):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tensorboard").iterdir())
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step-000002"]
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    assert Path(result.adapter) == run_dir / "adapter"
    # the snapshot is what the form showed
    assert "max_steps = 4" in (run_dir / "run.toml").read_text()

    runs_page = window.ctx.page("runs")
    runs_page.refresh()
    assert runs_page.table.rowCount() == 1
    assert runs_page.table.item(0, 0).text() == "done"

    # "Chat with this adapter" hands the adapter to the Chat page and goes there (loading a
    # model for chat is the Chat page's own test)
    window.ctx.page("chat")
    with qtbot.waitSignal(window.ctx.chat_with_adapter_requested) as asked:
        click(qtbot, page.progress.chat_button)
    assert asked.args == [result.adapter] and window.current_page() == "chat"
    assert window.ctx.page("chat").pickers.adapter_path() == result.adapter
    assert not window.ctx.state.is_dirty()   # the adapter choice is not a config edit


def test_stop_resume_restart_reattach_and_kill(qtbot, train_setup, config_dir):
    window, runs, pids = train_setup
    window.ctx.state.set_values({"training.training.max_steps": 5000,
                                 "training.training.save_steps": 5000,
                                 "training.training.eval_steps": 5000})
    window.ctx.state.save()
    page = window.ctx.page("train")
    steps = []
    page.worker.step_logged.connect(steps.append)
    click(qtbot, page.start_button)
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=TIMEOUT_MS)

    # Stop: graceful first, the button offers force
    with qtbot.waitSignal(page.worker.stopped, timeout=120_000) as stopped:
        click(qtbot, page.stop_button)
        assert page.stop_button.text() == "Stopping… (force)"
    event = stopped.args[0]
    assert not event.forced and Path(event.checkpoint).is_dir()
    assert page.progress.state_label.text() == "Stopped"
    assert f"Stopped at step {event.step}; the checkpoint" in page.progress.message_label.text()

    # Resume from the Runs page: continues after the checkpoint's step
    runs_page = window.ctx.page("runs")
    runs_page.refresh()
    runs_page.table.selectRow(0)
    assert runs_page.table.item(0, 0).text() == "stopped"
    resumed = []
    page.worker.step_logged.connect(resumed.append)
    with qtbot.waitSignal(page.worker.started, timeout=TIMEOUT_MS) as started:
        click(qtbot, runs_page.resume_button)
    assert started.args[0].start_step == event.step
    qtbot.waitUntil(lambda: len(resumed) >= 1, timeout=TIMEOUT_MS)
    assert resumed[0].step == event.step + 1
    assert loss_points(page) >= len(steps)  # the stopped part of the curve stays
    pid = page.worker.pid

    # The app closes (its page lets go of the trainer); the trainer keeps going; a new
    # window re-attaches and follows it
    window.close()
    page.worker.detach()
    assert page.progress.state_label.text() == "Ready" and os.kill(pid, 0) is None
    window2 = make_window(qtbot, config_dir)
    page2 = window2.ctx.page("train")
    qtbot.waitUntil(lambda: page2.worker.is_active(), timeout=10_000)
    assert page2.worker.pid == pid
    assert page2.progress.state_label.text() == "Running"
    live = []
    page2.worker.step_logged.connect(live.append)
    qtbot.waitUntil(lambda: len(live) >= 1, timeout=TIMEOUT_MS)
    assert loss_points(page2) > len(steps)  # history replayed, then live points
    window2.ctx.page("runs").refresh()
    assert window2.ctx.page("runs").table.item(0, 0).text() == "running"

    # kill -9: failed within 2 s, and the page is ready for another run
    with qtbot.waitSignal(page2.worker.failed, timeout=2000) as failed:
        os.kill(pid, signal.SIGKILL)
    assert "ended without a final event" in failed.args[0].message
    assert page2.progress.state_label.text() == "Failed"
    assert page2.start_button.isEnabled() and not page2.stop_button.isEnabled()
    assert [t for t, _ in window2.notes if t.startswith("Training")] == ["Training failed"]


def test_a_broken_dataset_line_fails_with_the_line_named(qtbot, train_setup, tmp_path):
    window, _runs, _ = train_setup
    data = tmp_path / "broken.jsonl"
    good = '{"instruction": "Say hi", "input": "", "output": "Hi!"}'
    data.write_text(f"{good}\n{good}\n{{\"instruction\": \"oops\", \n{good}\n")
    window.ctx.state.set_value("training.training.dataset_path", str(data))
    window.ctx.state.save()
    page = window.ctx.page("train")
    with qtbot.waitSignal(page.worker.failed, timeout=TIMEOUT_MS) as failed:
        click(qtbot, page.start_button)
    assert "broken.jsonl:3" in failed.args[0].message
    assert page.progress.state_label.text() == "Failed"
    assert "broken.jsonl:3" in page.progress.message_label.text()
    assert page.start_button.isEnabled()


def test_memory_gauge_follows_the_settings_and_start_warns_when_it_wont_fit(
        qtbot, train_setup, monkeypatch):
    from PyQt6.QtWidgets import QMessageBox

    window, runs, _ = train_setup
    window.show()
    window.navigate("train")
    page = window.ctx.page("train")
    qtbot.waitUntil(lambda: page.memory.verdict == "fits", timeout=120_000)
    small = page.memory.bar.format()
    assert " of " in small and ("GiB" in small or "MiB" in small)   # as in the tooltip
    window.ctx.state.set_values({"training.training.per_device_train_batch_size": 1024,
                                 "training.training.max_seq_length": 131072})
    qtbot.waitUntil(lambda: page.memory.verdict == "won't fit", timeout=120_000)
    assert page.memory.bar.format() != small
    asked = []
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda *a, **k: asked.append(a[1]) or QMessageBox.StandardButton.No)
    click(qtbot, page.start_button)
    assert asked == ["This run will not fit in memory"]
    assert not page.worker.is_active() and not runs.exists()
    window.ctx.state.revert()
