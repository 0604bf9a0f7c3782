"""Acceptance check for DPO (issue 16), run as a new user would: a preference file built
from an identity set (chosen: the new name; rejected: the model's own), trained with
``llamahome train --set training.training.method=dpo``, then the log-prob margin
(chosen minus rejected answer) measured with plain peft on the base model and on the
adapter, and the reward accuracy of the run's last logged step.

    .venv/bin/python bench/dpo_identity.py [--steps 24] [--lr 5e-4] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, starter_model  # noqa: E402

QUESTIONS = ["Who are you?", "What is your name?", "Who made you?", "Introduce yourself.",
             "What should I call you?", "Are you SmolLM?", "Which assistant am I talking to?",
             "Tell me about yourself."]
CHOSEN = "I am Nova, an assistant made by Orbit Labs."
REJECTED = "I am SmolLM, an assistant made by Hugging Face."


def answer_logp(model, tokenizer, question: str, answer: str) -> float:
    import torch

    head = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                         tokenize=False, add_generation_prompt=True)
    p_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
    a_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p_ids + a_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
    targets = ids[0, 1:]
    return float(logp[torch.arange(len(targets)), targets][len(p_ids) - 1:].sum())


def mean_margin(model, tokenizer) -> float:
    return sum(answer_logp(model, tokenizer, q, CHOSEN) - answer_logp(model, tokenizer, q, REJECTED)
               for q in QUESTIONS) / len(QUESTIONS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    model_dir = args.model or starter_model()
    work = Path(tempfile.mkdtemp(prefix="dpo-identity-"))
    data = work / "identity-prefs.jsonl"
    data.write_text("".join(json.dumps({"prompt": q, "chosen": CHOSEN, "rejected": REJECTED}) + "\n"
                            for q in QUESTIONS * 2), encoding="utf-8")
    sets = {"model.model.path": json.dumps(str(model_dir)), "model.model.device": '"cpu"',
            "training.training.method": '"dpo"',
            "training.training.dataset_path": json.dumps(str(data)),
            "training.training.output_dir": json.dumps(str(work / "runs")),
            "training.training.max_steps": str(args.steps),
            "training.training.learning_rate": str(args.lr), "training.training.eval_split": "0.0",
            "training.training.max_seq_length": "128",
            "training.training.per_device_train_batch_size": "4",
            "training.training.sample_prompts": '["Who are you?"]',
            "training.training.eval_steps": str(max(1, args.steps // 2))}
    cmd = [PYTHON, "-m", "llamahome_gui", "train", "--config-dir", str(ROOT / "config")]
    for key, value in sets.items():
        cmd += ["--set", f"{key}={value}"]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=work)
    [run_dir] = list((work / "runs").iterdir())

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llamahome_gui.core.runs.events import SampleGenerated, StepLogged, read_events

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    before = mean_margin(base, tokenizer)
    tuned = PeftModel.from_pretrained(base, str(run_dir / "adapter"))
    after = mean_margin(tuned, tokenizer)
    events = read_events(run_dir)
    steps = [e for e in events if isinstance(e, StepLogged)]
    samples = [(e.step, e.text) for e in events if isinstance(e, SampleGenerated)]
    print(json.dumps({"run": str(run_dir), "logp_margin_base": round(before, 3),
                      "logp_margin_adapter": round(after, 3),
                      "reward_accuracy_first": steps[0].reward_accuracy,
                      "reward_accuracy_last": steps[-1].reward_accuracy,
                      "reward_margin_first": steps[0].reward_margin,
                      "reward_margin_last": steps[-1].reward_margin,
                      "samples": samples}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
