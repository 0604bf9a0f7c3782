"""Sample answers during training: `sample` events at every evaluation and at the end, read
back by the one events reader; default prompts come from the held-out records."""

from __future__ import annotations

import json

from llamahome_gui.core.runs.events import Evaluated, EventTail, SampleGenerated
from llamahome_gui.core.train import run_training
from tests.core.test_train import FACTS, make_configs, of_kind, write_alpaca


def test_sample_events_at_every_eval_and_at_the_end(tiny_model_dir, tmp_path):
    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json"), max_steps=4,
                           eval_split=0.25, eval_steps=2, sample_prompts=["Who are you?"],
                           sample_max_new_tokens=6)
    assert run_training(tmp_path / "run", configs).status == "done"
    samples = of_kind(tmp_path / "run", SampleGenerated)
    assert [s.step for s in samples] == [e.step for e in of_kind(tmp_path / "run", Evaluated)]
    assert [s.step for s in samples] == [2, 4]
    assert all(s.prompt == "Who are you?" and s.text and s.seconds >= 0 for s in samples)
    # the raw line is an ordinary JSON record the tail reader turns back into the dataclass
    lines = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text()
             .splitlines()]
    assert sum(1 for r in lines if r["event"] == "sample") == 2
    tail = EventTail(tmp_path / "run")
    assert [e for e in tail.read() if isinstance(e, SampleGenerated)] == samples
    assert tail.bad_lines == []


def test_default_prompts_come_from_held_out_records_and_zero_turns_them_off(tiny_model_dir,
                                                                           tmp_path):
    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json"), max_steps=2,
                           eval_split=0.25, eval_steps=2, sample_max_new_tokens=4)
    run_training(tmp_path / "run", configs)
    prompts = {s.prompt for s in of_kind(tmp_path / "run", SampleGenerated)}
    assert len(prompts) == 2 and prompts <= {q for q, _ in FACTS}
    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json"), max_steps=2,
                           eval_split=0.25, eval_steps=2, sample_max_new_tokens=0)
    run_training(tmp_path / "off", configs)
    assert of_kind(tmp_path / "off", SampleGenerated) == []
