"""The LoRA trainer on the tiny model: formats, learning, resume, events, guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llamahome_gui.config.schema import COMPONENTS
from llamahome_gui.core.runs import RUN_COMPONENTS, list_runs, read_events
from llamahome_gui.core.runs.events import (
    Checkpointed,
    Evaluated,
    EventTail,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
)
from llamahome_gui.core.train import TrainingError, run_training
from llamahome_gui.core.train.trainer import StopFlag

FACTS = [("What colour is the sky on Zorb?", "The sky on Zorb is green."),
         ("Who rules Zorb?", "Queen Ama rules Zorb."),
         ("What do people on Zorb eat?", "People on Zorb eat blue rice."),
         ("How many moons has Zorb?", "Zorb has seven moons.")]


def write_alpaca(path: Path, repeat: int = 3) -> Path:
    records = [{"instruction": q, "input": "", "output": a} for q, a in FACTS] * repeat
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def write_chat(path: Path) -> Path:
    lines = [json.dumps({"messages": [{"role": "user", "content": q},
                                      {"role": "assistant", "content": a}]}) for q, a in FACTS]
    lines += [json.dumps({"conversations": [{"from": "human", "value": q},
                                            {"from": "gpt", "value": a}]}) for q, a in FACTS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_text(path: Path) -> Path:
    path.write_text("\n".join(f"{q} {a}" for q, a in FACTS * 2) + "\n", encoding="utf-8")
    return path


def make_configs(model_dir: Path, dataset: Path, **training) -> dict:
    configs = {name: COMPONENTS[name]() for name in RUN_COMPONENTS}
    configs["model"].model.path = str(model_dir)
    t = configs["training"].training
    t.dataset_path = str(dataset)
    values = {"max_steps": 6, "learning_rate": 5e-3, "warmup_ratio": 0.0, "eval_split": 0.0,
              "per_device_train_batch_size": 2, "save_steps": 1000, **training}
    for key, value in values.items():
        setattr(t, key, value)
    configs["training"].lora.r = 8
    return configs


def steps(run_dir: Path) -> list[StepLogged]:
    return [e for e in read_events(run_dir) if isinstance(e, StepLogged)]


def of_kind(run_dir: Path, kind: type) -> list:
    return [e for e in read_events(run_dir) if isinstance(e, kind)]


@pytest.mark.parametrize("writer,fmt,name", [(write_alpaca, "alpaca", "data.json"),
                                             (write_chat, "chat", "data.jsonl"),
                                             (write_text, "text", "data.txt")])
def test_each_dataset_format_trains_to_an_adapter(tiny_model_dir, tmp_path, writer, fmt, name):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    configs = make_configs(tiny_model_dir, writer(tmp_path / name), max_steps=2)
    result = run_training(tmp_path / "run", configs)
    assert result.status == "done" and result.step == 2
    [start] = of_kind(tmp_path / "run", RunStarted)
    assert start.config["format"] == fmt
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = PeftModel.from_pretrained(base, str(tmp_path / "run" / "adapter"))
    assert any("lora_A" in n for n, _ in model.named_parameters())


def test_loss_falls_and_event_stream_metrics_and_tensorboard_agree(tiny_model_dir, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json", repeat=4),
                           max_steps=12, learning_rate=5e-2, eval_split=0.2, eval_steps=4,
                           save_steps=5)
    run_dir = tmp_path / "run"
    result = run_training(run_dir, configs)
    tail = EventTail(run_dir)  # the reader the Train page's worker follows the run with
    events = tail.read()
    assert events == read_events(run_dir) and tail.bad_lines == []  # every line parses
    kinds = {type(e) for e in events}
    assert isinstance(events[-1], RunFinished) and {RunStarted, Evaluated, Checkpointed} <= kinds
    [start] = of_kind(run_dir, RunStarted)
    assert start.total_steps == 12 and start.trainable_params > 0 and start.pid > 0
    logged = steps(run_dir)
    assert [e.step for e in logged] == list(range(1, 13))
    for e in logged:
        assert None not in (e.max_steps, e.epoch, e.loss, e.lr, e.grad_norm, e.tokens_per_s,
                            e.elapsed_s, e.eta_s, e.time)
    # the tiny random model can only move its near-uniform start a little, but steadily
    assert sum(e.loss for e in logged[-3:]) / 3 < logged[0].loss - 0.15
    evals = of_kind(run_dir, Evaluated)
    assert [e.step for e in evals] == [4, 8, 12] and evals[-1].eval_loss < evals[0].eval_loss
    ckpt = of_kind(run_dir, Checkpointed)[0]
    assert ckpt.step == 5 and Path(ckpt.path).is_dir()
    done = events[-1]
    assert done.adapter == str(run_dir / "adapter") and done.final_loss == logged[-1].loss
    assert result.final_loss == pytest.approx(done.final_loss)
    # metrics.csv mirrors the step and eval events
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("time,step,epoch,loss") and len(rows) == 1 + 12 + 3
    # TensorBoard's own reader reads the same curve
    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    assert [s.step for s in acc.Scalars("train/loss")] == list(range(1, 13))
    assert [round(s.value, 4) for s in acc.Scalars("train/loss")] == [round(e.loss, 4)
                                                                       for e in logged]
    assert [s.step for s in acc.Scalars("eval/loss")] == [4, 8, 12]
    assert "train/learning_rate" in acc.Tags()["scalars"]
    # the reader API sees a finished run
    [info] = list_runs(tmp_path)
    assert info.status == "done" and info.steps == 12 and info.final_loss == done.final_loss


@pytest.mark.parametrize("packing", [True, False])
def test_resume_continues_at_the_same_step_with_the_same_losses(tiny_model_dir, tmp_path, packing):
    def configs():
        return make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json", repeat=4),
                            max_steps=6, packing=packing, gradient_accumulation_steps=2,
                            lr_scheduler="linear", warmup_ratio=0.2)

    run_training(tmp_path / "whole", configs())
    stop = StopFlag()

    def stop_after_three(event) -> None:
        if isinstance(event, StepLogged) and event.step == 3:
            stop.set()

    first = run_training(tmp_path / "split", configs(), listeners=[stop_after_three], stop=stop)
    assert first.status == "stopped" and first.step == 3
    assert first.checkpoint is not None and first.checkpoint.name == "step-000003"
    [info] = [r for r in list_runs(tmp_path) if r.name == "split"]
    assert info.status == "stopped" and info.checkpoint == first.checkpoint
    second = run_training(tmp_path / "split", configs(), resume=tmp_path / "split")
    assert second.status == "done"
    starts = of_kind(tmp_path / "split", RunStarted)
    assert [s.start_step for s in starts] == [0, 3]
    whole = [(e.step, e.loss, e.lr) for e in steps(tmp_path / "whole")]
    split = [(e.step, e.loss, e.lr) for e in steps(tmp_path / "split")]
    assert [s for s, _, _ in split] == list(range(1, 7))
    for (s1, l1, lr1), (s2, l2, lr2) in zip(whole, split, strict=True):
        assert s1 == s2 and l1 == pytest.approx(l2, rel=1e-5) and lr1 == pytest.approx(lr2)


def test_unknown_target_module_lists_the_linear_layers(tiny_model_dir, tmp_path):
    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json"))
    configs["training"].lora.target_modules = ["q_proj", "qkv"]
    with pytest.raises(TrainingError) as err:
        run_training(tmp_path / "run", configs)
    assert "'qkv'" in err.value.message and "q_proj" not in err.value.message
    assert "down_proj" in err.value.hint and "all-linear" in err.value.hint
    last = read_events(tmp_path / "run")[-1]
    assert isinstance(last, RunFailed) and "qkv" in last.message


def test_nan_loss_stops_the_run_with_a_message(tiny_model_dir, tmp_path):
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model_dir, broken)
    weights = load_file(str(broken / "model.safetensors"))
    key = next(k for k in weights if k.endswith("layers.1.mlp.down_proj.weight"))
    weights[key] = torch.full_like(weights[key], float("inf"))
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(TrainingError) as err:
        run_training(tmp_path / "run", make_configs(broken, write_alpaca(tmp_path / "d.json")))
    assert "loss became nan at step 1" in err.value.message
    assert "learning_rate" in err.value.hint
    assert isinstance(read_events(tmp_path / "run")[-1], RunFailed)


def test_early_stopping_ends_the_run_when_eval_loss_stops_improving(tiny_model_dir, tmp_path):
    # a learning rate this high makes the eval loss jump about instead of falling
    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json", repeat=4),
                           max_steps=40, eval_split=0.25, eval_steps=1, learning_rate=1.0,
                           early_stopping_patience=2, early_stopping_min_delta=10.0)
    result = run_training(tmp_path / "run", configs)
    assert result.status == "done" and result.reason == "early_stopping"
    evals = of_kind(tmp_path / "run", Evaluated)
    assert len(evals) == 3 and result.step == 3  # the best, then two without a 10.0 drop
    assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()


def test_out_of_memory_message_has_figures_and_concrete_changes():
    from llamahome_gui.core.train.errors import is_out_of_memory, out_of_memory_error

    configs = {name: COMPONENTS[name]() for name in RUN_COMPONENTS}
    exc = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert is_out_of_memory(exc) and not is_out_of_memory(RuntimeError("shape mismatch"))
    err = out_of_memory_error(exc, "cpu", configs["training"].training, configs["training"].lora, 7)
    assert "out of memory at step 7" in err.message and "RAM: this process" in err.message
    for tip in ("per_device_train_batch_size=2", "max_seq_length=256",
                "gradient_checkpointing=true", "training.lora.r=8"):
        assert tip in err.hint


def test_gradient_checkpointing_gives_the_same_losses(tiny_model_dir, tmp_path):
    data = write_alpaca(tmp_path / "d.json")
    losses = []
    for flag in (False, True):
        configs = make_configs(tiny_model_dir, data, max_steps=3, gradient_checkpointing=flag)
        configs["training"].lora.lora_dropout = 0.0
        run_training(tmp_path / f"run-{flag}", configs)
        losses.append([e.loss for e in steps(tmp_path / f"run-{flag}")])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
