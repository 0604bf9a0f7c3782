"""The shell: command line, screenshot, page plug-ins, settings, appearance, notifications."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from PyQt6.QtCore import QSize
from PyQt6.QtGui import QAction, QImage
from PyQt6.QtWidgets import QApplication, QLabel, QWidget

from llamahome_gui import app as app_module
from llamahome_gui.app import build_main_window, main

HEAVY = ("torch", "transformers", "peft", "accelerate")


@pytest.fixture
def light_pages(monkeypatch):
    """Configs plus placeholder pages: the shell's behaviour without building real pages."""
    monkeypatch.setattr(app_module, "PAGES", [
        app_module.PAGES[0],
        ("train", "Train", "train", "llamahome_gui.ui.pages.absent_train_page"),
        ("chat", "Chat", "chat", "llamahome_gui.ui.pages.absent_chat_page"),
    ])
    monkeypatch.setattr(app_module, "STRIP_MODULE", "llamahome_gui.ui.widgets.absent_strip")


@pytest.fixture
def system_appearance():
    yield
    theme = getattr(QApplication.instance(), "_llamahome_theme", None)
    if theme is not None:
        theme.set_mode("system")


def test_screenshot_writes_png_of_window_without_ml_imports(tmp_path, config_dir):
    png = tmp_path / "shots" / "w.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llamahome_gui", "--config-dir",
         str(config_dir), "--screenshot", str(png)],
        capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    image = QImage(str(png))
    assert not image.isNull()
    assert image.width() >= 1280 and image.height() >= 800
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert heavy == [], f"startup imported {heavy[:5]}"


def test_build_main_window_gives_the_ready_hidden_window(qtbot, config_dir):
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    assert not window.isVisible()
    titles = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert titles == ["Configs", "Train", "Chat", "Monitor", "Runs", "Models"]
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus[:3] == ["File", "Edit", "View"] and menus[-1] == "Help"
    assert window.findChild(QAction, "config.save").shortcut().toString() == "Ctrl+S"
    assert window.findChild(QAction, "edit.redo").shortcut().toString() == "Ctrl+Shift+Z"
    assert window.ctx.page("configs") is window.page_widget("configs")
    window.ctx.navigate("chat")
    assert window.current_page() == "chat" and window.windowTitle().startswith("Chat")


def test_missing_page_module_gets_a_placeholder(qtbot, config_dir, light_pages):
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    texts = [label.text() for label in window.page_widget("train").findChildren(QLabel)]
    assert "Train is not available in this build" in texts


def test_broken_page_shows_its_error_and_the_rest_works(qtbot, config_dir, tmp_path,
                                                       monkeypatch, capsys):
    (tmp_path / "broken_page_mod.py").write_text(textwrap.dedent("""
        def create_page(ctx):
            raise RuntimeError("dataset panel exploded")
    """), encoding="utf-8")
    (tmp_path / "needs_dep_page_mod.py").write_text("import not_installed_dep_xyz\n",
                                                   encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(app_module, "PAGES", [
        app_module.PAGES[0],
        ("train", "Train", "train", "broken_page_mod"),
        ("chat", "Chat", "chat", "needs_dep_page_mod"),
    ])
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    train = " ".join(lbl.text() for lbl in window.page_widget("train").findChildren(QLabel))
    assert "Train could not be opened" in train and "dataset panel exploded" in train
    chat = " ".join(lbl.text() for lbl in window.page_widget("chat").findChildren(QLabel))
    assert "not_installed_dep_xyz" in chat          # a missing dependency is an error, not absent
    assert "dataset panel exploded" in capsys.readouterr().err


def test_window_remembers_geometry_and_last_page(qtbot, config_dir, light_pages):
    first = build_main_window(config_dir)
    qtbot.addWidget(first)
    first.show()
    first.resize(960, 700)          # the offscreen screen is 800x800; 960 is the minimum width
    first.navigate("chat")
    first.close()
    second = build_main_window(config_dir)
    second.persist_settings = False
    qtbot.addWidget(second)
    assert second.current_page() == "chat"
    assert second.size() == QSize(960, 700)


def test_tab_option_opens_on_that_page(qtbot, tmp_path, config_dir, light_pages):
    shots = {}
    for tab in ("configs", "chat"):
        shots[tab] = tmp_path / f"{tab}.png"
        assert main(["--config-dir", str(config_dir), "--tab", tab,
                     "--screenshot", str(shots[tab])]) == 0
    configs, chat = QImage(str(shots["configs"])), QImage(str(shots["chat"]))
    assert configs.size() == chat.size() == QSize(1280, 800)
    assert configs != chat


def test_dark_appearance(qtbot, config_dir, light_pages, system_appearance):
    window = build_main_window(config_dir, appearance="dark")
    window.persist_settings = False
    qtbot.addWidget(window)
    assert window.palette().window().color().lightness() < 80
    assert window.findChild(QAction, "view.appearance.dark") is not None
    window.findChild(QAction, "view.appearance.light").trigger()
    assert window.palette().window().color().lightness() > 200


def test_notify_falls_back_to_the_status_bar(qtbot, config_dir, light_pages):
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    window.ctx.notify("Training finished", "loss 0.42")
    assert "Training finished: loss 0.42" in window.statusBar().currentMessage()
    window.ctx.show_status("hello", 0)
    assert window.statusBar().currentMessage() == "hello"


def test_close_guard_can_keep_the_window_open(qtbot, config_dir, light_pages):
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    window.show()
    answers = [False, True]
    window.add_close_guard(lambda: answers.pop(0))
    window.close()
    assert window.isVisible()
    with qtbot.waitSignal(window.close_accepted, timeout=2000):
        window.close()
    assert not window.isVisible()


def test_lazy_pages_show_first_page_then_build_the_rest(qtbot, config_dir, light_pages):
    from llamahome_gui.ui.pages.placeholder_page import PlaceholderPage

    window = build_main_window(config_dir, lazy_pages=True, start_page="chat")
    window.persist_settings = False
    qtbot.addWidget(window)
    assert window.current_page() == "chat"
    assert isinstance(window.stack.currentWidget(), PlaceholderPage)   # the chat page, built
    assert type(window.page_widget("train")) is QWidget                 # not yet: a stand-in
    with qtbot.waitExposed(window):
        window.show()                                  # the rest is built once it is up
    qtbot.waitUntil(lambda: all(type(window.page_widget(k)) is not QWidget   # no stand-ins
                                for k in window.page_keys()))
    assert window.page_widget("configs") is window.ctx.page("configs")
    assert window.findChild(QAction, "edit.find") is not None    # the Configs page's action
    window.navigate("train")
    assert window.stack.currentWidget() is window.ctx.page("train")
