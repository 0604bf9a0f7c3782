"""The Train page as a user sees it at small and large window sizes, its curves by step
across a stop/resume, the finished-run line and the last run after a restart."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PyQt6.QtCore import QRect

from llamahome_gui.app import build_main_window
from llamahome_gui.core.runs.events import (
    Checkpointed,
    Evaluated,
    RunFinished,
    RunStarted,
    RunStopped,
    StepLogged,
    encode,
)
from llamahome_gui.ui.widgets.loss_plot import fmt_rate
from llamahome_gui.ui.widgets.train_progress import TrainProgressPanel

T0 = 1_800_000_000.0


def window_at(qtbot, config_dir, width: int, height: int):
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    window.setMinimumSize(0, 0)
    window.resize(width, height)
    window.show()
    window.navigate("train")
    qtbot.waitExposed(window)
    return window


@pytest.mark.parametrize("size", [(1024, 640), (1600, 1000)])
def test_start_button_and_stats_are_inside_the_window(qtbot, config_dir, size):
    window = window_at(qtbot, config_dir, *size)
    page = window.ctx.page("train")
    qtbot.waitUntil(lambda: page.start_button.isVisible())
    # the page itself fits (another page's minimum may still widen the window)
    nav = window.width() - page.parentWidget().width()
    assert page.minimumSizeHint().width() + nav <= size[0]
    assert window.height() == size[1]
    inside = window.rect()
    for widget in (page.start_button, page.stop_button, *page.progress.stats.cells):
        top_left = widget.mapTo(window, widget.rect().topLeft())
        assert inside.contains(QRect(top_left, widget.size())), widget.objectName()
    for title in page.progress.stats.findChildren(type(page.progress.message_label)):
        if title.text() in ("Remaining", "Tokens / s"):  # not cut to "Remainin", "Tokens /"
            assert title.width() >= title.fontMetrics().horizontalAdvance(title.text())
    # the settings fold away and give the curves the room; Start stays
    page.settings_button.click()
    assert not page.settings_pane.isVisible() and page.start_button.isVisible()
    window.ctx.state.revert()


def test_training_form_folds_its_advanced_fields(qtbot, config_dir):
    window = window_at(qtbot, config_dir, 1024, 640)
    page = window.ctx.page("train")
    page.tabs.setCurrentIndex(1)
    form = page.training_form
    assert form.rows["training.training.learning_rate"].isVisible()
    assert not form.rows["training.training.warmup_ratio"].isVisible()  # advanced: folded
    fold = form.advanced["training"]
    fold.toggle.click()
    assert form.rows["training.training.warmup_ratio"].isVisible()
    assert form.state.field("training.training.warmup_ratio").advanced
    assert not form.state.field("training.training.learning_rate").advanced


def test_preset_line_says_what_it_changes_and_apply_puts_it_in_the_forms(qtbot, config_dir):
    window = window_at(qtbot, config_dir, 1024, 640)
    page = window.ctx.page("train")
    state = window.ctx.state
    combo = page.presets.combo
    combo.setCurrentIndex(combo.findData("low-memory"))
    line = page.presets.line.text()
    assert "Per device train batch size 4 → 1" in line, line
    page.presets.apply_button.click()
    assert state.value("training.training.per_device_train_batch_size") == 1
    assert "already have these values" in page.presets.line.text()
    state.revert()


def stopped_and_resumed() -> list[object]:
    """Steps 1-12 (checkpoint at 10), stopped; resumed 20 minutes later from step 10."""
    events: list[object] = [RunStarted(time=T0, total_steps=20)]
    events += [StepLogged(time=T0 + 5 * s, step=s, max_steps=20, loss=3.0 - 0.05 * s,
                          lr=2e-4) for s in range(1, 13)]
    events += [Checkpointed(time=T0 + 50, step=10, path="checkpoint-10"),
               RunStopped(time=T0 + 61, step=12, checkpoint="checkpoint-10")]
    t1 = T0 + 1260
    events.append(RunStarted(time=t1, total_steps=20, start_step=10))
    events += [StepLogged(time=t1 + 5 * (s - 10), step=s, max_steps=20, loss=2.5 - 0.05 * s,
                          lr=1e-4) for s in range(11, 21)]
    events.append(Evaluated(time=t1 + 51, step=20, eval_loss=1.75))
    return events


def connected_pairs(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
    """(x gap) of each pair of neighbours the line joins (both finite)."""
    return [(x[i], x[i + 1]) for i in range(len(x) - 1)
            if math.isfinite(y[i]) and math.isfinite(y[i + 1])]


def test_step_axis_after_a_resume_has_no_plateau_and_the_line_breaks(qtbot):
    panel = TrainProgressPanel()
    qtbot.addWidget(panel)
    panel.replay(stopped_and_resumed())
    plot = panel.plot
    assert plot.x_label == "step" and plot.axis_buttons["step"].isChecked()
    x, y = plot.curve_data("loss")
    steps = x[np.isfinite(y)]
    assert list(steps) == list(range(1, 21))  # 11 and 12 once: the resumed run's
    for a, b in connected_pairs(x, y):
        assert b - a == 1  # no line drawn across anything but one step
    assert np.isnan(y).sum() == 1  # the break at the resume
    plot.axis_buttons["time"].click()
    x, y = plot.curve_data("loss")
    assert plot.x_label == "time"
    for a, b in connected_pairs(x, y):
        assert b - a < 60  # the 20-minute pause is a gap, not a flat line
    assert fmt_rate(2e-4) == "2.0e-4" and fmt_rate(1.5e-4) == "1.5e-4"


def test_finished_line_shows_eval_and_a_smoothed_mean_and_elides_the_path(qtbot):
    panel = TrainProgressPanel()
    qtbot.addWidget(panel)
    panel.resize(420, 600)
    panel.show()
    adapter = "/very/long/folder/" + "x" * 200 + "/adapter"
    events = stopped_and_resumed() + [RunFinished(time=T0 + 1320, adapter=adapter, step=20,
                                                  final_loss=9.99, duration_s=120.0)]
    panel.replay(events, with_end=True)
    text = panel.result_label.text()
    assert "Eval loss</b> 1.7500" in text and "mean of the last 10 steps" in text
    assert "9.99" not in text  # not the last raw step
    mean = sum(2.5 - 0.05 * s for s in range(11, 21)) / 10
    assert f"{mean:.4f}" in text
    label = panel.adapter_label
    assert label.toolTip() == adapter and "…" in label.text()
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
    assert panel.stat_labels["eta"].text() == "–"


def test_after_a_restart_the_page_shows_the_last_run(qtbot, config_dir, tmp_path):
    runs = tmp_path / "runs"
    run_dir = runs / "20261201-120000-tiny-data"
    run_dir.mkdir(parents=True)
    (run_dir / "events.jsonl").write_text(
        "".join(encode(e) + "\n" for e in stopped_and_resumed()[:15]), encoding="utf-8")
    window = build_main_window(config_dir)
    window.persist_settings = False
    qtbot.addWidget(window)
    window.ctx.state.set_value("training.training.output_dir", str(runs))
    page = window.ctx.page("train")
    assert page.show_last_run()
    assert page.progress.state_label.text() == "Stopped"
    assert page.progress.plot_stack.currentWidget() is page.progress.plot
    assert page.progress.stat_labels["step"].text() == "12 / 20"
    assert page.progress.stat_labels["eta"].text() == "–"
    window.ctx.state.revert()

