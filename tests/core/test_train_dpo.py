"""DPO in our loop on the tiny model: rewards in the events, the adapter prefers the chosen
answers (measured with plain peft), pairs packed in a row score as they do alone, bad data
is named before the model loads, and a stopped run resumes with the same losses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llamahome_gui.core.runs.events import Evaluated, RunStarted, StepLogged
from llamahome_gui.core.train import TrainingError, run_training
from llamahome_gui.core.train.trainer import StopFlag
from tests.core.test_train import make_configs, of_kind, steps, write_alpaca

NAMES = [("Who are you?", "I am Nova, made by Orbit Labs.", "I am SmolLM, made by Hugging Face."),
         ("What is your name?", "My name is Nova.", "My name is SmolLM."),
         ("Who made you?", "Orbit Labs made me.", "Hugging Face made me."),
         ("Introduce yourself.", "Hello, I am Nova.", "Hello, I am SmolLM.")]


def write_prefs(path: Path, repeat: int = 2) -> Path:
    rows = [{"prompt": q, "chosen": c, "rejected": r} for q, c, r in NAMES] * repeat
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def dpo_configs(model_dir: Path, data: Path, **training) -> dict:
    configs = make_configs(model_dir, data, method="dpo", **training)
    configs["training"].dpo.beta = 0.5
    return configs


def answer_logp(model, tokenizer, prompt: str, answer: str) -> float:
    """Sum of log-probs of the answer tokens after the chat prompt (as chat would send it)."""
    import torch

    head = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
    p_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
    a_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p_ids + a_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
    targets = ids[0, 1:]
    return float(logp[torch.arange(len(targets)), targets][len(p_ids) - 1:].sum())


def margins(model, tokenizer) -> list[float]:
    return [answer_logp(model, tokenizer, q, c) - answer_logp(model, tokenizer, q, r)
            for q, c, r in NAMES]


def test_dpo_makes_the_adapter_prefer_the_chosen_answers(tiny_model_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    configs = dpo_configs(tiny_model_dir, write_prefs(tmp_path / "prefs.jsonl"), max_steps=12)
    result = run_training(tmp_path / "run", configs)
    assert result.status == "done"
    events = steps(tmp_path / "run")
    for key in ("rewards_chosen", "rewards_rejected", "reward_margin", "reward_accuracy"):
        assert all(isinstance(getattr(e, key), float) for e in events), key
    assert events[-1].reward_margin > events[0].reward_margin + 0.5
    assert events[-1].reward_accuracy == 1.0
    assert events[-1].loss < events[0].loss
    start = of_kind(tmp_path / "run", RunStarted)[0]
    assert start.config["method"] == "dpo" and start.config["format"] == "preference"

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    before = margins(base, tokenizer)
    tuned = PeftModel.from_pretrained(base, str(tmp_path / "run" / "adapter"))
    after = margins(tuned, tokenizer)
    assert all(a > b + 1.0 for a, b in zip(after, before, strict=True)), (before, after)


def test_pairs_in_one_row_score_as_they_do_alone(tiny_model_dir):
    """The packed row (chosen then rejected, positions restarting) gives each answer the
    log-prob it has in a forward pass of its own."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llamahome_gui.config.schema import DpoSection, TrainingSection
    from llamahome_gui.core.data.preference import PreferencePair, PreferenceSet
    from llamahome_gui.core.train.batching import IGNORE, Row
    from llamahome_gui.core.train.dpo import DpoObjective, collate_pairs, prepare_pairs

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, target_modules="all-linear"))
    model.eval()
    # One long pair makes the rows long enough for the short pairs to share them.
    rows = [*NAMES, ("Tell me all about you.", "I am Nova. " * 12, "I am SmolLM. " * 12)]
    pairs = [PreferencePair((("user", q),), c, r) for q, c, r in rows]
    training = TrainingSection(eval_split=0.0, packing=True)
    data = prepare_pairs(training, PreferenceSet(Path("p.jsonl"), pairs, []), tokenizer, None)
    assert len(data.train_rows) < len(pairs)  # several pairs share a row

    def forward(batch):
        ids, pos, tgt = batch["input_ids"], batch["position_ids"], batch["targets"]
        mask = tgt != IGNORE
        out = model(input_ids=ids, position_ids=pos, use_cache=False)  # as the trainer calls it
        return out.logits[mask], tgt[mask], mask

    objective = DpoObjective(model, forward, DpoSection())
    packed_batch = collate_pairs(data.train_rows, tokenizer.pad_token_id)
    samples = [s for row in data.train_rows for s in row.samples]
    with torch.no_grad():
        packed, _ = objective._sequence_logps(packed_batch)
        alone = [float(objective._sequence_logps(collate_pairs([Row([s])], 0))[0][0])
                 for s in samples]
    assert packed.tolist() == pytest.approx(alone, abs=1e-3)


def test_dpo_needs_preference_data_and_names_a_broken_line(tiny_model_dir, tmp_path):
    with pytest.raises(TrainingError, match="needs preference data, but d.json is alpaca"):
        run_training(tmp_path / "a", dpo_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json")))
    path = write_prefs(tmp_path / "prefs.jsonl")
    path.write_text(path.read_text() + '{"prompt": "q", "chosen": "a"}\n', encoding="utf-8")
    with pytest.raises(TrainingError) as err:
        run_training(tmp_path / "b", dpo_configs(tiny_model_dir, path))
    assert 'prefs.jsonl:9: missing "rejected"' in err.value.message


def test_a_stopped_dpo_run_resumes_with_the_same_losses(tiny_model_dir, tmp_path):
    def configs():
        return dpo_configs(tiny_model_dir, write_prefs(tmp_path / "p.jsonl"), max_steps=4,
                           gradient_accumulation_steps=2, eval_split=0.2, eval_steps=2)

    run_training(tmp_path / "whole", configs())
    stop = StopFlag()
    first = run_training(tmp_path / "split", configs(), stop=stop, listeners=[
        lambda e: stop.set() if isinstance(e, StepLogged) and e.step == 2 else None])
    assert first.status == "stopped" and first.step == 2
    run_training(tmp_path / "split", configs(), resume=tmp_path / "split")
    whole = [(e.step, e.loss, e.reward_margin) for e in steps(tmp_path / "whole")]
    split = [(e.step, e.loss, e.reward_margin) for e in steps(tmp_path / "split")]
    assert [s for s, _, _ in split] == [1, 2, 3, 4]
    for a, b in zip(whole, split, strict=True):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-6)
    evals = of_kind(tmp_path / "whole", Evaluated)
    assert evals and all(e.eval_reward_accuracy is not None for e in evals)
