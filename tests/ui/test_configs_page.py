"""The Configs page in the real window: save, validation, env badges, reload, undo, presets."""

from __future__ import annotations

import difflib

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication, QDoubleSpinBox, QMessageBox, QPushButton, QSpinBox

from llamahome_gui import app as app_module
from llamahome_gui.app import build_main_window
from llamahome_gui.config.errors import ConfigConflictError
from llamahome_gui.ui.state import ConfigStateError


@pytest.fixture(autouse=True)
def configs_page_only(monkeypatch):
    """These tests are about the Configs page: skip building the other pages (seconds each)."""
    monkeypatch.setattr(app_module, "PAGES", app_module.PAGES[:1])
    monkeypatch.setattr(app_module, "STRIP_MODULE", "llamahome_gui.ui.widgets.no_strip_here")


def open_window(config_dir):
    win = build_main_window(config_dir)
    win.persist_settings = False
    return win


def dispose(win) -> None:
    """Close without the unsaved-changes question (pytest-qt would close a dirty window)."""
    if win.ctx.state.is_dirty():
        win.ctx.state.revert()
    win.close()
    win.deleteLater()


@pytest.fixture
def window(qtbot, config_dir):
    win = open_window(config_dir)
    win.navigate("configs")
    yield win
    dispose(win)


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(),
                                                   lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_change_lora_rank_and_ctrl_s_changes_exactly_that_line(qtbot, window, config_dir):
    path = config_dir / "training_config.toml"
    before = path.read_text(encoding="utf-8")
    rank = window.findChild(QSpinBox, "training.lora.r")
    with qtbot.waitExposed(window):
        window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    rank.setValue(48)
    assert window.isWindowModified()
    assert window.findChild(QAction, "config.save").isEnabled()
    assert not window.ctx.page("configs").forms["training"].rows["training.lora.r"] \
        .marker.isHidden()
    rank.setFocus()
    QTest.keyClick(rank, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.ctx.state.is_dirty())
    after = path.read_text(encoding="utf-8")
    assert changed_lines(before, after) == ["-r = 16", "+r = 48"]
    assert not window.isWindowModified()
    assert not window.findChild(QAction, "config.save").isEnabled()
    assert "Saved 1 setting" in window.statusBar().currentMessage()


def test_invalid_value_blocks_save_and_writes_nothing(qtbot, window, config_dir):
    path = config_dir / "resource_config.toml"
    before = path.read_bytes()
    page = window.ctx.page("configs")
    row = page.forms["resource"].rows["resource.gpu.per_process_memory"]
    row.editor.setText("12XB")
    assert not row.error_label.isHidden()
    assert "is not a size" in row.error_label.text()
    save = window.findChild(QAction, "config.save")
    assert not save.isEnabled()
    save.trigger()
    window.save_all()
    with pytest.raises(ConfigStateError):
        window.ctx.state.save()
    assert path.read_bytes() == before
    assert "\u26a0" in page.tabs.tabText(page.tabs.indexOf(page.tabs.widget(3)))


def test_diff_preview_shows_the_lines_save_will_change(qtbot, window):
    page = window.ctx.page("configs")
    window.findChild(QDoubleSpinBox, "training.lora.lora_alpha").setValue(64.0)
    qtbot.waitUntil(lambda: "+lora_alpha = 64.0" in page.diff_view.toPlainText())
    text = page.diff_view.toPlainText()
    assert "-lora_alpha = 32.0" in text
    assert sum(1 for ln in text.splitlines() if ln.startswith(("+", "-"))
               and not ln.startswith(("+++", "---"))) == 2


@pytest.mark.parametrize("var", ["LLAMAHOME__RESOURCE__GPU__MEMORY_FRACTION",
                                 "LLAMAHOME_GPU_MEMORY_FRACTION"])
def test_env_override_is_read_only_with_a_badge(qtbot, monkeypatch, config_dir, var):
    monkeypatch.setenv(var, "0.5")
    win = open_window(config_dir)
    row = win.ctx.page("configs").forms["resource"].rows["resource.gpu.memory_fraction"]
    assert row.editor.value() == 0.5
    assert row.editor.isReadOnly()
    assert not row.badge.isHidden()
    assert var in row.badge.text()
    with pytest.raises(ConfigStateError, match="environment"):
        win.ctx.state.set_value("resource.gpu.memory_fraction", 0.3)
    path = config_dir / "resource_config.toml"
    win.findChild(QDoubleSpinBox, "resource.monitor.cpu_threshold").setValue(0.7)
    win.save_all()
    text = path.read_text(encoding="utf-8")
    assert "cpu_threshold = 0.7" in text and "memory_fraction = 0.9" in text
    dispose(win)


