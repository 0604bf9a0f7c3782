"""Dataset files in every layout load into conversations or texts; bad records are named by
file and line with what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llamahome_gui import paths
from llamahome_gui.core.data import DatasetError, check_dataset, load_dataset


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_alpaca_jsonl_with_and_without_input(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", [
        {"instruction": "Capital of France?", "input": "", "output": "Paris."},
        {"instruction": "Translate to French.", "input": "Good night", "output": "Bonne nuit"},
    ])
    ds = load_dataset(path)
    assert ds.format == "alpaca" and ds.path == path and len(ds) == 2
    assert ds.records[0] == [{"role": "user", "content": "Capital of France?"},
                             {"role": "assistant", "content": "Paris."}]
    assert ds.records[1][0]["content"] == "Translate to French.\n\nGood night"
    assert ds.locations == ["data.jsonl:1", "data.jsonl:2"]


def test_alpaca_json_array(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([{"instruction": "Hi", "output": "Hello"}] * 3), encoding="utf-8")
    ds = load_dataset(path)
    assert ds.format == "alpaca" and len(ds) == 3
    assert ds.records[2][-1] == {"role": "assistant", "content": "Hello"}


def test_chat_messages_and_sharegpt(tmp_path):
    path = write_jsonl(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello!"}]},
        {"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "Q"},
                           {"from": "gpt", "value": "A"}]},
    ])
    ds = load_dataset(path)
    assert ds.format == "chat"
    assert ds.source_format == "messages+sharegpt"
    assert ds.records[1] == [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"},
                             {"role": "assistant", "content": "A"}]


def test_text_file_paragraphs_and_jsonl_text(tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("First paragraph,\nstill first.\n\n\nSecond one.\n  \nThird.\n", encoding="utf-8")
    ds = load_dataset(txt)
    assert ds.format == "text"
    assert ds.records == ["First paragraph,\nstill first.", "Second one.", "Third."]
    assert ds.locations == ["notes.txt:1", "notes.txt:5", "notes.txt:7"]
    js = write_jsonl(tmp_path / "t.jsonl", [{"text": "one"}, {"text": "two"}])
    assert load_dataset(js).records == ["one", "two"]


def test_format_can_be_chosen(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "instruction": "x", "output": "y"}])
    assert load_dataset(path, "alpaca").format == "alpaca"
    assert load_dataset(path, "text").records == ["a"]
    with pytest.raises(DatasetError, match='missing "messages"'):
        load_dataset(path, "chat")


def test_broken_json_on_line_3_is_named(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": "d"}\n'
                    '{"instruction": "e", "output": \n{"instruction": "f", "output": "g"}\n')
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert str(err.value).splitlines()[0].startswith("data.jsonl:3: invalid JSON:")
    assert err.value.lines == [3]
    assert str(err.value.problems[0]).startswith("data.jsonl:3: invalid JSON")


def test_missing_output_in_json_array_names_the_record(tmp_path):
    rows = [{"instruction": f"q{i}", "output": f"a{i}"} for i in range(20)]
    del rows[16]["output"]
    rows[18]["output"] = 7
    path = tmp_path / "data.json"
    path.write_text(json.dumps(rows, indent=1))
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    lines = str(err.value).splitlines()
    assert lines[0] == 'data.json: record 17: missing "output"'
    assert lines[1] == 'data.json: record 19: "output" must be a string, found a number'
    assert [p.record for p in err.value.problems] == [17, 19]


def test_error_message_lists_at_most_five(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("not json\n" * 12)
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    text = str(err.value)
    assert "bad.jsonl:5:" in text and "bad.jsonl:6:" not in text
    assert "and 7 more problems" in text
    assert len(err.value.problems) == 12


@pytest.mark.parametrize("row, message", [
    ({"messages": [{"role": "user", "content": "hi"}]}, "no assistant turn"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "'robot'; use system, user or assistant"),
    ({"conversations": [{"from": "alien", "value": "x"}]}, "use human, gpt or system"),
    ({"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]}, 'missing "content"'),
    ({"instruction": "", "output": "x"}, '"instruction" is empty'),
])
def test_bad_chat_and_alpaca_records(tmp_path, row, message):
    good = ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
            if "messages" in row or "conversations" in row else {"instruction": "q", "output": "a"})
    path = write_jsonl(tmp_path / "d.jsonl", [good, row])
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert "d.jsonl:2: " in str(err.value) and message in str(err.value)


def test_missing_file_and_unknown_layout(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        load_dataset(tmp_path / "nope.jsonl")
    path = write_jsonl(tmp_path / "odd.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(DatasetError, match=r"cannot tell the format: records have keys \['answer'"):
        load_dataset(path)


def test_check_reports_counts_roles_and_problems_without_raising(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"instruction": "q", "output": "answer"}\n{oops\n')
    report = check_dataset(path)
    assert not report.ok and report.records == 1
    assert [str(p) for p in report.problems][0].startswith("d.jsonl:2: invalid JSON")
    assert report.roles["assistant"].messages == 1
    summary = report.summary()
    assert "1 good records" in summary and "d.jsonl:2: invalid JSON" in summary


def test_bundled_sample_dataset_is_varied_alpaca():
    ds = load_dataset(paths.SAMPLE_DATASET)
    assert ds.format == "alpaca" and 40 <= len(ds) <= 60
    prompts = [r[0]["content"] for r in ds.records]
    assert len(set(prompts)) == len(prompts)
    assert any("\n\n" in p for p in prompts), "some records use the input field"
    assert sum("LlamaHome Assistant" in r[-1]["content"] for r in ds.records) >= 5


def test_container_is_sniffed_from_the_content(tmp_path):
    array_in_jsonl = tmp_path / "a.jsonl"
    array_in_jsonl.write_text(json.dumps([{"instruction": "q", "output": "a"}], indent=2))
    assert len(load_dataset(array_in_jsonl)) == 1
    lines_in_json = write_jsonl(tmp_path / "b.json", [{"text": "x"}, {"text": "y"}])
    assert load_dataset(lines_in_json).records == ["x", "y"]
    pretty_object = tmp_path / "c.json"
    pretty_object.write_text(json.dumps({"instruction": "q", "output": "a"}, indent=2))
    assert load_dataset(pretty_object).format == "alpaca"
