"""The parity check: does the written GGUF still behave like the model it came from?

transformers reads the file back (de-quantizing it) and both models score the same text: a few
fixed chat prompts, each followed by the 64 tokens the original model answers greedily. At each
of those positions (up to the answer's end: past it a model only rambles, and its near-ties say
nothing about the file) the two models' top-1 next tokens are compared, and the largest logit
difference is kept. Differences where the original model itself hesitates (its top two tokens
within NEAR_TIE logits) are counted apart: rounding flips such coin tosses in any format, so
they do not raise the warning. Quantization that silently breaks a model shows up here, not in a chat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROMPTS = ("What is the capital of France?",
           "Write two sentences about the sea.",
           "Who are you?",
           "Give me three tips for sleeping well.",
           "Explain what a computer does, briefly.")
POSITIONS = 64
# Below this top-1 agreement an f16 / bf16 / q8_0 export earns a warning (q4_0 loses more by
# design, so it only shows the figure).
WARN_BELOW = 0.99
CHECKED_QUANTS = ("f32", "f16", "bf16", "q8_0")
# A position where the model's own top two tokens are this close (in logits) is a coin toss:
# any rounding may flip it, so such differences are counted apart and do not raise the warning.
NEAR_TIE = 0.25


@dataclass(frozen=True)
class ParityResult:
    agreement: float          # fraction of positions where both models pick the same token
    positions: int            # positions compared (prompts x generated tokens)
    max_logit_diff: float
    quant: str
    near_ties: int = 0        # differences where the model's top two were within NEAR_TIE

    @property
    def clear_agreement(self) -> float:
        """Agreement with near-tie differences forgiven."""
        differ = round((1 - self.agreement) * self.positions) - self.near_ties
        return 1 - differ / max(self.positions, 1)

    @property
    def warn(self) -> bool:
        return self.quant in CHECKED_QUANTS and self.clear_agreement < WARN_BELOW

    def summary(self) -> str:
        line = (f"parity: top-1 agreement {self.agreement:.1%} over {self.positions} positions, "
                f"max logit difference {self.max_logit_diff:.3g}")
        if self.near_ties:
            line += (f" ({self.near_ties} of the differences at near-ties, where the model's "
                     f"top two tokens are within {NEAR_TIE:g})")
        if self.warn:
            line += (f" - WARNING: below {WARN_BELOW:.0%} for {self.quant} where the model is "
                     "sure of its answer; the file answers differently, try --quant f16")
        return line


def load_gguf_model(path: Path):  # noqa: ANN201 - a transformers model
    """The GGUF file as a float32 transformers model (the de-quantized weights)."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = Path(path)
    return AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name,
                                                dtype=torch.float32).eval()


def check_parity(reference_dir: Path, gguf_path: Path, quant: str, *, system_prompt: str = "",
                 positions: int = POSITIONS, progress: Callable[[str], None] | None = None,
                 trust_remote_code: bool = False) -> ParityResult:
    """Compare the GGUF file with the safetensors model in ``reference_dir``."""
    import torch

    from llamahome_gui.core.models.loading import usable_cores

    # All cores but one: small-model decoding on a busy machine is many times slower when
    # torch's threads fight the window (or a trainer) for every core.
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, usable_cores() - 1))
    try:
        return _compare(reference_dir, gguf_path, quant, system_prompt, positions, progress,
                        trust_remote_code)
    finally:
        torch.set_num_threads(threads)


def _compare(reference_dir: Path, gguf_path: Path, quant: str, system_prompt: str,
             positions: int, progress: Callable[[str], None] | None,
             trust_remote_code: bool) -> ParityResult:
    import torch

    from llamahome_gui.core.chat.prompt import encode, render
    from llamahome_gui.core.models.loading import load_model_and_tokenizer

    say = progress or (lambda _msg: None)
    say("parity: loading the reference model")
    reference, tokenizer = load_model_and_tokenizer(reference_dir, device="cpu",
                                                    dtype=torch.float32,
                                                    trust_remote_code=trust_remote_code)
    reference.eval()
    say("parity: the reference model answers the test prompts")
    texts = []
    with torch.no_grad():
        for prompt in PROMPTS:
            ids = encode(tokenizer, render(tokenizer, system_prompt,
                                           [{"role": "user", "content": prompt}]))
            prompt_ids = torch.tensor([ids])
            full = reference.generate(prompt_ids, max_new_tokens=positions, do_sample=False,
                                      pad_token_id=tokenizer.pad_token_id)
            texts.append((full, len(ids)))
    say("parity: reading the GGUF file back")
    candidate = load_gguf_model(gguf_path)
    same = total = ties = 0
    max_diff = 0.0
    with torch.no_grad():
        for full, n_prompt in texts:
            span = slice(n_prompt - 1, full.shape[1] - 1)
            want = reference(input_ids=full).logits[0, span].float()
            got = candidate(input_ids=full).logits[0, span].float()
            agree = want.argmax(-1) == got.argmax(-1)
            top2 = want.topk(2, dim=-1).values
            same += int(agree.sum())
            ties += int((~agree & (top2[:, 0] - top2[:, 1] < NEAR_TIE)).sum())
            total += want.shape[0]
            max_diff = max(max_diff, float((want - got).abs().max()))
    del candidate, reference
    return ParityResult(same / max(total, 1), total, max_diff, quant, ties)