def test_external_change_reloads_a_clean_form(qtbot, window, config_dir):
    path = config_dir / "training_config.toml"
    rank = window.findChild(QSpinBox, "training.lora.r")
    path.write_text(path.read_text(encoding="utf-8").replace("r = 16", "r = 8"),
                    encoding="utf-8")
    qtbot.waitUntil(lambda: rank.value() == 8, timeout=5000)
    assert not window.ctx.state.is_dirty()


def test_external_change_never_overwrites_unsaved_edits_silently(qtbot, window, config_dir):
    page = window.ctx.page("configs")
    path = config_dir / "training_config.toml"
    window.findChild(QSpinBox, "training.lora.r").setValue(40)
    path.write_text(path.read_text(encoding="utf-8").replace("r = 16", "r = 8"),
                    encoding="utf-8")
    qtbot.waitUntil(lambda: not page.banner.isHidden(), timeout=5000)
    assert "training_config.toml" in page.banner_label.text()
    assert window.findChild(QSpinBox, "training.lora.r").value() == 40      # edit kept
    with pytest.raises(ConfigConflictError) as conflict:
        window.ctx.state.save()
    assert conflict.value.keys == ["training.lora.r"]
    assert "r = 8" in path.read_text(encoding="utf-8")
    page.findChild(QPushButton, "config.banner.reload").click()
    assert window.findChild(QSpinBox, "training.lora.r").value() == 8
    assert page.banner.isHidden() and not window.ctx.state.is_dirty()


def test_keep_my_edits_then_save_merges_with_the_edit_on_disk(qtbot, window, config_dir):
    page = window.ctx.page("configs")
    path = config_dir / "training_config.toml"
    window.findChild(QSpinBox, "training.lora.r").setValue(40)
    path.write_text(path.read_text(encoding="utf-8").replace("seed = 42", "seed = 7"),
                    encoding="utf-8")
    qtbot.waitUntil(lambda: not page.banner.isHidden(), timeout=5000)
    page.findChild(QPushButton, "config.banner.keep").click()
    assert window.save_all()
    text = path.read_text(encoding="utf-8")
    assert "r = 40" in text and "seed = 7" in text          # both edits survive
    assert window.ctx.state.value("training.training.seed") == 7
    assert window.findChild(QDoubleSpinBox, "training.training.seed").value() == 7
    assert not window.ctx.state.is_dirty()


def test_undo_redo_reset_and_revert(qtbot, window):
    state = window.ctx.state
    rank = window.findChild(QSpinBox, "training.lora.r")
    alpha = window.findChild(QDoubleSpinBox, "training.lora.lora_alpha")
    rank.setValue(32)
    alpha.setValue(64.0)
    window.findChild(QAction, "edit.undo").trigger()
    assert alpha.value() == 32.0 and rank.value() == 32
    window.findChild(QAction, "edit.redo").trigger()
    assert alpha.value() == 64.0
    row = window.ctx.page("configs").forms["training"].rows["training.lora.r"]
    row.revert_action.trigger()
    assert rank.value() == 16 and not state.is_modified("training.lora.r")
    rank.setValue(20)
    state.save()
    row.reset_action.trigger()
    assert rank.value() == 16 and state.is_modified("training.lora.r")
    assert state.saved_value("training.lora.r") == 20


def test_preset_fills_the_forms_and_is_written_only_on_save(qtbot, window, config_dir):
    preset = config_dir / "presets" / "tiny-test"
    preset.mkdir(parents=True)
    (preset / "training_config.toml").write_text("# A test preset.\n[lora]\nr = 4\n",
                                                 encoding="utf-8")
    page = window.ctx.page("configs")
    page._fill_presets_menu()
    path = config_dir / "training_config.toml"
    before = path.read_bytes()
    action = page.presets_menu.findChild(QAction, "config.preset.tiny-test") or next(
        a for a in page.presets_menu.actions() if a.objectName() == "config.preset.tiny-test")
    action.trigger()
    assert window.findChild(QSpinBox, "training.lora.r").value() == 4
    assert path.read_bytes() == before
    window.save_all()
    assert changed_lines(before.decode(), path.read_text(encoding="utf-8")) == \
        ["-r = 16", "+r = 4"]


