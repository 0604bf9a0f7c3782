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
    """The model's tokenizer cannot render chat records (no chat template, or the template
    raised on a record). ``conversation`` is the index of the failing one, when known."""

    def __init__(self, message: str, conversation: int | None = None) -> None:
        super().__init__(message)
        self.conversation = conversation
        self.where = ""      # the failing record's place in its file, e.g. data.jsonl:12
        self.reason = message


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


def _check_template(tokenizer: Any) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise TemplateError("the model's tokenizer has no chat template, so instruction and chat "
                            "records cannot be rendered; use a chat/instruct model or text data")


def _render_many(tokenizer: Any, conversations: list[Conversation],
                 generation_prompt: bool, owners: Sequence[int] | None = None) -> list[str]:
    """One batched template call: far cheaper than one call per conversation. When the
    template raises, the conversations are rendered one by one to name the failing one."""
    if not conversations:
        return []
    try:
        return list(tokenizer.apply_chat_template(conversations, tokenize=False,
                                                  add_generation_prompt=generation_prompt))
    except Exception:  # noqa: BLE001 - the template's own errors: find the record below
        for i, conversation in enumerate(conversations):
            try:
                tokenizer.apply_chat_template(conversation, tokenize=False,
                                              add_generation_prompt=generation_prompt)
            except Exception as exc:  # noqa: BLE001 - any template error becomes one line
                raise _template_failed(exc, owners[i] if owners is not None else i) from None
        raise


def _template_failed(exc: BaseException, conversation: int | None) -> TemplateError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return TemplateError(f"the model's chat template fails on this record: {first}",
                         conversation)


def _last_turn_only(messages: Conversation, tokenizer: Any, markers: list[str],
                    eos: str | None) -> list[Segment]:
    """For templates that rewrite earlier turns (e.g. drop past reasoning): train only the
    last answer, with everything before it as prompt."""
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    prompt = _render(tokenizer, messages[:last], True)
    full = _render(tokenizer, messages[:last + 1], False)
    if not full.startswith(prompt):
        raise TemplateError("the chat template renders the prompt differently from the "
                            "conversation, so answers cannot be located")
    return [Segment(prompt, False), *_split_answer(full[len(prompt):], markers, eos)]


def segments_batch(conversations: Sequence[Conversation], tokenizer: Any,
                   system_prompt: str | None = None) -> list[list[Segment]]:
    """Each conversation's text as alternating untrained (prompt) and trained (answer) parts.

    The prompt before assistant turn i is ``apply_chat_template(messages[:i],
    add_generation_prompt=True)``; the answer is what ``messages[:i + 1]`` adds to it.
    """
    _check_template(tokenizer)
    markers = _end_markers(tokenizer)
    eos = getattr(tokenizer, "eos_token", None)
    all_messages = [with_system_prompt(c, system_prompt) for c in conversations]
    owners: list[int] = []
    prefixes: list[Conversation] = []
    wholes: list[Conversation] = []
    for k, messages in enumerate(all_messages):
        for i, message in enumerate(messages):
            if message["role"] == "assistant" and i > 0:
                owners.append(k)
                prefixes.append(messages[:i])
                wholes.append(messages[:i + 1])
    prompts = _render_many(tokenizer, prefixes, True, owners)
    fulls = _render_many(tokenizer, wholes, False, owners)
    out: list[list[Segment]] = [[] for _ in all_messages]
    done = [""] * len(all_messages)
    rewritten: set[int] = set()
    for k, prompt, full in zip(owners, prompts, fulls, strict=True):
        if k in rewritten:
            continue
        if not prompt.startswith(done[k]) or not full.startswith(prompt):
            rewritten.add(k)
            continue
        out[k].append(Segment(prompt[len(done[k]):], False))
        out[k].extend(_split_answer(full[len(prompt):], markers, eos))
        done[k] = full
    for k in rewritten:
        try:
            out[k] = _last_turn_only(all_messages[k], tokenizer, markers, eos)
        except TemplateError as exc:
            raise TemplateError(str(exc), k) from None
        except Exception as exc:  # noqa: BLE001 - the template raised on this record
            raise _template_failed(exc, k) from None
    return [[s for s in segments if s.text] for segments in out]


def _text_ids(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    if not texts:
        return []
    encoded = tokenizer(texts, add_special_tokens=True)["input_ids"]
    eos_id = getattr(tokenizer, "eos_token_id", None)
    if eos_id is None:
        return [list(ids) for ids in encoded]
    return [list(ids) + ([eos_id] if not ids or ids[-1] != eos_id else []) for ids in encoded]


def render_examples(records: Sequence[Record], tokenizer: Any, max_seq_length: int | None,
                    system_prompt: str | None = None,
                    locations: Sequence[str] | None = None) -> list[Example]:
    """All records at once: one batched tokenizer call for all the text pieces.

    Text records (plain strings) count every token and end with the eos token. Examples
    longer than ``max_seq_length`` are cut at the end and marked ``truncated``. A template
    that fails on a record raises :class:`TemplateError` naming it (``locations[i]``, e.g.
    ``data.jsonl:12``, else its number).
    """
    plan: list[int] = []  # >= 0: index into texts; < 0: -(index into conversations) - 1
    texts: list[str] = []
    conversations: list[Conversation] = []
    for record in records:
        if isinstance(record, str):
            plan.append(len(texts))
            texts.append(record)
        else:
            plan.append(-len(conversations) - 1)
            conversations.append(record)
    try:
        segmented = segments_batch(conversations, tokenizer, system_prompt) \
            if conversations else []
    except TemplateError as exc:
        if exc.conversation is None:
            raise
        index = [i for i, entry in enumerate(plan) if entry < 0][exc.conversation]
        where = locations[index] if locations is not None else f"record {index + 1}"
        located = TemplateError(f"{where}: {exc}", exc.conversation)
        located.where, located.reason = where, str(exc)
        raise located from None
    pieces = [s.text for segments in segmented for s in segments]
    piece_ids = tokenizer(pieces, add_special_tokens=False)["input_ids"] if pieces else []
    text_ids = _text_ids(tokenizer, texts)
    examples: list[Example] = []
    cursor = 0
    for entry in plan:
        if entry >= 0:
            ids = text_ids[entry]
            labels = list(ids)
        else:
            ids, labels = [], []
            for segment in segmented[-entry - 1]:
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
