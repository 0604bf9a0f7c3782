"""First launch: the welcome page, and from it a trained adapter and a chat with it in three
clicks (the real trainer process on the tiny model); later launches open the last page."""

from __future__ import annotations

import os
import signal

from PyQt6.QtCore import Qt

from llamahome_gui.app import build_main_window
from llamahome_gui.ui.pages import welcome_page

TIMEOUT_MS = 300_000  # the trainer imports torch first; the CPU is shared


def open_window(qtbot, config_dir):
    window = build_main_window(config_dir)
    qtbot.addWidget(window)
    return window


def test_first_launch_welcomes_later_launches_open_the_last_page(qtbot, config_dir):
    first = open_window(qtbot, config_dir)
    assert first.current_page() == "welcome"
    assert "Welcome" not in first.nav_titles()          # reached from Help, not a nav row
    assert first.action("help.welcome").text() == "&Getting Started"
    first.navigate("chat")
    first.close()
    second = open_window(qtbot, config_dir)
    second.persist_settings = False
    assert second.current_page() == "chat"
    second.action("help.welcome").trigger()
    assert second.current_page() == "welcome"


def test_someone_with_runs_already_is_not_welcomed(qtbot, config_dir, tmp_path):
    from tests.ui.test_runs_page import make_run

    make_run(tmp_path / "runs", "20260101-100000-a", status="done", losses=[2.0])
    text = (config_dir / "training_config.toml").read_text()
    (config_dir / "training_config.toml").write_text(
        text.replace('output_dir = ""', f'output_dir = "{tmp_path / "runs"}"'))
    window = open_window(qtbot, config_dir)
    window.persist_settings = False
    assert window.ctx.state.value("training.training.output_dir") == str(tmp_path / "runs")
    assert window.current_page() == "configs"


def test_the_starter_run_is_overrides_on_the_current_settings(config_dir):
    from llamahome_gui.config.manager import ConfigManager
    from llamahome_gui.core.runs.plan import plan_run

    manager = ConfigManager(config_dir)
    before = {p.name: p.read_bytes() for p in config_dir.glob("*.toml")}
    plan = plan_run(manager.load, welcome_page.STARTER_RUN)
    training = plan.configs["training"].training
    assert plan.configs["model"].model.path == "" and training.dataset_path == ""
    assert training.max_steps == 30
    assert {p.name: p.read_bytes() for p in config_dir.glob("*.toml")} == before


def test_three_clicks_to_a_trained_adapter_and_a_chat_with_it(qtbot, config_dir, tiny_model_dir,
                                                              tmp_path, monkeypatch):
    # the tiny model stands in for the starter so the run takes seconds; the rest is as shipped
    monkeypatch.setattr(welcome_page, "STARTER_RUN", [
        f"model.model.path={tiny_model_dir}", "training.training.dataset_path=",
        "training.training.max_steps=3", "training.training.save_steps=3",
        "training.training.max_seq_length=128", "model.model.device=cpu"])
    text = (config_dir / "training_config.toml").read_text()
    (config_dir / "training_config.toml").write_text(
        text.replace('output_dir = ""', f'output_dir = "{tmp_path / "runs"}"'))
    (config_dir / "inference_config.toml").write_text(
        (config_dir / "inference_config.toml").read_text().replace(
            'history_dir = ""', f'history_dir = "{tmp_path / "chats"}"').replace(
            "max_new_tokens = 256", "max_new_tokens = 6"))
    model_file = config_dir / "model_config.toml"   # the user's model: the tiny one
    model_file.write_text(model_file.read_text().replace('path = ""', f'path = "{tiny_model_dir}"',
                                                         1))
    files = {p.name: p.read_bytes() for p in config_dir.glob("*.toml")}
    window = open_window(qtbot, config_dir)
    window.persist_settings = False
    assert window.current_page() == "welcome"
    train = window.ctx.page("train")
    pids: list[int] = []
    train.worker.started.connect(lambda e: pids.append(e.pid))
    try:
        welcome = window.ctx.page("welcome")
        with qtbot.waitSignal(train.worker.finished, timeout=TIMEOUT_MS) as done:
            qtbot.mouseClick(welcome.panel.train_button, Qt.MouseButton.LeftButton)   # 1
            assert window.current_page() == "train"
        adapter = done.args[0].adapter
        assert (tmp_path / "runs").is_dir() and os.path.isfile(f"{adapter}/adapter_config.json")
        qtbot.waitUntil(lambda: train.progress.chat_button.isVisibleTo(train))
        qtbot.mouseClick(train.progress.chat_button, Qt.MouseButton.LeftButton)        # 2
        assert window.current_page() == "chat"
        chat = window.ctx.page("chat")
        assert chat.pickers.adapter_path() == adapter
        chat.input.setPlainText("Who are you?")
        with qtbot.waitSignal(chat.panel.answers_done, timeout=TIMEOUT_MS):
            qtbot.mouseClick(chat.panel.send_button, Qt.MouseButton.LeftButton)      # 3
        replies = [m for m in chat.panel.transcript.messages() if m.role == "assistant"]
        assert len(replies) == 1 and "adapter" in replies[0].header.text()
        assert not window.ctx.state.is_dirty()       # nothing for the quit question
        assert {p.name: p.read_bytes() for p in config_dir.glob("*.toml")} == files
        chat.shutdown()
    finally:
        window.ctx.state.revert()   # a failed assertion must not leave a quit question open
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
