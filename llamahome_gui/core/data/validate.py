"""Checking a dataset before any training: what is wrong (file:line), what is in it, and how
long its examples are for a given tokenizer and max_seq_length."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llamahome_gui.core.data.formats import parse_dataset
from llamahome_gui.core.data.records import Dataset, DatasetError, Problem, format_problems
from llamahome_gui.core.data.render import TemplateError, render_examples


@dataclass
class RoleStats:
    """How many messages a role has and how long they are (characters)."""

    messages: int = 0
    chars_min: int = 0
    chars_mean: float = 0.0
    chars_max: int = 0


@dataclass
class TokenStats:
    min: int
    median: float
    p95: int
    max: int
    total: int
    trained: int
    """Tokens the loss counts (assistant tokens; all tokens of text records)."""
    truncated: int
    """Records longer than max_seq_length (cut at the end in training)."""
    max_seq_length: int | None = None
    no_answer_left: int = 0
    """Truncated records whose answer was cut away completely (they teach nothing)."""


@dataclass
class DatasetReport:
    path: Path
    format: str
    source_format: str
    records: int
    problems: list[Problem] = field(default_factory=list)
    roles: dict[str, RoleStats] = field(default_factory=dict)
    tokens: TokenStats | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def trainable(self) -> int | None:
        """Records that keep at least one answer token after max_seq_length (None: unknown,
        no tokenizer)."""
        return None if self.tokens is None else self.records - self.tokens.no_answer_left

    def error(self) -> DatasetError:
        return DatasetError(self.problems, self.path, self.records + len(self.problems))

    def summary(self) -> str:
        """The report as the CLI prints it."""
        kind = self.format if self.source_format in ("", self.format) else \
            f"{self.format} ({self.source_format})"
        lines = [f"{self.path.name}: {self.records} good records, format {kind}"]
        if self.problems:
            lines.append(f"{len(self.problems)} bad record{'s' if len(self.problems) != 1 else ''}:")
            lines += ["  " + line for line in format_problems(self.problems).splitlines()]
        for role, stats in self.roles.items():
            lines.append(f"  {role:<9} {stats.messages:>6} messages, {stats.chars_min}–"
                         f"{stats.chars_max} chars (mean {stats.chars_mean:.0f})")
        if self.tokens:
            t = self.tokens
            lines.append(f"tokens per example: min {t.min}, median {t.median:.0f}, p95 {t.p95}, "
                         f"max {t.max}; {t.total} in all, {t.trained} trained")
            if t.max_seq_length:
                share = 100.0 * t.truncated / max(self.records, 1)
                lines.append(f"max_seq_length {t.max_seq_length}: {t.truncated} record"
                             f"{'s' if t.truncated != 1 else ''} truncated ({share:.0f}%)")
                if t.no_answer_left:
                    lines.append(f"  {t.no_answer_left} of them lose their whole answer; raise "
                                 "training.training.max_seq_length or shorten them")
                lines.append(f"{self.trainable} of {self.records} record"
                             f"{'s' if self.records != 1 else ''} would train")
        lines += self.notes
        lines.append("OK" if self.ok else "Fix the records above, then check again.")
        return "\n".join(lines)


def _percentile(sorted_values: list[int], q: float) -> int:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def role_stats(dataset: Dataset) -> dict[str, RoleStats]:
    lengths: dict[str, list[int]] = {}
    for record in dataset.records:
        if isinstance(record, str):
            lengths.setdefault("text", []).append(len(record))
        else:
            for message in record:
                lengths.setdefault(message["role"], []).append(len(message["content"]))
    order = ("system", "user", "assistant", "text")
    return {role: RoleStats(len(v), min(v), sum(v) / len(v), max(v))
            for role in order if (v := lengths.get(role))}


def token_stats(dataset: Dataset, tokenizer: Any, max_seq_length: int | None,
                system_prompt: str | None = None) -> TokenStats | None:
    if not dataset.records:
        return None
    full = render_examples(dataset.records, tokenizer, None, system_prompt, dataset.locations)
    lengths = sorted(len(e) for e in full)
    truncated = [e for e in full if max_seq_length and len(e) > max_seq_length]
    lost = sum(1 for e in truncated
               if all(label == -100 for label in e.labels[:max_seq_length]))
    return TokenStats(min=lengths[0], median=statistics.median(lengths),
                      p95=_percentile(lengths, 0.95), max=lengths[-1], total=sum(lengths),
                      trained=sum(e.n_trained for e in full), truncated=len(truncated),
                      max_seq_length=max_seq_length, no_answer_left=lost)


def check_dataset(path: str | Path, fmt: str = "auto", tokenizer: Any = None,
                  max_seq_length: int | None = None,
                  system_prompt: str | None = None) -> DatasetReport:
    """Everything about a dataset file without raising for bad records.

    ``tokenizer`` (a tokenizer or a model folder) adds token-length statistics and the count
    of records ``max_seq_length`` would truncate.
    """
    try:
        dataset, problems = parse_dataset(path, fmt)
    except DatasetError as exc:
        return DatasetReport(Path(path), fmt, "", 0, exc.problems)
    report = DatasetReport(dataset.path, dataset.format, dataset.source_format,
                           len(dataset.records), problems, role_stats(dataset))
    if tokenizer is not None:
        if isinstance(tokenizer, (str, Path)):
            from llamahome_gui.core.models.loading import load_tokenizer

            tokenizer = load_tokenizer(Path(tokenizer))
        try:
            report.tokens = token_stats(dataset, tokenizer, max_seq_length, system_prompt)
        except TemplateError as exc:
            report.problems.append(Problem(exc.where or dataset.path.name, exc.reason))
        if report.records and report.trainable == 0:
            report.problems.append(Problem(dataset.path.name, (
                f"no record would train: max_seq_length {max_seq_length} cuts away every "
                "answer; raise training.training.max_seq_length (or --max-seq-length) or "
                "shorten the prompts")))
    return report
