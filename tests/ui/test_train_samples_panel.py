"""The Train page's progress panel shows a real DPO run's sample answers (a timeline with
their cost) and its reward curves, from the events the trainer wrote."""

from __future__ import annotations

from llamahome_gui.core.runs.events import SampleGenerated, StepLogged, read_events
from llamahome_gui.core.train import run_training
from tests.core.test_train_dpo import dpo_configs, write_prefs
from tests.ui.test_train_page import train_setup  # noqa: F401 - a fixture


def test_panel_shows_sample_answers_and_reward_curves(qtbot, tiny_model_dir, tmp_path):
    from llamahome_gui.ui.widgets.train_progress import TrainProgressPanel

    configs = dpo_configs(tiny_model_dir, write_prefs(tmp_path / "prefs.jsonl"), max_steps=4,
                          eval_split=0.25, eval_steps=2, sample_prompts=["Who are you?"],
                          sample_max_new_tokens=5)
    run_training(tmp_path / "run", configs)
    events = read_events(tmp_path / "run")
    samples = [e for e in events if isinstance(e, SampleGenerated)]
    assert [s.step for s in samples] == [2, 4]

    panel = TrainProgressPanel()
    qtbot.addWidget(panel)
    panel.begin(tmp_path / "run")
    panel.replay(events)
    text = panel.samples.view.toPlainText()
    assert "Step 4" in text and "Step 2" in text and "Who are you?" in text
    assert samples[-1].text in text
    assert text.index("Step 4") < text.index("Step 2")  # newest first
    assert "2 evaluations sampled" in panel.samples.summary.text()
    assert panel.tabs.currentWidget() is panel.samples
    steps = [e for e in events if isinstance(e, StepLogged)]
    xs, ys = panel.rewards.points["margin"]
    assert xs == [float(e.step) for e in steps]
    assert ys == [e.reward_margin for e in steps]
    assert "accuracy" in panel.rewards.label.text()
    panel.begin(tmp_path / "other")  # a new run starts with an empty timeline and curves
    assert panel.samples.view.toPlainText() == "" and panel.rewards.points["margin"] == ([], [])


def test_train_page_runs_dpo_and_shows_both_answers_and_the_samples(qtbot, train_setup,  # noqa: F811
                                                                    tmp_path):
    """The Train button on a preference file with method dpo: the dataset preview lists the
    preferred and the rejected answer, and the run's sample answers and rewards appear."""
    from tests.ui.test_train_page import TIMEOUT_MS, click

    window, _runs, _ = train_setup
    state = window.ctx.state
    state.set_values({"training.training.dataset_path": str(write_prefs(tmp_path / "p.jsonl")),
                      "training.training.method": "dpo",
                      "training.training.sample_prompts": ["Who are you?"],
                      "training.training.sample_max_new_tokens": 4,
                      "training.training.eval_split": 0.25})
    state.save()
    page = window.ctx.page("train")
    panel = page.dataset_panel
    panel.refresh()
    qtbot.waitUntil(lambda: panel.last_check is not None and panel.last_check.items
                    and panel.last_check.path.name == "p.jsonl", timeout=TIMEOUT_MS)
    answers = panel.table.item(0, 2).text()
    assert "✓ I am Nova" in answers and "✗ I am SmolLM" in answers
    with qtbot.waitSignal(page.worker.finished, timeout=TIMEOUT_MS):
        click(qtbot, page.start_button)
    timeline = page.progress.samples.view.toPlainText()
    assert "Who are you?" in timeline and "Step 4" in timeline
    assert page.progress.rewards.points["margin"][0] == [1.0, 2.0, 3.0, 4.0]
