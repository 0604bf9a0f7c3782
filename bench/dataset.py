"""A deterministic instruction dataset with realistically varied lengths, for the training
and memory benchmarks.

Real instruction sets are mostly short answers with a long tail: a yes/no or a name, a
paragraph, now and then a page. Padding-based trainers lose the most on exactly that mix,
so the benchmark must not use uniform lengths. Answers here run from a few words to a few
hundred tokens (about 30 % very short, 40 % a paragraph, 20 % several paragraphs, 10 % long),
built from plain English words so the tokenizer sees ordinary text. The same ``seed`` and
``count`` always give the same file, byte for byte.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

_WORDS = (
    "the model learns from examples and each answer shows a small step toward a clear result "
    "when you train an adapter on your own machine the base weights stay frozen while a few "
    "low rank matrices change slowly with every batch of data a good dataset holds short "
    "questions long explanations lists of steps and friendly replies that match the tone you "
    "want memory grows with the batch size and the sequence length so keep both in mind "
    "before a long run the learning rate warms up then decays along a cosine curve until the "
    "last step the loss usually falls quickly at first and then more slowly as the adapter "
    "settles a checkpoint saves the adapter the optimizer state and the random number "
    "generators so a stopped run can continue exactly where it left off chat answers stream "
    "token by token and the window stays responsive while the graphs update every second "
    "rivers mountains cities music history science cooking gardens weather travel books "
    "computers numbers language health sport animals planets oceans forests bread coffee"
).split()
_TOPICS = ("gardening", "a train timetable", "sourdough bread", "the water cycle", "git branches",
           "a budget spreadsheet", "the solar system", "learning a language", "a job interview",
           "bicycle repair", "photosynthesis", "a birthday party", "password safety", "chess",
           "a short story", "climate", "the French revolution", "unit tests", "a cover letter")
_ASKS = ("Explain {t} in simple words.", "Give me three tips about {t}.",
         "What should a beginner know about {t}?", "Write a short paragraph on {t}.",
         "Summarize the following notes about {t}.", "Is {t} hard to learn?",
         "List the steps to get started with {t}.", "Answer briefly: what is {t}?")
# (share of records, answer length range in words)
_LENGTHS = ((0.30, (2, 12)), (0.40, (25, 90)), (0.20, (90, 180)), (0.10, (180, 300)))


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _paragraph(rng: random.Random, words: int) -> str:
    parts, left = [], words
    while left > 0:
        n = min(left, rng.randint(6, 18))
        parts.append(_sentence(rng, n))
        left -= n
    return " ".join(parts)


def _answer_words(rng: random.Random) -> int:
    x, acc = rng.random(), 0.0
    for share, (lo, hi) in _LENGTHS:
        acc += share
        if x <= acc:
            return rng.randint(lo, hi)
    return rng.randint(*_LENGTHS[-1][1])


def make_records(count: int, seed: int = 1234) -> list[dict[str, str]]:
    """``count`` alpaca records (instruction, input, output) with varied answer lengths."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        ask = rng.choice(_ASKS).format(t=rng.choice(_TOPICS))
        context = _paragraph(rng, rng.randint(15, 60)) if "following" in ask else ""
        words = _answer_words(rng)
        if words > 120:  # long answers come in paragraphs, as people write them
            chunks = [_paragraph(rng, min(70, words - i)) for i in range(0, words, 70)]
            output = "\n\n".join(chunks)
        else:
            output = _paragraph(rng, words)
        records.append({"instruction": ask, "input": context, "output": output})
    return records


def write_dataset(path: Path, count: int, seed: int = 1234) -> Path:
    """Write ``count`` records as JSON lines to ``path`` (created or replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in make_records(count, seed)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
