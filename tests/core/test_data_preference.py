"""Preference data (prompt + chosen + rejected) for DPO: reading, file:line errors, the SFT
view, and `llamahome data check|preview` on it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llamahome_gui.core.data import (
    DatasetError,
    check_dataset,
    load_dataset,
    load_preferences,
    parse_preferences,
    preview_items,
)


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [
    {"prompt": "Who are you?", "chosen": "I am Nova.", "rejected": "I am SmolLM."},
    {"instruction": "Name yourself", "input": "briefly", "chosen": "Nova.", "rejected": "Bob."},
    {"messages": [{"role": "system", "content": "Be short."},
                  {"role": "user", "content": "Hi, who made you?"}],
     "chosen": "The Nova team.", "rejected": "Nobody."},
    {"chosen": [{"role": "user", "content": "Your name?"},
                {"role": "assistant", "content": "Nova"}],
     "rejected": [{"role": "user", "content": "Your name?"},
                  {"role": "assistant", "content": "Max"}]},
]


def test_every_layout_gives_a_context_ending_with_the_users_turn(tmp_path):
    prefs = load_preferences(_write(tmp_path / "prefs.jsonl", ROWS))
    assert len(prefs) == 4
    first, alpaca, chat, turns = prefs.pairs
    assert first.conversation == [{"role": "user", "content": "Who are you?"}]
    assert (first.chosen, first.rejected) == ("I am Nova.", "I am SmolLM.")
    assert alpaca.conversation[-1]["content"] == "Name yourself\n\nbriefly"
    assert [m["role"] for m in chat.conversation] == ["system", "user"]
    assert turns.conversation == [{"role": "user", "content": "Your name?"}]
    assert (turns.chosen, turns.rejected) == ("Nova", "Max")
    assert prefs.locations == [f"prefs.jsonl:{i}" for i in range(1, 5)]


def test_auto_detection_and_the_sft_view_use_the_chosen_answer(tmp_path):
    ds = load_dataset(_write(tmp_path / "prefs.jsonl", ROWS))
    assert ds.format == "preference"
    assert ds.records[0] == [{"role": "user", "content": "Who are you?"},
                             {"role": "assistant", "content": "I am Nova."}]


@pytest.mark.parametrize("row, message", [
    ({"prompt": "q", "chosen": "a"}, 'missing "rejected"'),
    ({"prompt": "q", "chosen": "a", "rejected": ""}, '"rejected" is empty'),
    ({"prompt": "q", "chosen": "same", "rejected": "same"}, "nothing to prefer"),
    ({"chosen": "a", "rejected": "b"}, "missing the context"),
    ({"prompt": 3, "chosen": "a", "rejected": "b"}, '"prompt" must be a string'),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}],
      "chosen": "a", "rejected": "b"}, "must end with a user turn"),
    ({"prompt": "q", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"},
     "last turn must be the assistant"),
])
def test_bad_records_say_what_is_wrong(tmp_path, row, message):
    path = _write(tmp_path / "p.jsonl", [ROWS[0], row])
    _, problems = parse_preferences(path)
    assert [p.where for p in problems] == ["p.jsonl:2"]
    assert message in problems[0].message


def test_a_broken_line_is_named_by_load_and_by_check(tmp_path):
    path = tmp_path / "prefs.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[1]) + "\n"
                    '{"prompt": "q", "chosen": "a", "rejected": "b"\n', encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        load_preferences(path)
    assert "prefs.jsonl:3: invalid JSON" in str(err.value)
    report = check_dataset(path)
    assert report.format == "preference" and report.records == 2
    assert [p.where for p in report.problems] == ["prefs.jsonl:3"]


def test_preview_shows_both_answers(tmp_path, tiny_model_dir):
    path = _write(tmp_path / "prefs.jsonl", ROWS)
    items = preview_items(path, tokenizer=tiny_model_dir, n=2)
    assert "I am Nova." in items[0].answer and "I am SmolLM." in items[0].rejected
    assert "Who are you?" in items[0].prompt and "I am SmolLM." not in items[0].marked


def _llamahome(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llamahome_gui", *args], capture_output=True,
                          text=True, timeout=240)


def test_data_check_and_preview_from_the_command_line(tmp_path, tiny_model_dir, config_dir):
    good = _write(tmp_path / "prefs.jsonl", ROWS)
    result = _llamahome("data", "preview", str(good), "--model", str(tiny_model_dir), "-n", "1",
                        "--config-dir", str(config_dir))
    assert result.returncode == 0, result.stderr
    assert "⟦I am Nova." in result.stdout and "rejected" in result.stdout
    assert "⟦I am SmolLM." in result.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps({"prompt": "q", "chosen": "a"}) + "\n",
                   encoding="utf-8")
    result = _llamahome("data", "check", str(bad), "--config-dir", str(config_dir))
    assert result.returncode == 2
    assert 'bad.jsonl:2: missing "rejected"' in result.stdout
