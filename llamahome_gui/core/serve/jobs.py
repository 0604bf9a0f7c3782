"""What a server request is inside the generation loop: its sampling, its end, the job itself.

The loop (``core.serve.scheduler``) runs jobs; the HTTP side (``core.serve.app``) makes them
and reads their ``Finish``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sampling:
    """How one request picks its tokens (already resolved against the config defaults)."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class Finish:
    """How a request ended: ``reason`` is "stop" (end of answer or a stop string), "length",
    "cancelled" or "error"; times in seconds."""

    reason: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token: float
    total_seconds: float
    error: str = ""

    @property
    def tokens_per_second(self) -> float:
        decode = self.total_seconds - self.time_to_first_token
        return (self.completion_tokens - 1) / decode if self.completion_tokens > 1 and decode > 0 \
            else 0.0


OnText = Callable[[str], None]
OnFinish = Callable[[Finish], None]


@dataclass(eq=False)
class Job:
    """One request inside the loop. ``on_text`` gets each new piece of text, ``on_finish`` the
    end, both from the loop's thread."""

    input_ids: list[int]
    adapter: str | None
    sampling: Sampling
    on_text: OnText
    on_finish: OnFinish
    id: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    generated: list[int] = field(default_factory=list)
    sent: str = ""
    cache: Any = None
    generator: Any = None
    slot: int = -1      # the llama.cpp sequence holding this job's cache (-1 = none)
    position: int = 0   # tokens in that sequence

    def cancel(self) -> None:
        """Any thread: the job ends before its next token."""
        self.cancelled.set()
