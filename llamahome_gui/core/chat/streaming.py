"""One streamed answer: the decode loop (``core.chat.decode``) runs in a thread, text arrives
through transformers' ``TextIteratorStreamer`` fed one token at a time, Stop is a flag the loop
reads after every token.

The streamer is subclassed only to time the first token and count tokens, which the text
chunks alone cannot tell (one chunk may hold several tokens).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from llamahome_gui.core.chat.decode import DecodeRequest, Stepper, run_decode
from llamahome_gui.core.chat.prompt import PreparedPrompt


@dataclass(frozen=True)
class GenerationStats:
    """What the status line and saved conversations show about one answer."""

    prompt_tokens: int
    new_tokens: int
    time_to_first_token: float  # seconds from the request to the first new token
    tokens_per_second: float    # decode speed after the first token
    total_seconds: float
    stop_reason: str            # "eos", "length" or "stopped"
    context_used: int           # prompt + answer tokens
    context_limit: int
    dropped_messages: int = 0
    adapter: str = ""           # "" = the base model answered

    @property
    def summary(self) -> str:
        stopped = " · stopped" if self.stop_reason == "stopped" else ""
        return (f"first token {self.time_to_first_token:.2f} s · {self.tokens_per_second:.1f} tokens/s"
                f" · {self.new_tokens} tokens · context {self.context_used:,}/{self.context_limit:,}"
                f"{stopped}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary}


def _streamer_class() -> type:
    from transformers import TextIteratorStreamer

    class TimedTextStreamer(TextIteratorStreamer):
        """Counts new tokens and remembers when the first and last arrived."""

        def __init__(self, tokenizer: Any, **kwargs: Any) -> None:
            super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True, **kwargs)
            self.new_tokens = 0
            self.first_token_at: float | None = None
            self.last_token_at: float | None = None
            self.last_token_id: int | None = None
            self.ended = False

        def put(self, value: Any) -> None:
            if not self.next_tokens_are_prompt:
                ids = value.reshape(-1).tolist()
                now = time.perf_counter()
                if self.first_token_at is None:
                    self.first_token_at = now
                self.last_token_at = now
                self.new_tokens += len(ids)
                if ids:
                    self.last_token_id = ids[-1]
            super().put(value)

        def end(self) -> None:
            self.ended = True
            super().end()

    return TimedTextStreamer


class ChatStream:
    """Iterate to get the answer text piece by piece; ``stats`` is set once it is done.

    Errors raised by the decode loop in its thread are raised again from the iteration.
    """

    def __init__(self, stepper: Stepper, tokenizer: Any, prepared: PreparedPrompt,
                 request: DecodeRequest, stop_flag: threading.Event, *, eos_ids: set[int],
                 adapter_label: str = "", device: Any = None) -> None:
        import torch

        self.prepared = prepared
        self.text = ""
        self.stats: GenerationStats | None = None
        self._stop_flag = stop_flag
        self._adapter_label = adapter_label
        self._error: BaseException | None = None
        self._reason = "eos"
        self._streamer = _streamer_class()(tokenizer)
        self._streamer.next_tokens_are_prompt = False  # the loop hands over answer tokens only

        def on_token(token_id: int) -> None:
            self._streamer.put(torch.tensor([token_id]))

        def run() -> None:
            try:
                self._reason = run_decode(stepper, prepared.input_ids, request, eos_ids=eos_ids,
                                          stop=stop_flag, on_token=on_token, device=device)
            except BaseException as exc:  # noqa: BLE001 - handed to the reader thread
                self._error = exc
            finally:
                if not self._streamer.ended:
                    self._streamer.end()

        self._started = time.perf_counter()
        self._thread = threading.Thread(target=run, name="llamahome-generate", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        return self.stats is not None

    def __iter__(self) -> Iterator[str]:
        if self.done:
            return
        for piece in self._streamer:
            if piece:
                self.text += piece
                yield piece
        self._thread.join()
        self.stats = self._make_stats()
        if self._error is not None:
            raise self._error

    def wait_quietly(self) -> None:
        """Let a stream nobody reads any more finish, ignoring its errors (unload does this)."""
        try:
            self.wait()
        except Exception:  # noqa: BLE001 - the model is being dropped anyway
            pass

    def wait(self) -> str:
        """Consume the rest of the stream; the whole answer."""
        for _ in self:
            pass
        return self.text

    def _make_stats(self) -> GenerationStats:
        s = self._streamer
        end = s.last_token_at or time.perf_counter()
        ttft = (s.first_token_at - self._started) if s.first_token_at else 0.0
        decode_time = (s.last_token_at - s.first_token_at) if s.first_token_at else 0.0
        rate = (s.new_tokens - 1) / decode_time if s.new_tokens > 1 and decode_time > 0 else 0.0
        reason = self._reason
        return GenerationStats(
            prompt_tokens=self.prepared.prompt_tokens, new_tokens=s.new_tokens,
            time_to_first_token=ttft, tokens_per_second=rate, total_seconds=end - self._started,
            stop_reason=reason, context_used=self.prepared.prompt_tokens + s.new_tokens,
            context_limit=self.prepared.context_limit,
            dropped_messages=self.prepared.dropped_messages, adapter=self._adapter_label)


def eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """Token ids that end an answer (the generation config's and the tokenizer's)."""
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(v for v in value if isinstance(v, int))
    return ids
