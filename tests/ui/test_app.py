"""The shell: command line, screenshot, page host, settings, appearance, notifications."""

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
from llamahome_gui.ui.page_host import PageSpec

HEAVY = ("torch", "transformers", "peft", "accelerate")
LIGHT_PAGE = "tests.ui.light_page"


@pytest.fixture
def light_pages(monkeypatch):
    """Configs plus two one-label pages: the shell's behaviour without building real pages."""
    monkeypatch.setattr(app_module, "PAGES", [
        app_module.PAGES[0],
        PageSpec("train", "Train", "train", LIGHT_PAGE),
        PageSpec("chat", "Chat", "chat", LIGHT_PAGE),
    ])
    monkeypatch.setattr(app_module, "STRIP_MODULE", "")


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
    assert window.nav_titles() == ["Configs", "Train", "Chat", "Monitor", "Runs", "Models"]  # Welcome: Help
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus[:3] == ["File", "Edit", "View"] and menus[-1] == "Help"
    assert window.findChild(QAction, "config.save").shortcut().toString() == "Ctrl+S"
    assert window.findChild(QAction, "edit.redo").shortcut().toString() == "Ctrl+Shift+Z"
    assert window.ctx.page("configs") is window.page_widget("configs")
    window.ctx.navigate("chat")
    assert window.current_page() == "chat" and window.windowTitle().startswith("Chat")


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
        PageSpec("train", "Train", "train", "broken_page_mod"),
        PageSpec("chat", "Chat", "chat", "needs_dep_page_mod"),
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


def test_lazy_pages_build_the_first_page_then_each_on_its_first_visit(qtbot, config_dir,
                                                                     light_pages, monkeypatch):
    monkeypatch.setattr(app_module, "PAGES", [*app_module.PAGES,
                                              PageSpec("runs", "Runs", "runs", LIGHT_PAGE,
                                                       preload=True)])
    window = build_main_window(config_dir, lazy_pages=True, start_page="chat")
    window.persist_settings = False
    qtbot.addWidget(window)
    assert window.current_page() == "chat"
    assert window.stack.currentWidget().findChild(QLabel).text() == "light page"   # built
    assert type(window.page_widget("train")) is QWidget                 # not yet: a stand-in
    with qtbot.waitExposed(window):
        window.show()
    qtbot.waitUntil(lambda: type(window.page_widget("runs")) is not QWidget)   # preloaded
    assert type(window.page_widget("configs")) is QWidget            # still not visited
    window.navigate("configs")                                       # first visit builds it
    assert window.stack.currentWidget() is window.ctx.page("configs")
    assert window.findChild(QAction, "edit.find") is not None    # the Configs page's action
    window.navigate("train")
    assert window.stack.currentWidget() is window.ctx.page("train")
    assert type(window.page_widget("train")) is not QWidget


def test_interactive_start_paints_the_shell_before_reading_the_config(qtbot, config_dir,
                                                                     light_pages):
    host = app_module.open_main_window(config_dir, start_page="train")
    window = host.window
    window.persist_settings = False
    qtbot.addWidget(window)
    assert window.ctx is None                          # the config is not read yet ...
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == [
        "Configs", "Train", "Chat"]                    # ... but the navigation is there
    assert not window.action("config.save").isEnabled()
    qtbot.waitUntil(lambda: window.ctx is not None)    # read after the first frame
    qtbot.waitUntil(lambda: type(window.page_widget("train")) is not QWidget)
    assert window.action("edit.undo") is not None
    assert window.stack.currentWidget() is window.ctx.page("train")


def test_a_page_asks_another_through_the_context(qtbot, config_dir, light_pages):
    window = build_main_window(config_dir, lazy_pages=True, start_page="configs")
    window.persist_settings = False
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.ctx.chat_with_adapter_requested) as request:
        window.ctx.request_chat_with_adapter("/runs/x/adapter")
    assert request.args == ["/runs/x/adapter"]
    assert window.current_page() == "chat" and type(window.page_widget("chat")) is not QWidget


def test_screenshot_of_the_train_page_exits_cleanly(tmp_path, config_dir, starter_model_dir):
    """The Train page estimates memory in a pool thread that imports torch; the process
    waits for it instead of exiting under a half-imported torch (17 'Exception ignored')."""
    from llamahome_gui.config.manager import ConfigManager

    ConfigManager(config_dir).update("model", {"model.path": str(starter_model_dir)})
    png = tmp_path / "train.png"
    proc = subprocess.run(
        [sys.executable, "-m", "llamahome_gui", "--config-dir", str(config_dir), "--tab", "train",
         "--screenshot", str(png)],
        capture_output=True, text=True, timeout=240,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr, \
        proc.stderr[-2000:]
    assert not QImage(str(png)).isNull()


def test_the_shell_module_leaves_the_config_layer_and_pages_for_later():
    """What the window needs before its first paint: Qt and the shell, nothing else."""
    code = ("import sys, llamahome_gui.app; print(sorted(m for m in sys.modules if m.startswith("
            "('pydantic', 'tomlkit', 'numpy', 'pyqtgraph', 'psutil', 'llamahome_gui.config', "
            "'llamahome_gui.core', 'llamahome_gui.workers', 'llamahome_gui.ui.pages'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_listed_dialog_opens_from_its_menu_entry(qtbot, config_dir, tmp_path, monkeypatch,
                                                  light_pages):
    from PyQt6.QtWidgets import QDialog

    from llamahome_gui.ui.page_host import DialogSpec

    (tmp_path / "hello_dialog_mod.py").write_text(textwrap.dedent("""
        from PyQt6.QtWidgets import QDialog

        def create_dialog(ctx, parent):
            dialog = QDialog(parent)
            dialog.setWindowTitle("Hello " + ctx.config.config_dir.name)
            return dialog
    """), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(app_module, "DIALOGS", [DialogSpec("hello", "File", "&Hello…",
                                                           "hello_dialog_mod")])
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    action = window.findChild(QAction, "dialog.hello")
    assert action in window.menu("File").actions()
    action.trigger()
    dialog = window.findChild(QDialog, "dialog.hello")
    assert dialog is not None and dialog.isVisible() and dialog.windowTitle() == "Hello config"
    dialog.close()
