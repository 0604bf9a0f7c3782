"""OpenAI's wire format as pydantic models: what clients send and what the server answers.

Unknown request fields are accepted and ignored (clients send many we do not use); a wrong
type is a 400 that names the field. Errors always have OpenAI's shape
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ChatMessage(_Request):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = ""

    def text(self) -> str:
        """The message text; content parts of type "text" are joined."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class StreamOptions(_Request):
    include_usage: bool = False


class _Sampled(_Request):
    model: str
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1, description="only one choice per request")

    def stop_list(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return tuple(s for s in ([self.stop] if isinstance(self.stop, str) else self.stop) if s)


class ChatCompletionRequest(_Sampled):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_Sampled):
    prompt: str | list[str]

    def token_limit(self) -> int | None:
        return self.max_tokens

    def prompt_text(self) -> str:
        if isinstance(self.prompt, list):
            if len(self.prompt) != 1:
                raise ValueError("send one prompt per request")
            return self.prompt[0]
        return self.prompt


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt: int, completion: int) -> Usage:
        return cls(prompt_tokens=prompt, completion_tokens=completion,
                   total_tokens=prompt + completion)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def chat_response(rid: str, model: str, text: str, finish: str, usage: Usage) -> dict[str, Any]:
    return {"id": rid, "object": "chat.completion", "created": now(), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "logprobs": None, "finish_reason": finish}],
            "usage": usage.model_dump()}


def chat_chunk(rid: str, model: str, delta: dict[str, Any], finish: str | None = None,
               usage: Usage | None = None, choices: bool = True) -> dict[str, Any]:
    chunk: dict[str, Any] = {"id": rid, "object": "chat.completion.chunk", "created": now(),
                             "model": model, "choices": [{"index": 0, "delta": delta,
                                                          "logprobs": None,
                                                          "finish_reason": finish}]
                             if choices else []}
    if usage is not None:
        chunk["usage"] = usage.model_dump()
    return chunk


def completion_response(rid: str, model: str, text: str, finish: str | None,
                        usage: Usage | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": rid, "object": "text_completion", "created": now(),
                            "model": model, "choices": [{"index": 0, "text": text,
                                                         "logprobs": None,
                                                         "finish_reason": finish}]}
    if usage is not None:
        body["usage"] = usage.model_dump()
    return body


def model_list(ids: list[str], created: int) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": i, "object": "model", "created": created,
                                        "owned_by": "llamahome"} for i in ids]}


def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
