"""The Models page in a real window over real folders: the table from the models folder, the
Hugging Face cache and added GGUFs; Use as a config edit; Remove asks and refuses what it must;
import with progress and cancel; one-line errors."""

from __future__ import annotations

import shutil

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox

from llamahome_gui import paths
from llamahome_gui.app import build_main_window
from tests.core.test_models_registry import running_run
from tests.hf_cache_support import add_to_hf_cache


@pytest.fixture
def models_page(qtbot, config_dir, tmp_path, tiny_model_dir, monkeypatch):
    cache = tmp_path / "hf"
    add_to_hf_cache(cache, "acme/tiny-chat", tiny_model_dir, "f" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    shutil.copytree(tiny_model_dir, paths.models_dir() / "tiny")
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    window.ctx.state.set_value("training.training.output_dir", str(tmp_path / "runs"))
    window.ctx.state.save()
    page = window.ctx.page("models")
    wait_rows(qtbot, page, 3)
    yield page
    page.worker.wait(120)


def wait_rows(qtbot, page, count: int) -> None:
    page.refresh()
    qtbot.waitUntil(lambda: not page.lister.busy and page.table.rowCount() == count,
                    timeout=60_000)


def answer_no_then_yes(monkeypatch) -> list[str]:
    """Answer the page's questions No, then Yes; the questions asked land in the list."""
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or answers.pop(0))
    return asked


def names(page) -> list[str]:
    return [page.table.item(r, 0).text() for r in range(page.table.rowCount())]


def cells(page, name: str) -> list[str]:
    row = names(page).index(name)
    return [page.table.item(row, c).text() for c in range(page.table.columnCount())]


def click(qtbot, page, key: str) -> None:
    button = page.buttons[key]
    assert button.isEnabled(), key
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_table_shows_every_source_and_the_buttons_follow_the_row(qtbot, models_page):
    page = models_page
    assert names(page) == ["SmolLM2-135M-Instruct", "tiny", "acme/tiny-chat"]
    assert cells(page, "tiny")[1:4] == ["LlamaForCausalLM", "3.2M", "1,024"]
    assert cells(page, "acme/tiny-chat")[7] == "HF cache"
    assert cells(page, "SmolLM2-135M-Instruct")[4] == "Q4_1"
    assert page.caches.label.text().startswith("Converted models: ")
    page.select_path(page.records[2].path)
    assert not page.buttons["remove"].isEnabled() and page.buttons["forget"].isEnabled()
    page.select_path(paths.models_dir() / "tiny")
    assert page.buttons["remove"].isEnabled() and not page.buttons["forget"].isEnabled()
    assert "imported" not in page.details.text() and "tiny" in page.details.text()


def test_use_is_a_config_edit(qtbot, models_page):
    page, state = models_page, models_page.ctx.state
    page.select_path(paths.models_dir() / "tiny")
    click(qtbot, page, "use")
    assert state.value("model.model.path") == str(paths.models_dir() / "tiny")
    assert state.is_dirty("model") and "unsaved config edit" in page.message.text()
    wait_rows(qtbot, page, 3)
    assert cells(page, "tiny")[8] != "never"
    page.table.selectRow(names(page).index("SmolLM2-135M-Instruct"))
    click(qtbot, page, "use")
    assert state.value("model.model.path") == ""  # empty = the bundled starter
    assert not state.is_dirty("model")  # back to the saved value: nothing to ask at close


def test_remove_asks_and_deletes_only_the_models_folder_entry(qtbot, models_page, monkeypatch):
    page = models_page
    asked = answer_no_then_yes(monkeypatch)
    tiny = paths.models_dir() / "tiny"
    page.select_path(tiny)
    click(qtbot, page, "remove")
    assert tiny.is_dir() and "Delete tiny (" in asked[0]
    click(qtbot, page, "remove")
    assert not tiny.exists() and page.message.text().startswith("Removed tiny: ")
    assert "freed" in page.message.text()
    wait_rows(qtbot, page, 2)
    assert names(page) == ["SmolLM2-135M-Instruct", "acme/tiny-chat"]


