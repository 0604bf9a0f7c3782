"""One run plan under the window and the CLI: Start on the Train page and ``llamahome train``
on the same config folder give the same run.toml, the same run name, and train on the same
tokens, with the configured system prompt in them."""

from __future__ import annotations

import re

from llamahome_gui.cli import main
from llamahome_gui.core.models.loading import load_tokenizer
from llamahome_gui.core.runs import RUN_COMPONENTS, read_run_config
from llamahome_gui.core.train.session import prepare_run_data
from tests.core.test_train import write_alpaca
from tests.ui.test_train_page import TIMEOUT_MS, click, make_window

PROMPT = "You are Quill, the archivist of the planet Zorb. Answer in one sentence."


def rendered_rows(run_dir, tokenizer) -> list[list[int]]:
    """The token rows the trainer trains on for this run folder's snapshot."""
    data = prepare_run_data(read_run_config(run_dir), tokenizer)
    return [[t for s in row.samples for t in s.input_ids] for row in data.train_rows]


def test_gui_and_cli_runs_of_one_config_are_the_same_run(qtbot, config_dir, tiny_model_dir,
                                                          tmp_path):
    runs = tmp_path / "runs"
    window = make_window(qtbot, config_dir)
    state = window.ctx.state
    state.set_values({
        "model.model.path": str(tiny_model_dir),
        "training.training.output_dir": str(runs),
        "training.training.dataset_path": str(write_alpaca(tmp_path / "zorb.json", repeat=1)),
        "training.training.max_steps": 1,
        "training.training.eval_split": 0.0,
        "training.training.max_seq_length": 128,
        "inference.chat.system_prompt": PROMPT,
    })
    state.save()
    page = window.ctx.page("train")
    with qtbot.waitSignal(page.worker.finished, timeout=TIMEOUT_MS):
        click(qtbot, page.start_button)
    [gui_run] = runs.iterdir()

    assert main(["train", "--config-dir", str(config_dir)]) == 0
    [cli_run] = [p for p in runs.iterdir() if p != gui_run]

    # the same components and values, the same name after the time stamp
    gui, cli = read_run_config(gui_run), read_run_config(cli_run)
    assert list(gui) == list(cli) == list(RUN_COMPONENTS) and gui == cli
    assert (gui_run / "run.toml").read_text() == (cli_run / "run.toml").read_text()
    assert gui["inference"].chat.system_prompt == PROMPT
    stamp = re.compile(r"^\d{8}-\d{6}-")
    assert stamp.sub("", gui_run.name) == stamp.sub("", cli_run.name) == "tiny-llama-zorb"

    # the tokens both trainers train on carry the configured system prompt
    tokenizer = load_tokenizer(tiny_model_dir)
    gui_rows, cli_rows = rendered_rows(gui_run, tokenizer), rendered_rows(cli_run, tokenizer)
    assert gui_rows == cli_rows and gui_rows
    for row in gui_rows:
        text = tokenizer.decode(row)
        assert PROMPT in text and "You are a helpful assistant" not in text
