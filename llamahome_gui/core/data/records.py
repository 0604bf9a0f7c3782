"""What a loaded dataset is, and how a bad record is reported (file, line, what is wrong)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

Message: TypeAlias = dict[str, str]
"""One chat turn: ``{"role": "system" | "user" | "assistant", "content": str}``."""
Conversation: TypeAlias = list[Message]
Record: TypeAlias = Conversation | str
"""A conversation (alpaca and chat data) or a plain text (text data)."""
Format: TypeAlias = Literal["alpaca", "chat", "text", "preference"]
FORMATS: tuple[str, ...] = ("alpaca", "chat", "text", "preference")
MAX_REPORTED = 5


@dataclass(frozen=True)
class Problem:
    """One bad record. ``line`` is the 1-based line in the file (JSONL, text) and ``record``
    the 1-based record number (JSON arrays); either may be None."""

    file: str
    message: str
    line: int | None = None
    record: int | None = None

    @property
    def where(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.record is not None:
            return f"{self.file}: record {self.record}"
        return self.file

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class DatasetError(ValueError):
    """The dataset cannot be used as it is. The message lists the first bad records by file
    and line; ``problems`` holds them (all of them, not only the first few)."""

    def __init__(self, problems: list[Problem], path: Path | None = None,
                 total_records: int | None = None) -> None:
        self.problems = list(problems)
        self.path = path
        self.total_records = total_records
        super().__init__(format_problems(self.problems, total_records))

    @property
    def lines(self) -> list[int]:
        """The line numbers of the problems that have one."""
        return [p.line for p in self.problems if p.line is not None]


def format_problems(problems: list[Problem], total_records: int | None = None) -> str:
    shown = problems[:MAX_REPORTED]
    text = "\n".join(str(p) for p in shown)
    rest = len(problems) - len(shown)
    if rest > 0:
        text += f"\n… and {rest} more problem{'s' if rest != 1 else ''}"
    if total_records:
        text += (f"\n{len(problems)} of {total_records} records are bad; fix them (or remove them) "
                 "and run `llamahome data check` again")
    return text


@dataclass
class Dataset:
    """A validated dataset. ``records[i]`` came from ``locations[i]`` (e.g. ``data.jsonl:12``)."""

    path: Path
    format: Format
    records: list[Record]
    locations: list[str] = field(default_factory=list)
    source_format: str = ""
    """The layout found in the file: alpaca, messages, sharegpt, jsonl-text or txt."""

    def __len__(self) -> int:
        return len(self.records)

    @property
    def is_text(self) -> bool:
        return self.format == "text"
