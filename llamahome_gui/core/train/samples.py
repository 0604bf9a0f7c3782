"""Sample answers during training: a short greedy answer per prompt at every evaluation and
at the end, so a person can stop the run when the answers look right.

Prompts come from ``training.training.sample_prompts``; when that is empty, two prompts are
drawn from the held-out split (the training split when nothing is held out), so the answers
show what the adapter does on questions it was not trained on. Each prompt is rendered as
chat renders it (system prompt, chat template, generation prompt); text data and models
without a chat template get the prompt as plain text to continue.

The time is bounded: at most ``sample_max_new_tokens`` tokens per answer and
``TIME_BUDGET_S`` seconds for all the prompts of one evaluation (transformers' ``max_time``);
the seconds each answer took go in its event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

DEFAULT_PROMPTS = 2
TIME_BUDGET_S = 20.0
PROMPT_CHARS = 300


@dataclass(frozen=True)
class SamplePrompt:
    """What the event shows (``text``) and what the model is given (``messages`` through the
    chat template, or ``text`` raw when ``messages`` is empty)."""

    text: str
    messages: tuple[tuple[str, str], ...] = ()


def _context_of(record: Any) -> SamplePrompt | None:
    if isinstance(record, str):
        words = record.split()
        head = " ".join(words[:max(1, min(12, len(words) // 2))])
        return SamplePrompt(head) if head else None
    last = max((i for i, m in enumerate(record) if m["role"] == "assistant"), default=None)
    if not last:
        return None
    context = record[:last]
    shown = context[-1]["content"][:PROMPT_CHARS]
    return SamplePrompt(shown, tuple((m["role"], m["content"]) for m in context))


def choose_prompts(training: Any, data: Any, tokenizer: Any) -> list[SamplePrompt]:
    """The run's sample prompts (see the module docstring); none when answers are off.
    ``data``: the run's ``Dataset`` (SFT) or ``PreferenceSet`` (DPO)."""
    from llamahome_gui.core.train.batching import split_eval

    if training.sample_max_new_tokens <= 0:
        return []
    pairs = getattr(data, "pairs", None)
    records = [p.with_answer(p.chosen) for p in pairs] if pairs is not None else data.records
    chat = bool(getattr(tokenizer, "chat_template", None)) and \
        getattr(data, "format", "") != "text"
    train_idx, eval_idx = split_eval(len(records), training.eval_split, training.seed)
    given = [p for p in training.sample_prompts if p.strip()]
    if given:
        return [SamplePrompt(p, (("user", p),) if chat else ()) for p in given]
    chosen: list[SamplePrompt] = []
    for i in [*eval_idx, *train_idx]:
        prompt = _context_of(records[i])
        if prompt is not None and prompt not in chosen:
            chosen.append(prompt if chat or not prompt.messages else SamplePrompt(prompt.text))
        if len(chosen) == DEFAULT_PROMPTS:
            break
    return chosen


def generate_samples(model: Any, tokenizer: Any, prompts: list[SamplePrompt],
                     max_new_tokens: int, system_prompt: str | None, device: str,
                     ) -> list[tuple[SamplePrompt, str, float]]:
    """(prompt, answer, seconds) for each prompt: greedy, with the current adapter."""
    import torch

    from llamahome_gui.core.data.render import prompt_ids

    was_training = model.training
    model.eval()
    out = []
    budget_end = time.monotonic() + TIME_BUDGET_S
    try:
        for prompt in prompts:
            left = budget_end - time.monotonic()
            if left <= 0:
                out.append((prompt, "(skipped: the time for sample answers ran out)", 0.0))
                continue
            if prompt.messages:
                conversation = [{"role": r, "content": c} for r, c in prompt.messages]
                ids = prompt_ids(conversation, tokenizer, system_prompt)
            else:
                ids = tokenizer(prompt.text, add_special_tokens=True)["input_ids"]
            started = time.monotonic()
            with torch.no_grad():
                generated = model.generate(
                    input_ids=torch.tensor([ids], device=device),
                    attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=device),
                    max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                    max_time=left, pad_token_id=tokenizer.pad_token_id)
            text = tokenizer.decode(generated[0, len(ids):], skip_special_tokens=True)
            out.append((prompt, text.strip(), round(time.monotonic() - started, 2)))
    finally:
        if was_training:
            model.train()
    return out
