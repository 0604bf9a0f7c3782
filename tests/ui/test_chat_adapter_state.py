"""The adapter picked in Chat is session state: the config stays clean, the choice comes back
at the next launch, and the quit question names what is really unsaved."""

from __future__ import annotations

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QMessageBox

from llamahome_gui.app import build_main_window


def adapter_folder(root, name: str):
    folder = root / name / "adapter"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    return folder


def open_window(qtbot, config_dir):
    window = build_main_window(config_dir, start_page="chat")
    qtbot.addWidget(window)
    return window


def test_picking_an_adapter_leaves_the_config_clean_and_is_remembered(qtbot, config_dir,
                                                                     tmp_path):
    adapter = adapter_folder(tmp_path, "20260101-100000-mine")
    window = open_window(qtbot, config_dir)
    page = window.ctx.page("chat")
    combo = page.pickers.adapter_combo
    page.set_adapter(str(adapter))                   # what "Chat with this adapter" does
    assert page.pickers.adapter_path() == str(adapter)
    assert combo.currentData() == str(adapter)
    assert "mine" in combo.currentText()
    assert not window.ctx.state.is_dirty()
    assert window.unsaved_label.text() != "1 unsaved change"
    assert not window.isWindowModified()
    assert page.ab_check.isEnabled()                 # A/B needs an adapter: it has one
    window.close()                                   # no question: nothing unsaved

    again = open_window(qtbot, config_dir)
    again.persist_settings = False
    chat = again.ctx.page("chat")
    assert chat.pickers.adapter_path() == str(adapter)
    assert chat._setup().adapter_path == str(adapter)   # what the model loads with
    combo = chat.pickers.adapter_combo
    combo.setCurrentIndex(combo.findData(""))            # back to the base model
    assert chat.pickers.adapter_path() == "" and not again.ctx.state.is_dirty()
    assert 'adapter_path = ""' in (config_dir / "inference_config.toml").read_text()


def test_a_deleted_adapter_is_not_brought_back(qtbot, config_dir, tmp_path):
    import shutil

    adapter = adapter_folder(tmp_path, "gone")
    window = open_window(qtbot, config_dir)
    window.ctx.page("chat").set_adapter(str(adapter))
    window.close()
    shutil.rmtree(adapter)
    again = open_window(qtbot, config_dir)
    again.persist_settings = False
    assert again.ctx.page("chat").pickers.adapter_path() == ""


def test_the_quit_question_lists_the_unsaved_keys(qtbot, config_dir):
    window = open_window(qtbot, config_dir)
    window.persist_settings = False
    window.show()
    window.ctx.state.set_value("training.lora.r", 30)
    window.ctx.state.set_value("inference.generation.temperature", 0.3)
    seen = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append((box.text(), box.informativeText()))
            box.button(QMessageBox.StandardButton.Cancel).click()
        else:
            QTimer.singleShot(50, answer)

    QTimer.singleShot(50, answer)
    window.close()
    assert window.isVisible()
    text, detail = seen[0]
    assert "2 unsaved config changes" in text
    assert "training.lora.r: 16 \u2192 30" in detail
    assert "inference.generation.temperature:" in detail and "\u2192 0.3" in detail
    window.ctx.state.revert()
