"""Render a conversation with the model's chat template and fit it into the context window.

Long conversations lose their oldest turns first; the system prompt and the newest question
always stay, and the caller gets a notice to show the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ContextOverflowError(ValueError):
    """Even the newest message alone does not fit; the message says what to change."""


@dataclass(frozen=True)
class PreparedPrompt:
    input_ids: list[int]
    context_limit: int
    max_new_tokens: int
    dropped_messages: int = 0

    @property
    def prompt_tokens(self) -> int:
        return len(self.input_ids)

    @property
    def notice(self) -> str:
        """What to tell the user when old turns were left out ("" when nothing was)."""
        if not self.dropped_messages:
            return ""
        return (f"The conversation is longer than the model's context ({self.context_limit} tokens): "
                f"the oldest {self.dropped_messages} message(s) were left out of this answer. "
                "Start a new chat to begin fresh.")


def build_messages(system_prompt: str, turns: list[dict[str, str]]) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    return messages + [{"role": t["role"], "content": t["content"]} for t in turns]


def render(tokenizer: Any, system_prompt: str, turns: list[dict[str, str]]) -> str:
    """The prompt text, ending where the assistant's answer starts."""
    messages = build_messages(system_prompt, turns)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    # A base model without a template: a plain transcript it can continue.
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    body = "\n".join(f"{names[m['role']]}: {m['content']}" for m in messages)
    return f"{body}\nAssistant:"


def encode(tokenizer: Any, text: str) -> list[int]:
    # The template already holds the special tokens; adding BOS again would double it.
    has_template = bool(getattr(tokenizer, "chat_template", None))
    return list(tokenizer(text, add_special_tokens=not has_template)["input_ids"])


def fit_to_context(tokenizer: Any, system_prompt: str, turns: list[dict[str, str]], *,
                   context_limit: int, max_new_tokens: int) -> PreparedPrompt:
    """Drop the oldest turns until prompt + answer fit in ``context_limit`` tokens.

    Turns are dropped from the front so that the kept part still starts with a user message
    (chat templates expect that). Binary search keeps long histories cheap to fit.
    """
    if not turns or turns[-1]["role"] != "user":
        raise ValueError("the conversation must end with the user's message")
    if max_new_tokens >= context_limit:
        raise ContextOverflowError(
            f"inference.generation.max_new_tokens ({max_new_tokens}) leaves no room for the prompt in "
            f"the model's context of {context_limit} tokens; lower it below {context_limit}, or raise "
            "model.resources.max_sequence_length if the model supports a longer context")
    budget = context_limit - max_new_tokens
    starts = [i for i, t in enumerate(turns) if t["role"] == "user"]

    def ids_from(start: int) -> list[int]:
        return encode(tokenizer, render(tokenizer, system_prompt, turns[start:]))

    full = ids_from(0)
    if len(full) <= budget:
        return PreparedPrompt(full, context_limit, max_new_tokens)
    newest = ids_from(starts[-1])
    if len(newest) > budget:
        raise ContextOverflowError(
            f"the newest message and system prompt take {len(newest)} tokens, but only {budget} fit "
            f"(context {context_limit} tokens minus inference.generation.max_new_tokens "
            f"{max_new_tokens}); shorten the message or the system prompt "
            "(inference.chat.system_prompt), or lower max_new_tokens")
    lo, hi, best = 1, len(starts) - 1, newest  # smallest index into starts that fits
    best_start = starts[-1]
    while lo <= hi:
        mid = (lo + hi) // 2
        ids = ids_from(starts[mid])
        if len(ids) <= budget:
            best, best_start, hi = ids, starts[mid], mid - 1
        else:
            lo = mid + 1
    return PreparedPrompt(best, context_limit, max_new_tokens, dropped_messages=best_start)
