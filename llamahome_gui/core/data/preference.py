"""Preference data for DPO: a context plus a chosen and a rejected answer per record.

Accepted layouts (JSON array or JSON lines), all with ``chosen`` and ``rejected``:

- ``{"prompt": "...", "chosen": "...", "rejected": "..."}`` (``system`` optional);
- alpaca: ``{"instruction": "...", "input": "...", "chosen": ..., "rejected": ...}``;
- chat: ``{"messages": [...turns ending with a user turn...], "chosen": ..., "rejected": ...}``.

An answer is a string, or a list of turns whose last one is the assistant's (the layout some
hubs use); earlier turns in it serve as the context when the record has none of its own.

A preference record is also an SFT record (the context with the chosen answer), so ``data
check``, the token statistics and SFT training read these files unchanged; DPO reads the
pairs through ``load_preferences``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamahome_gui.core.data.records import Conversation, DatasetError, Problem

PREFERENCE_KEYS = ("chosen", "rejected")


@dataclass(frozen=True)
class PreferencePair:
    """One record: ``context`` ends with the user's turn; the answers are plain text."""

    context: tuple[tuple[str, str], ...]
    chosen: str
    rejected: str

    @property
    def conversation(self) -> Conversation:
        return [{"role": role, "content": content} for role, content in self.context]

    def with_answer(self, answer: str) -> Conversation:
        return [*self.conversation, {"role": "assistant", "content": answer}]


@dataclass
class PreferenceSet:
    """A validated preference file; ``pairs[i]`` came from ``locations[i]``."""

    path: Path
    pairs: list[PreferencePair]
    locations: list[str]

    def __len__(self) -> int:
        return len(self.pairs)


def is_preference(value: Any) -> bool:
    """Whether a raw record looks like preference data (both answers present)."""
    return isinstance(value, dict) and all(k in value for k in PREFERENCE_KEYS)


def _answer(value: dict[str, Any], key: str) -> tuple[str, Conversation, str | None]:
    """(answer text, turns before it, error) for ``chosen`` / ``rejected``."""
    from llamahome_gui.core.data.formats import ROLES

    if key not in value:
        return "", [], f'missing "{key}" (preference records need "chosen" and "rejected")'
    answer = value[key]
    if isinstance(answer, str):
        return (answer, [], None) if answer.strip() else ("", [], f'"{key}" is empty')
    if isinstance(answer, list) and answer:
        turns: Conversation = []
        for i, turn in enumerate(answer, 1):
            role = turn.get("role") if isinstance(turn, dict) else None
            content = turn.get("content") if isinstance(turn, dict) else None
            if role not in ROLES or not isinstance(content, str):
                return "", [], (f'{key}[{i}] must be {{"role": system|user|assistant, '
                                f'"content": text}}')
            turns.append({"role": role, "content": content})
        if turns[-1]["role"] != "assistant":
            return "", [], f'"{key}": the last turn must be the assistant\'s answer'
        if not turns[-1]["content"].strip():
            return "", [], f'"{key}" is empty'
        return turns[-1]["content"], turns[:-1], None
    if isinstance(answer, list):
        return "", [], f'"{key}" is an empty list'
    return "", [], f'"{key}" must be a string or a list of turns, found {type(answer).__name__}'


def _context(value: dict[str, Any], fallback: Conversation) -> tuple[Conversation, str | None]:
    from llamahome_gui.core.data.formats import _string, alpaca_record, chat_record

    if "messages" in value or "conversations" in value:
        key = "messages" if "messages" in value else "conversations"
        turns = value[key]
        if isinstance(turns, list) and turns and isinstance(turns[-1], dict):
            # The context ends with a user turn, so give chat_record a dummy answer to check.
            probe = {key: [*turns, {"role": "assistant", "content": "", "from": "gpt", "value": ""}]}
            conversation, err = chat_record(probe)
            if err or not isinstance(conversation, list):
                return [], err
            conversation = conversation[:-1]
        else:
            return [], f'"{key}" must be a non-empty list of turns'
    elif "instruction" in value:
        conversation, err = alpaca_record({**value, "output": "-"})
        if err or not isinstance(conversation, list):
            return [], err
        conversation = conversation[:-1]
    elif "prompt" in value:
        prompt, err = _string(value, "prompt")
        if err:
            return [], err
        system, err = _string(value, "system", required=False)
        if err:
            return [], err
        conversation = ([{"role": "system", "content": system}] if system.strip() else []) + \
            [{"role": "user", "content": prompt}]
    elif fallback:
        conversation = fallback
    else:
        return [], 'missing the context: give "prompt", "instruction" or "messages"'
    if not conversation or conversation[-1]["role"] != "user":
        return [], "the context must end with a user turn (the answers reply to it)"
    return conversation, None


def preference_record(value: Any) -> tuple[PreferencePair | None, str | None]:
    """A raw JSON record as a pair, or the reason it is not one."""
    if not isinstance(value, dict):
        return None, "expected an object with a prompt and \"chosen\"/\"rejected\" answers"
    chosen, before_c, err = _answer(value, "chosen")
    if err:
        return None, err
    rejected, before_r, err = _answer(value, "rejected")
    if err:
        return None, err
    context, err = _context(value, before_c or before_r)
    if err:
        return None, err
    if chosen.strip() == rejected.strip():
        return None, '"chosen" and "rejected" are the same answer, so there is nothing to prefer'
    pair = PreferencePair(tuple((m["role"], m["content"]) for m in context), chosen, rejected)
    return pair, None


def chosen_record(value: Any) -> tuple[Conversation | None, str | None]:
    """The SFT view of a preference record: its context and the chosen answer."""
    pair, err = preference_record(value)
    return (pair.with_answer(pair.chosen), None) if pair else (None, err)


def parse_preferences(path: str | Path) -> tuple[PreferenceSet, list[Problem]]:
    """Every pair and every problem (file:line or record number), without raising for bad
    records."""
    from llamahome_gui.core.data.formats import normalize_items, read_items

    path = Path(path).expanduser()
    items, container, problems = read_items(path)
    name = path.name
    if container == "txt":
        problems.append(Problem(name, "preference data must be JSON or JSON lines records with "
                                      "\"chosen\" and \"rejected\", not plain text"))
        items = []
    good, bad = normalize_items(items, name, preference_record)
    problems += bad
    pairs: list[PreferencePair] = [pair for _, pair, _ in good]
    locations = [where for _, _, where in good]
    if not items and not problems:
        problems.append(Problem(name, "the file holds no records"))
    return PreferenceSet(path, pairs, locations), problems


def load_preferences(path: str | Path) -> PreferenceSet:
    """The pairs of a preference file; ``DatasetError`` naming the first bad lines."""
    prefs, problems = parse_preferences(path)
    if problems:
        bad = sum(1 for p in problems if p.line is not None or p.record is not None)
        raise DatasetError(problems, prefs.path, len(prefs.pairs) + bad)
    return prefs
