"""The Export dialog in a real window: opened from the Runs page for the selected run, it
writes a GGUF with its parity figure, an Ollama folder whose command can be copied, and Cancel
leaves nothing behind."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from llamahome_gui.app import build_main_window
from llamahome_gui.core.export.sources import resolve_source
from llamahome_gui.ui.dialogs.export_dialog import ExportDialog
from tests.export_support import copy_run, train_tiny_run

LONG = 600_000  # ms: an export on a busy 2-core machine; waits end as soon as it is done


@pytest.fixture(scope="module")
def trained_run(tiny_model_dir, tmp_path_factory):
    return train_tiny_run(tiny_model_dir, tmp_path_factory.mktemp("export-ui"))


def _choose(combo, key: str) -> None:
    combo.setCurrentIndex(combo.findData(key))


def _dialog(qtbot, run, out_dir) -> ExportDialog:
    dialog = ExportDialog(resolve_source(run), settings={"system_prompt": "Be Nova."},
                          out_dir=out_dir)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_runs_page_opens_the_dialog_for_the_selected_run(qtbot, config_dir, trained_run,
                                                         tmp_path, monkeypatch):
    root = tmp_path / "runs"
    run = copy_run(trained_run, root)
    monkeypatch.setenv("LLAMAHOME__TRAINING__TRAINING__OUTPUT_DIR", str(root))
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    page = window.ctx.page("runs")
    button = page.findChild(type(page.export_button), "runs.export")
    assert not button.isEnabled()  # nothing selected
    page.table.selectRow(0)
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = button.dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.source.run_dir == run and dialog.source.adapter_dir == run / "adapter"
    sizes = [dialog.quant_combo.itemText(i) for i in range(dialog.quant_combo.count())]
    assert all(" - about " in text and "B" in text for text in sizes)
    assert dialog.format_combo.count() == 4
    dialog.close()


def test_gguf_export_shows_parity_and_opens_its_folder(qtbot, trained_run, tmp_path):
    dialog = _dialog(qtbot, trained_run, tmp_path)
    _choose(dialog.format_combo, "gguf")
    _choose(dialog.quant_combo, "f32")
    assert dialog.dest_edit.text().endswith(".f32.gguf")
    with qtbot.waitSignal(dialog.worker.finished, timeout=LONG):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    out = dialog.result.out
    assert out.read_bytes()[:4] == b"GGUF"
    assert "top-1 agreement 100.0%" in dialog.parity_label.text()
    assert "Wrote" in dialog.status_label.text()
    assert dialog.open_button.isVisible() and not dialog.copy_button.isVisible()
    assert dialog.export_button.isEnabled()


def test_ollama_export_copies_its_command(qtbot, trained_run, tmp_path):
    dialog = _dialog(qtbot, trained_run, tmp_path)
    _choose(dialog.format_combo, "ollama")
    dialog.check_box.setChecked(False)
    with qtbot.waitSignal(dialog.worker.finished, timeout=LONG):
        dialog.export_button.click()
    folder = dialog.result.out
    assert (folder / "Modelfile").read_text().startswith("FROM ./")
    assert 'SYSTEM """Be Nova."""' in (folder / "Modelfile").read_text()
    assert dialog.copy_button.isVisible()
    dialog.copy_button.click()
    assert QApplication.clipboard().text() == f"cd {folder} && ollama create " \
        f"{dialog.source.name} -f Modelfile"


def test_cancel_leaves_no_partial_file(qtbot, trained_run, tmp_path):
    dialog = _dialog(qtbot, trained_run, tmp_path)
    _choose(dialog.format_combo, "gguf")
    _choose(dialog.quant_combo, "f16")

    def cancel_while_writing(progress) -> None:
        if progress.stage == "write" and dialog.cancel_button.text() == "Cancel":
            dialog.cancel_button.click()

    dialog.worker.progressed.connect(cancel_while_writing)
    with qtbot.waitSignal(dialog.worker.cancelled, timeout=LONG):
        dialog.export_button.click()
    assert "nothing was written" in dialog.status_label.text()
    assert list(tmp_path.iterdir()) == []
    assert dialog.cancel_button.text() == "Close"


def test_chat_page_exports_the_chosen_adapter(qtbot, config_dir, trained_run):
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    page = window.ctx.page("chat")
    button = page.findChild(type(page.export_button), "chat.export")
    assert not button.isEnabled()  # the base model: nothing trained to export
    page.pickers.set_adapter(str(trained_run / "adapter"))
    assert button.isEnabled()
    button.click()
    assert button.dialog is not None and button.dialog.isVisible()
    assert button.dialog.source.run_dir == trained_run
    assert button.dialog.format_combo.findData("peft") >= 0
    button.dialog.close()
    page.pickers.set_adapter("")
    assert not button.isEnabled()


def test_existing_destination_is_replaced_only_when_the_user_agrees(qtbot, trained_run,
                                                                   tmp_path):
    dialog = _dialog(qtbot, trained_run, tmp_path)
    _choose(dialog.quant_combo, "f32")
    dialog.check_box.setChecked(False)
    target = tmp_path / "keep.gguf"
    target.write_text("mine")
    dialog.dest_edit.setText(str(target))
    asked = []
    dialog.confirm_replace = lambda out: asked.append(out) or False
    dialog.export_button.click()
    assert asked == [target] and not dialog.worker.running
    assert target.read_text() == "mine"
    dialog.confirm_replace = lambda out: True
    with qtbot.waitSignal(dialog.worker.finished, timeout=LONG):
        dialog.export_button.click()
    assert target.read_bytes()[:4] == b"GGUF"