def test_search_filters_fields_across_components(qtbot, window):
    page = window.ctx.page("configs")
    page.search.setText("rank")
    rows = page.forms["training"].rows
    assert not rows["training.lora.r"].isHidden()
    assert rows["training.lora.bias"].isHidden()
    shown = [k for k, r in rows.items() if not r.isHidden()]
    assert page.tabs.tabText(1).endswith(f"({len(shown)})")  # the tab counts what it shows
    page.search.setText("padding")                  # a word of a description only
    assert [k for k, r in rows.items() if not r.isHidden()] == ["training.training.packing"]
    page.search.setText("threshold")
    assert page.tabs.currentIndex() == 3          # jumped to Resource, where the matches are
    page.search.clear()
    assert not rows["training.lora.bias"].isHidden()


def test_shared_state_shows_an_edit_in_every_form(qtbot, window):
    from llamahome_gui.ui.forms import build_form

    embedded = build_form(window.ctx.state, "training", sections=["lora"])
    qtbot.addWidget(embedded)
    embedded.editor("training.lora.r").setValue(12)
    assert window.findChild(QSpinBox, "training.lora.r").value() == 12


def test_closing_with_unsaved_changes_asks(qtbot, window):
    window.show()
    window.findChild(QSpinBox, "training.lora.r").setValue(30)
    answers = iter([QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard])
    asked = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            asked.append(box.text())
            box.button(next(answers)).click()
        else:
            QTest.qWait(0)

    from PyQt6.QtCore import QTimer

    QTimer.singleShot(50, answer)
    window.close()
    assert window.isVisible() and asked and "unsaved" in asked[0]
    QTimer.singleShot(50, answer)
    window.close()
    assert not window.isVisible()


def test_dynamic_component_gets_a_form(qtbot, config_dir):
    (config_dir / "schemas" / "my_config.toml").write_text(
        '[extra]\n_description = "My own settings."\n'
        'level = { type = "int", min = 0, max = 5, default = 2, description = "How much." }\n',
        encoding="utf-8")
    (config_dir / "my_config.toml").write_text("[extra]\nlevel = 3\n", encoding="utf-8")
    win = open_window(config_dir)
    level = win.findChild(QSpinBox, "my.extra.level")
    assert level is not None and level.value() == 3 and level.maximum() == 5
    level.setValue(4)
    win.save_all()
    assert "level = 4" in (config_dir / "my_config.toml").read_text(encoding="utf-8")
    dispose(win)


def test_broken_files_are_shown_not_hidden_and_reload_when_fixed(qtbot, config_dir):
    training = config_dir / "training_config.toml"
    good = training.read_text(encoding="utf-8")
    training.write_text(good.replace("r = 16", "r = = 16"), encoding="utf-8")
    resource = config_dir / "resource_config.toml"
    resource.write_text(resource.read_text(encoding="utf-8").replace(
        "memory_fraction = 0.9", "memory_fraction = 1.5"), encoding="utf-8")
    win = open_window(config_dir)
    page = win.ctx.page("configs")
    banner = page.forms["training"].form_error
    assert not banner.isHidden() and "training_config.toml" in banner.text()
    broken_line = good[:good.index("r = 16")].count("\n") + 1
    assert f":{broken_line}" in banner.text()                        # the line of the error
    assert win.findChild(QSpinBox, "training.lora.r").isReadOnly()
    fraction = page.forms["resource"].rows["resource.gpu.memory_fraction"]
    assert "must be <= 1.0" in fraction.error_label.text() and "1.5" in fraction.error_label.text()
    assert not win.findChild(QAction, "config.save").isEnabled()
    training.write_text(good, encoding="utf-8")
    qtbot.waitUntil(lambda: banner.isHidden(), timeout=5000)
    assert not win.findChild(QSpinBox, "training.lora.r").isReadOnly()
    dispose(win)


def test_broken_user_schema_file_is_shown_and_the_other_forms_work(qtbot, config_dir):
    (config_dir / "schemas" / "mine_config.toml").write_text(
        'model_config = { type = "int", default = 1, description = "x" }\n', encoding="utf-8")
    win = open_window(config_dir)
    page = win.ctx.page("configs")
    assert not page.schema_problems.isHidden()
    text = page.schema_problems.text()
    assert "mine_config.toml:1: model_config: the name model_config is reserved" in text
    assert "mine" not in page.forms and "training" in page.forms
    rank = win.findChild(QSpinBox, "training.lora.r")
    rank.setValue(20)
    win.save_all()
    assert "r = 20" in (config_dir / "training_config.toml").read_text(encoding="utf-8")
    dispose(win)
