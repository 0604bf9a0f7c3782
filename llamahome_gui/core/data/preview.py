"""Rendered examples for people: what the model is shown (prompt) and what it learns (answer)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamahome_gui.core.data.formats import load_dataset
from llamahome_gui.core.data.render import IGNORE_INDEX, Example, render_examples

ANSWER_OPEN, ANSWER_CLOSE = "⟦", "⟧"


@dataclass
class PreviewItem:
    """One rendered record: the GUI's preview table shows one row per item."""

    location: str
    prompt: str
    """Everything the loss ignores, concatenated (system, user turns, template markup)."""
    answer: str
    """Everything the loss counts (assistant turns with their end-of-turn token)."""
    marked: str
    """The whole example with trained parts between ⟦ and ⟧."""
    tokens: int
    trained: int
    truncated: bool
    rejected: str = ""
    """Preference data: the rejected answer as the model would see it (else empty)."""


def _runs(example: Example) -> list[tuple[bool, list[int]]]:
    runs: list[tuple[bool, list[int]]] = []
    for token, label in zip(example.input_ids, example.labels, strict=True):
        trained = label != IGNORE_INDEX
        if runs and runs[-1][0] == trained:
            runs[-1][1].append(token)
        else:
            runs.append((trained, [token]))
    return runs


def describe(example: Example, tokenizer: Any, location: str = "") -> PreviewItem:
    prompt, answer, marked = [], [], []
    for trained, ids in _runs(example):
        text = tokenizer.decode(ids, skip_special_tokens=False)
        (answer if trained else prompt).append(text)
        marked.append(f"{ANSWER_OPEN}{text}{ANSWER_CLOSE}" if trained else text)
    return PreviewItem(location, "".join(prompt), "".join(answer), "".join(marked),
                       len(example), example.n_trained, example.truncated)


def preview_items(path: str | Path, fmt: str = "auto", tokenizer: Any = None, n: int = 3,
                  max_seq_length: int | None = None,
                  system_prompt: str | None = None) -> list[PreviewItem]:
    """The first ``n`` records rendered (raises ``DatasetError`` on bad data)."""
    if isinstance(tokenizer, (str, Path)):
        from llamahome_gui.core.models.loading import load_tokenizer

        tokenizer = load_tokenizer(Path(tokenizer))
    if tokenizer is None:
        raise ValueError("preview needs a tokenizer (the model's chat template renders records)")
    dataset = load_dataset(path, fmt)
    records = dataset.records[:max(n, 0)]
    examples = render_examples(records, tokenizer, max_seq_length, system_prompt,
                               dataset.locations[:len(records)])
    items = [describe(e, tokenizer, loc)
             for e, loc in zip(examples, dataset.locations, strict=False)]
    if dataset.format == "preference":
        add_rejected(items, path, tokenizer, max_seq_length, system_prompt)
    return items


def add_rejected(items: list[PreviewItem], path: str | Path, tokenizer: Any,
                 max_seq_length: int | None = None, system_prompt: str | None = None) -> None:
    """Fill ``rejected`` of the first preview items of a preference file (in file order)."""
    from llamahome_gui.core.data.preference import load_preferences

    prefs = load_preferences(path)
    pairs = prefs.pairs[:len(items)]
    rejected = render_examples([p.with_answer(p.rejected) for p in pairs], tokenizer,
                               max_seq_length, system_prompt, prefs.locations[:len(pairs)])
    for item, example in zip(items, rejected, strict=False):
        item.rejected = describe(example, tokenizer).answer


def preview(path: str | Path, fmt: str = "auto", tokenizer: Any = None, n: int = 3,
            max_seq_length: int | None = None, system_prompt: str | None = None) -> list[str]:
    """The first ``n`` records as text, trained parts between ⟦ and ⟧."""
    out = []
    for item in preview_items(path, fmt, tokenizer, n, max_seq_length, system_prompt):
        cut = ", truncated" if item.truncated else ""
        text = (f"── {item.location} · {item.tokens} tokens, {item.trained} trained{cut} ──\n"
                f"{item.marked.rstrip()}")
        if item.rejected:
            text += (f"\n── rejected (DPO learns to prefer the answer above) ──\n"
                     f"{ANSWER_OPEN}{item.rejected.rstrip()}{ANSWER_CLOSE}")
        out.append(text)
    return out
