"""Turning records into training examples with the model's own chat template.

The prompt part of every assistant turn is exactly what ``apply_chat_template(history,
add_generation_prompt=True)`` gives, so the model is trained on the same text it will see in
chat. Loss counts only the assistant's tokens, up to and including its end-of-turn token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llamahome_gui.core.data.records import Conversation, Record

IGNORE_INDEX = -100
# End-of-turn markers of common chat templates; the tokenizer's eos token is tried first.
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>")


class TemplateError(ValueError):
    """The model's tokenizer cannot render chat records (no chat template)."""


@dataclass
class Example:
    """One training row before packing/padding. ``labels`` is ``IGNORE_INDEX`` where the loss
    does not count."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def n_trained(self) -> int:
        """Tokens the loss counts."""
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass
class Segment:
    text: str
    trained: bool


def with_system_prompt(conversation: Conversation, system_prompt: str | None) -> Conversation:
    """Prepend the chat's system prompt when the record has none of its own, so training sees
    the same context chat will give."""
    if system_prompt and (not conversation or conversation[0]["role"] != "system"):
        return [{"role": "system", "content": system_prompt}, *conversation]
    return conversation


def _render(tokenizer: Any, messages: Conversation, generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False,
                                         add_generation_prompt=generation_prompt)


def _end_markers(tokenizer: Any) -> list[str]:
    eos = getattr(tokenizer, "eos_token", None)
    return [eos, *(m for m in _END_OF_TURN if m != eos)] if eos else list(_END_OF_TURN)


def _split_answer(answer: str, markers: list[str], eos: str | None) -> list[Segment]:
    """The assistant text through its end-of-turn token (trained), then the template's
    trailing formatting (not trained)."""
    for marker in markers:
        pos = answer.rfind(marker)
        if pos >= 0:
            cut = pos + len(marker)
            return [Segment(answer[:cut], True), Segment(answer[cut:], False)]
    # A template that does not close the turn: teach the model to stop with eos.
    return [Segment(answer + (eos or ""), True)]


def conversation_segments(conversation: Conversation, tokenizer: Any,
                          system_prompt: str | None = None) -> list[Segment]:
    """The conversation's text as alternating untrained (prompt) and trained (answer) parts."""
    if not getattr(tokenizer, "chat_template", None):
        raise TemplateError("the model's tokenizer has no chat template, so instruction and chat "
                            "records cannot be rendered; use a chat/instruct model or text data")
    messages = with_system_prompt(conversation, system_prompt)
    markers = _end_markers(tokenizer)
    eos = getattr(tokenizer, "eos_token", None)
    segments: list[Segment] = []
    done = ""
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    for i, message in enumerate(messages[:last + 1]):
        if message["role"] != "assistant":
            continue
        prompt = _render(tokenizer, messages[:i], True)
        full = _render(tokenizer, messages[:i + 1], False)
        if not prompt.startswith(done) or not full.startswith(prompt):
            # The template rewrites earlier turns (e.g. drops past reasoning): train only the
            # last answer, with everything before it as prompt.
            prompt = _render(tokenizer, messages[:last], True)
            full = _render(tokenizer, messages[:last + 1], False)
            if not full.startswith(prompt):
                raise TemplateError("the chat template renders the prompt differently from the "
                                    "conversation, so answers cannot be located")
            return [Segment(prompt, False), *_split_answer(full[len(prompt):], markers, eos)]
        segments.append(Segment(prompt[len(done):], False))
        segments.extend(_split_answer(full[len(prompt):], markers, eos))
        done = full
    return [s for s in segments if s.text]


def _text_ids(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    if not texts:
        return []
    encoded = tokenizer(texts, add_special_tokens=True)["input_ids"]
    eos_id = getattr(tokenizer, "eos_token_id", None)
    if eos_id is None:
        return [list(ids) for ids in encoded]
    return [list(ids) + ([eos_id] if not ids or ids[-1] != eos_id else []) for ids in encoded]


def render_examples(records: Sequence[Record], tokenizer: Any, max_seq_length: int | None,
                    system_prompt: str | None = None) -> list[Example]:
    """All records at once: one batched tokenizer call for all the text pieces.

    Text records (plain strings) count every token and end with the eos token. Examples
    longer than ``max_seq_length`` are cut at the end and marked ``truncated``.
    """
    plan: list[list[Segment] | int] = []
    pieces: list[str] = []
    texts: list[str] = []
    for record in records:
        if isinstance(record, str):
            plan.append(len(texts))
            texts.append(record)
        else:
            segments = conversation_segments(record, tokenizer, system_prompt)
            plan.append(segments)
            pieces.extend(s.text for s in segments)
    piece_ids = tokenizer(pieces, add_special_tokens=False)["input_ids"] if pieces else []
    text_ids = _text_ids(tokenizer, texts)
    examples: list[Example] = []
    cursor = 0
    for entry in plan:
        if isinstance(entry, int):
            ids = text_ids[entry]
            labels = list(ids)
        else:
            ids, labels = [], []
            for segment in entry:
                chunk = piece_ids[cursor]
                cursor += 1
                ids.extend(chunk)
                labels.extend(chunk if segment.trained else [IGNORE_INDEX] * len(chunk))
        truncated = bool(max_seq_length) and len(ids) > max_seq_length  # type: ignore[operator]
        if truncated:
            ids, labels = ids[:max_seq_length], labels[:max_seq_length]
        examples.append(Example(list(ids), list(labels), truncated))
    return examples


def render_example(record: Record, tokenizer: Any, max_seq_length: int | None,
                   system_prompt: str | None = None) -> Example:
    """One record as a training example (see ``render_examples``)."""
    return render_examples([record], tokenizer, max_seq_length, system_prompt)[0]


def prompt_ids(conversation: Conversation, tokenizer: Any,
               system_prompt: str | None = None) -> list[int]:
    """The tokens chat feeds the model for this history (generation prompt included)."""
    messages = with_system_prompt(conversation, system_prompt)
    return list(tokenizer(_render(tokenizer, messages, True), add_special_tokens=False)["input_ids"])
