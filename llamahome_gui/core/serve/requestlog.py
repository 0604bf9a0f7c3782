"""One log line per request, written by the server and read back by the Chat page's Serve
panel: one owner of the format."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(
    r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) model=(?P<model>\S*) "
    r"in=(?P<prompt>\d+) out=(?P<completion>\d+) ttft=(?P<ttft>[\d.]+)ms "
    r"(?P<rate>[\d.]+) tokens/s (?P<seconds>[\d.]+)s(?: (?P<note>.*))?$")


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token: float = 0.0  # seconds
    tokens_per_second: float = 0.0
    seconds: float = 0.0
    note: str = ""  # "stream", "cancelled", an error message…

    def line(self) -> str:
        note = f" {self.note}" if self.note else ""
        return (f"{self.method} {self.path} {self.status} model={self.model or '-'} "
                f"in={self.prompt_tokens} out={self.completion_tokens} "
                f"ttft={self.time_to_first_token * 1000:.0f}ms {self.tokens_per_second:.1f} "
                f"tokens/s {self.seconds:.2f}s{note}")


def parse_line(text: str) -> RequestRecord | None:
    """The record in a server log line (it may carry a logger prefix); None for other lines."""
    start = text.find("] ") + 2 if text.startswith("[") else 0
    match = _LINE.match(text[start:].strip())
    if not match:
        return None
    g = match.groupdict()
    return RequestRecord(g["method"], g["path"], int(g["status"]),
                         "" if g["model"] == "-" else g["model"], int(g["prompt"]),
                         int(g["completion"]), float(g["ttft"]) / 1000, float(g["rate"]),
                         float(g["seconds"]), g["note"] or "")