def test_remove_refuses_a_model_of_a_running_run(qtbot, models_page, config_dir, monkeypatch,
                                                 tmp_path):
    page = models_page
    tiny = paths.models_dir() / "tiny"
    run = running_run(tmp_path / "runs", config_dir, str(tiny))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    page.select_path(tiny)
    click(qtbot, page, "remove")
    assert f"in use by the running training run {run.name}" in page.message.text()
    assert (tiny / "model.safetensors").is_file()


def test_add_a_gguf_then_import_and_use_it(qtbot, models_page, tiny_ggufs, tmp_path):
    page = models_page
    gguf = shutil.copy(tiny_ggufs["llama"], tmp_path / "tiny-llama.gguf")
    page._add(str(gguf))
    wait_rows(qtbot, page, 4)
    page.select_path(gguf)
    assert page.buttons["use"].text() == "Import and use"
    seen = []
    page.worker.progressed.connect(lambda stage, done, total: seen.append(stage))
    with qtbot.waitSignals([page.worker.started, page.worker.succeeded, page.worker.finished],
                           order="strict", timeout=300_000):
        click(qtbot, page, "use")
        assert page.progress_row.isVisibleTo(page) and not page.buttons["import"].isEnabled()
    target = paths.models_dir() / "tiny-llama"
    assert (target / "model.safetensors").is_file()
    assert "De-quantizing the weights" in seen and not page.progress_row.isVisibleTo(page)
    assert page.ctx.state.value("model.model.path") == str(target)
    wait_rows(qtbot, page, 5)
    assert cells(page, "tiny-llama.gguf")[7] == "GGUF file (imported)"
    row = names(page).index("tiny-llama.gguf")
    assert page.table.item(row, 7).toolTip() == "GGUF file (imported as tiny-llama)"
    page.ctx.state.revert()  # Use is an unsaved edit: no "save changes?" box at close


def test_cancelled_import_leaves_nothing(qtbot, models_page, tiny_ggufs):
    page = models_page
    with qtbot.waitSignals([page.worker.started, page.worker.cancelled, page.worker.finished],
                           order="strict", timeout=300_000):
        page.import_gguf(tiny_ggufs["qwen2"])
        click(qtbot, page, "cancel")
    assert "cancelled; nothing was kept" in page.message.text()
    assert sorted(p.name for p in paths.models_dir().iterdir()) == ["tiny"]


def test_bad_input_is_one_line(qtbot, models_page, tiny_ggufs, tmp_path):
    page = models_page
    (tmp_path / "notes").mkdir()
    page._add(str(tmp_path / "notes"))
    assert "is not a model: no config.json and no .gguf file" in page.message.text()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_ggufs["llama"].read_bytes()[:50_000])
    with qtbot.waitSignal(page.worker.failed, timeout=120_000) as failed:
        page.import_gguf(cut)
    assert failed.args[1] == (f"{cut} is truncated (50,000 of 103,808 bytes): download or copy "
                              "it again")
    assert failed.args[1] in page.message.text()
    qtbot.waitUntil(lambda: not page.worker.is_busy())
    with qtbot.waitSignal(page.worker.failed, timeout=120_000) as failed:
        page.download("acme/not-here")  # the tests run with HF_HUB_OFFLINE=1
    assert "HF_HUB_OFFLINE=1" in failed.args[1] and "\n" not in failed.args[1]
    assert not (tmp_path / "hf" / "models--acme--not-here").exists()


def test_clear_converted_models_asks_first(qtbot, models_page, monkeypatch):
    page = models_page
    asked = answer_no_then_yes(monkeypatch)
    assert "Converted models: " in page.caches.label.text() and "(1)" in page.caches.label.text()
    click(qtbot, page, "clear_models")
    assert (paths.models_dir() / "tiny").is_dir() and "Delete all 1 items" in asked[0]
    click(qtbot, page, "clear_models")
    assert not (paths.models_dir() / "tiny").exists()
    assert page.message.text().startswith("Converted models: ") and "freed" in page.message.text()
    wait_rows(qtbot, page, 2)
