"""Records rendered with the real SmolLM2 chat template: the prompt is exactly what chat sends,
and the loss counts the assistant's tokens and nothing else."""

from __future__ import annotations

import json

import pytest

from llamahome_gui.core.data import (
    IGNORE_INDEX,
    check_dataset,
    load_dataset,
    preview,
    preview_items,
    render_example,
    render_examples,
)
from llamahome_gui.core.models.loading import load_tokenizer

ALPACA = [{"role": "user", "content": "Translate to French.\n\nGood night"},
          {"role": "assistant", "content": "Bonne nuit, dors bien."}]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return load_tokenizer(tiny_model_dir)


def trained_text(example, tokenizer) -> str:
    return tokenizer.decode([t for t, lab in zip(example.input_ids, example.labels, strict=True)
                             if lab != IGNORE_INDEX])


def test_prompt_part_is_what_chat_sends(tokenizer):
    example = render_example(ALPACA, tokenizer, 512)
    prompt = tokenizer.apply_chat_template(ALPACA[:1], add_generation_prompt=True)["input_ids"]
    assert example.input_ids[:len(prompt)] == list(prompt)
    assert set(example.labels[:len(prompt)]) == {IGNORE_INDEX}
    assert example.labels[len(prompt)] != IGNORE_INDEX, "the answer starts right after the prompt"


def test_labels_cover_exactly_the_answer_and_end_of_turn(tokenizer):
    example = render_example(ALPACA, tokenizer, 512)
    assert trained_text(example, tokenizer) == "Bonne nuit, dors bien.<|im_end|>"
    full = tokenizer.apply_chat_template(ALPACA)["input_ids"]
    assert example.input_ids == list(full), "the whole example is the template's rendering"
    assert not example.truncated


def test_multi_turn_trains_every_assistant_turn_only(tokenizer):
    conversation = [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Ciao."}]
    example = render_example(conversation, tokenizer, 512)
    assert trained_text(example, tokenizer) == "Hello!<|im_end|>Ciao.<|im_end|>"
    prompt2 = tokenizer.apply_chat_template(conversation[:4], add_generation_prompt=True)
    assert example.input_ids[:len(prompt2["input_ids"])] == list(prompt2["input_ids"])


def test_system_prompt_of_chat_is_used_when_record_has_none(tokenizer):
    example = render_example(ALPACA, tokenizer, 512, system_prompt="You are LlamaHome.")
    expected = tokenizer.apply_chat_template(
        [{"role": "system", "content": "You are LlamaHome."}, ALPACA[0]],
        add_generation_prompt=True)["input_ids"]
    assert example.input_ids[:len(expected)] == list(expected)
    assert "SmolLM" not in tokenizer.decode(example.input_ids)


def test_text_records_count_every_token(tokenizer):
    example = render_example("The quick brown fox jumps.", tokenizer, 512)
    assert example.labels == example.input_ids
    assert example.input_ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(example.input_ids[:-1]) == "The quick brown fox jumps."


def test_truncation_cuts_and_counts(tokenizer, tmp_path):
    long_answer = "word " * 200
    example = render_example([{"role": "user", "content": "Say words"},
                              {"role": "assistant", "content": long_answer}], tokenizer, 64)
    assert example.truncated and len(example.input_ids) == len(example.labels) == 64
    path = tmp_path / "d.jsonl"
    rows = [{"instruction": "Say words", "output": long_answer}] * 3 + \
           [{"instruction": "Hi", "output": "Hello"}] * 2
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = check_dataset(path, tokenizer=tokenizer, max_seq_length=64)
    assert report.ok and report.tokens is not None
    assert report.tokens.truncated == 3
    assert report.tokens.min < 64 < report.tokens.max
    assert "3 records truncated" in report.summary()


def test_batch_rendering_equals_one_by_one(tokenizer, tmp_path):
    records = [ALPACA, "plain text record", [{"role": "user", "content": "2+2?"},
                                              {"role": "assistant", "content": "4"}]]
    batch = render_examples(records, tokenizer, 512)
    assert [e.input_ids for e in batch] == [render_example(r, tokenizer, 512).input_ids
                                            for r in records]


def test_sample_dataset_statistics(tokenizer):
    from llamahome_gui import paths

    ds = load_dataset(paths.SAMPLE_DATASET)
    examples = render_examples(ds.records, tokenizer, 512)
    assert all(e.n_trained > 0 and not e.truncated for e in examples)


def test_preview_shows_prompt_and_answer(tokenizer, tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"instruction": "Capital of Italy?", "output": "Rome."}) + "\n")
    items = preview_items(path, "auto", tokenizer, 5)
    assert len(items) == 1
    assert items[0].answer == "Rome.<|im_end|>"
    assert "Capital of Italy?" in items[0].prompt and "Rome" not in items[0].prompt
    (text,) = preview(path, "auto", tokenizer, 5)
    assert text.startswith("── d.jsonl:1 ·") and "⟦Rome.<|im_end|>⟧" in text


def test_templates_without_end_marker_or_that_rewrite_history(tiny_model_dir):
    from llamahome_gui.core.data import TemplateError

    tok = load_tokenizer(tiny_model_dir)
    # A template that never closes a turn: the answer is taught to end with eos.
    tok.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n"
                         "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}")
    example = render_example(ALPACA, tok, 512)
    assert trained_text(example, tok) == "Bonne nuit, dors bien.\n" + tok.eos_token
    # A template that hides earlier answers: only the last answer is trained.
    tok.chat_template = ("{% for m in messages %}{% if m['role'] == 'assistant' and not loop.last "
                         "%}assistant: ...\n{% else %}{{ m['role'] }}: {{ m['content'] }}<|im_end|>"
                         "\n{% endif %}{% endfor %}{% if add_generation_prompt %}assistant: "
                         "{% endif %}")
    conversation = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Ciao."}]
    assert trained_text(render_example(conversation, tok, 512), tok) == "Ciao.<|im_end|>"
    tok.chat_template = None
    with pytest.raises(TemplateError, match="no chat template"):
        render_example(ALPACA, tok, 512)
    assert render_example("text still works", tok, 512).n_trained > 0
