"""Settings that once did nothing, as a user meets them in the window: the app's log file
follows log_level, a failed run alerts only when alert_on_error says so, and fields no code
acts on say so in the form."""

from __future__ import annotations

import pytest

from llamahome_gui import app as app_module
from llamahome_gui.app import build_main_window
from llamahome_gui.config.manager import ConfigManager
from llamahome_gui.core.applog import log_path
from llamahome_gui.ui.page_host import PageSpec


@pytest.fixture
def light_window(qtbot, config_dir, monkeypatch):
    def make():
        monkeypatch.setattr(app_module, "PAGES", [
            PageSpec("configs", "Configs", "configs", "tests.ui.light_page"),
            PageSpec("chat", "Chat", "chat", "tests.ui.light_page")])
        monkeypatch.setattr(app_module, "STRIP_MODULE", "")
        window = build_main_window(config_dir, lazy_pages=True, start_page="configs")
        window.persist_settings = False
        qtbot.addWidget(window)
        return window
    return make


def test_the_log_file_follows_log_level(config_dir, light_window) -> None:
    ConfigManager(config_dir).update("monitoring", {"logging.log_level": "WARNING"})
    window = light_window()
    window.ctx.alert("Training failed", "loss became nan")
    text = log_path().read_text(encoding="utf-8")
    assert "WARNING" in text and "Training failed: loss became nan" in text
    assert "window opened" not in text                      # INFO is below WARNING
    window.ctx.state.set_value("monitoring.logging.log_level", "DEBUG")
    assert window.save_all()
    window.navigate("chat")                                 # its first visit builds it
    text = log_path().read_text(encoding="utf-8")
    assert "Chat page built in" in text                      # a DEBUG record


def test_a_failed_run_alerts_only_when_alert_on_error_is_on(config_dir, light_window,
                                                            capsys) -> None:
    ConfigManager(config_dir).update("monitoring", {"alerts.notification_backend": "console"})
    window = light_window()
    assert window.ctx.alert("Training failed", "disk full", run_error=True) == "console"
    assert "Training failed: disk full" in capsys.readouterr().err
    window.ctx.state.set_value("monitoring.alerts.alert_on_error", False)
    assert window.save_all()
    assert window.ctx.alert("Training failed", "disk full", run_error=True) == "statusbar"
    assert capsys.readouterr().err == ""                      # no alert ...
    assert "Training failed: disk full" in window.statusBar().currentMessage()  # ... a note
    assert window.ctx.alert("Resource alert", "RAM at 95 %") == "console"     # others still


def test_informational_fields_say_so_in_the_form(qtbot, config_dir) -> None:
    from llamahome_gui.ui.forms import build_form

    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    form = build_form(window.ctx.state, "model")
    qtbot.addWidget(form)
    assert "(informational)" in form.rows["model.model.family"].label.text()
    assert "(informational)" in form.rows["model.model.revision"].label.text()
    assert "(informational)" not in form.rows["model.resources.max_batch_size"].label.text()
