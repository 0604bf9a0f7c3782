"""The Runs page over real run folders (written with the engine's own event log and config
snapshot): table, sorting, one run's curves and config, two runs overlaid with a config
diff, which runs can be resumed, and delete (asks first)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox

from llamahome_gui.app import build_main_window
from llamahome_gui.config.schema import COMPONENTS
from llamahome_gui.core.runs import RUN_COMPONENTS, write_run_config
from llamahome_gui.core.runs.events import (
    Checkpointed,
    Evaluated,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    StepLogged,
)
from llamahome_gui.core.train.events import EventLog
from llamahome_gui.ui.pages.runs_page import COL


def make_run(root: Path, name: str, *, status: str, losses: list[float], lr: float = 2e-4,
             dataset: str = "data.jsonl") -> Path:
    run = root / name
    configs = {c: COMPONENTS[c]() for c in RUN_COMPONENTS}
    configs["training"].training.learning_rate = lr
    configs["training"].training.dataset_path = dataset
    write_run_config(run, configs)
    log = EventLog(run, tensorboard=False)
    total = 10
    log.emit(RunStarted(pid=None, total_steps=total, trainable_params=1000,
                        config={"model": "tiny-llama", "dataset": dataset}))
    for step, loss in enumerate(losses, 1):
        log.emit(StepLogged(step=step, max_steps=total, epoch=step / total, loss=loss, lr=lr,
                            grad_norm=1.0, tokens_per_s=100.0, elapsed_s=step * 1.0, eta_s=1.0))
        if step == 2:
            log.emit(Evaluated(step=step, eval_loss=loss + 0.1))
            ckpt = run / "checkpoints" / "step-000002"
            ckpt.mkdir(parents=True)
            (ckpt / "trainer_state.json").write_text("{}")
            log.emit(Checkpointed(step=step, path=str(ckpt)))
    last = len(losses)
    if status == "done":
        log.emit(RunFinished(step=last, adapter=str(run / "adapter"), final_loss=losses[-1],
                             duration_s=12.0))
    elif status == "stopped":
        log.emit(RunStopped(step=last, checkpoint=str(run / "checkpoints" / "step-000002")))
    else:
        log.emit(RunFailed(step=last, message="data.jsonl:3: invalid JSON", hint="fix line 3"))
    log.close()
    return run


@pytest.fixture
def runs_window(qtbot, config_dir, tmp_path):
    root = tmp_path / "runs"
    runs = {
        "a": make_run(root, "20260101-100000-a", status="done", losses=[3.0, 2.0, 1.5, 1.2]),
        "b": make_run(root, "20260101-110000-b", status="stopped", losses=[3.0, 2.5, 2.2],
                      lr=1e-4),
        "c": make_run(root, "20260101-120000-c", status="failed", losses=[3.0]),
    }
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    window.ctx.state.set_value("training.training.output_dir", str(root))
    window.ctx.state.save()
    page = window.ctx.page("runs")
    page.refresh()
    return page, runs


def column(page, col: int | str) -> list[str]:
    col = COL[col] if isinstance(col, str) else col
    return [page.table.item(r, col).text() for r in range(page.table.rowCount())]


def folders(page) -> list[str]:
    """The run folder of each row, top to bottom."""
    return [Path(page.table.item(r, 0).data(Qt.ItemDataRole.UserRole)).name
            for r in range(page.table.rowCount())]


def select(page, *names: str) -> None:
    page.table.clearSelection()
    for row in range(page.table.rowCount()):
        if folders(page)[row] in names:
            page.table.selectionModel().select(
                page.table.model().index(row, 0),
                page.table.selectionModel().SelectionFlag.Select
                | page.table.selectionModel().SelectionFlag.Rows)


def test_table_shows_every_run_and_sorts(qtbot, runs_window):
    page, _ = runs_window
    assert sorted(column(page, 0)) == ["done", "failed", "stopped"]
    row = folders(page).index("20260101-100000-a")
    cols = ("Status", "Name", "Model", "Dataset", "Steps", "Final loss", "Eval loss", "LR",
            "Rank", "Duration", "Note")
    assert [page.table.item(row, COL[c]).text() for c in cols] == \
        ["done", "a", "tiny-llama", "data.jsonl", "4 / 10", "1.2000", "2.1000", "2.0e-04",
         "16", "0:12", ""]
    header = page.table.horizontalHeader()
    steps_col = COL["Steps"]
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=_section_centre(header, steps_col))
    steps = column(page, "Steps")
    assert steps in (["1 / 10", "3 / 10", "4 / 10"], ["4 / 10", "3 / 10", "1 / 10"])
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=_section_centre(header, steps_col))
    assert column(page, "Steps") == steps[::-1]
    page.table.sortByColumn(COL["Final loss"], Qt.SortOrder.AscendingOrder)
    assert folders(page)[0] == "20260101-100000-a"  # lowest final loss first


def _section_centre(header, index: int):
    from PyQt6.QtCore import QPoint

    return QPoint(header.sectionViewportPosition(index) + header.sectionSize(index) // 2,
                  header.height() // 2)


def test_one_run_shows_its_curves_and_config(qtbot, runs_window):
    page, runs = runs_window
    select(page, "20260101-100000-a")
    plot = page.details.plot
    track = plot.track("run")
    assert list(track.loss.data()[1]) == [3.0, 2.0, 1.5, 1.2]
    assert list(track.loss.data()[0]) == [1, 2, 3, 4]  # by step
    assert track.eval_loss.n == 1 and [step for step, _t in track.checkpoints] == [2]
    assert "learning_rate = 0.0002" in page.details.config_text.toPlainText()
    assert "done" in page.details.summary.text()
    assert not page.resume_button.isEnabled() and page.open_button.isEnabled()


def test_two_runs_overlay_and_diff_their_configs(qtbot, runs_window):
    page, _ = runs_window
    select(page, "20260101-100000-a", "20260101-110000-b")
    assert len(page.details.plot.tracks()) == 2
    table = page.details.diff_table
    rows = {table.item(r, 0).text(): (table.item(r, 1).text(), table.item(r, 2).text())
            for r in range(table.rowCount())}
    assert set(rows) == {"training.training.learning_rate"}
    assert sorted(rows["training.training.learning_rate"]) == ["0.0001", "0.0002"]
    assert "Comparing" in page.details.summary.text()
    assert not page.resume_button.isEnabled()


def test_resume_only_for_stopped_or_failed_runs_with_a_checkpoint(qtbot, runs_window):
    page, _ = runs_window
    select(page, "20260101-110000-b")
    assert page.resume_button.isEnabled()
    select(page, "20260101-120000-c")
    assert "invalid JSON" in page.details.summary.text()
    assert not page.resume_button.isEnabled()  # failed before its first checkpoint


def test_delete_asks_first(qtbot, runs_window, monkeypatch):
    page, runs = runs_window
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or answers.pop(0))
    select(page, "20260101-120000-c")
    qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
    assert runs["c"].is_dir() and page.table.rowCount() == 3
    qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
    assert not runs["c"].exists() and page.table.rowCount() == 2
    assert "20260101-120000-c" in asked[0] and len(asked) == 2


def test_delete_of_a_symlinked_run_reports_what_was_deleted(qtbot, runs_window, monkeypatch,
                                                            tmp_path):
    page, runs = runs_window
    elsewhere = make_run(tmp_path / "kept", "20260101-130000-d", status="done", losses=[2.0])
    link = runs["a"].parent / "20260101-130000-d"
    link.symlink_to(elsewhere, target_is_directory=True)
    page.refresh()
    assert page.table.rowCount() == 4
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    select(page, "20260101-100000-a", "20260101-120000-c", "20260101-130000-d")
    qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
    message = page.ctx.window.statusBar().currentMessage()
    assert message == (f"Deleted 2 run folders; removed the link 20260101-130000-d (its folder "
                       f"{elsewhere} was kept)")
    assert not runs["a"].exists() and not runs["c"].exists() and not link.exists()
    assert (elsewhere / "run.toml").is_file()
    assert folders(page) == ["20260101-110000-b"]


def _edit(qtbot, page, folder: str, col: str, text: str) -> None:
    """Double-click the cell, type, press Enter: what a user does."""
    from PyQt6.QtWidgets import QLineEdit

    window = page.ctx.window
    if not window.isVisible():
        window.resize(1280, 800)
        with qtbot.waitExposed(window):
            window.show()
        window.navigate("runs")
    row = folders(page).index(folder)
    item = page.table.item(row, COL[col])
    page.table.scrollToItem(item)
    rect = page.table.visualItemRect(item)
    qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    editor = page.table.findChild(QLineEdit)
    assert isinstance(editor, QLineEdit), "the cell did not open for editing"
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.table.findChild(QLineEdit) is None)   # closed, rows redrawn


def test_rename_and_note_are_kept_in_the_run_folder(qtbot, runs_window):
    page, runs = runs_window
    snapshot = (runs["b"] / "run.toml").read_bytes()
    _edit(qtbot, page, "20260101-110000-b", "Name", "lower lr")
    _edit(qtbot, page, "20260101-110000-b", "Note", "half the learning rate")
    row = folders(page).index("20260101-110000-b")
    assert page.table.item(row, COL["Name"]).text() == "lower lr"
    assert page.table.item(row, COL["Note"]).text() == "half the learning rate"
    assert page.table.item(row, COL["LR"]).text() == "1.0e-04"
    assert (runs["b"] / "run.toml").read_bytes() == snapshot  # the config snapshot is untouched
    page._signature = ()   # a fresh read of the folders (as after a restart) keeps both
    page.refresh()
    row = folders(page).index("20260101-110000-b")
    assert page.table.item(row, COL["Name"]).text() == "lower lr"
    select(page, "20260101-110000-b")
    assert "lower lr" in page.details.summary.text()
    # a status cell is not editable: double-click there opens the folder instead
    assert not page.table.item(row, COL["Status"]).flags() & Qt.ItemFlag.ItemIsEditable


def test_chat_and_export_buttons_hand_the_run_on(qtbot, runs_window):
    page, runs = runs_window
    ctx = page.ctx
    select(page, "20260101-110000-b")     # stopped before it wrote an adapter
    assert not page.chat_button.isEnabled() and not page.export_button.isEnabled()
    adapter = runs["a"] / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    page._signature = ()
    page.refresh()
    select(page, "20260101-100000-a")
    assert page.chat_button.isEnabled() and page.export_button.isEnabled()
    with qtbot.waitSignal(ctx.chat_with_adapter_requested) as asked:
        qtbot.mouseClick(page.chat_button, Qt.MouseButton.LeftButton)
    assert asked.args == [str(adapter)] and ctx.current_page() == "chat"


def test_compare_draws_b_dashed_with_the_legend_above_the_plot(qtbot, runs_window):
    page, _ = runs_window
    select(page, "20260101-100000-a", "20260101-110000-b")
    plot = page.details.plot
    a, b = plot.track("A"), plot.track("B")
    assert a.colour != b.colour
    assert a.curves["smooth"].opts["pen"].style() == Qt.PenStyle.SolidLine
    assert b.curves["smooth"].opts["pen"].style() == Qt.PenStyle.DashLine
    assert a.curves["eval"].opts["symbol"] != b.curves["eval"].opts["symbol"]
    assert not plot.loss_legend.isVisible()     # nothing drawn over the curves
    legend = page.details.legend.text()
    first, second = (r.label for r in page.selected_runs())   # A and B, top row first
    assert f"A</span> {first} " in legend and f"B</span> {second} " in legend


def test_an_empty_runs_folder_says_how_to_make_the_first_run(qtbot, config_dir, tmp_path):
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    window.ctx.state.set_value("training.training.output_dir", str(tmp_path / "none"))
    window.ctx.state.save()
    page = window.ctx.page("runs")
    page.refresh()
    assert page.views.currentWidget() is page.empty
    assert "Start training" in page.empty.text.text()
    assert page.empty.first.train_button.text().startswith("Train the starter model")
    make_run(tmp_path / "none", "20260101-100000-a", status="done", losses=[2.0, 1.0])
    page.refresh()
    assert page.views.currentWidget() is not page.empty and page.table.rowCount() == 1
