"""``llamahome train`` as a user runs it: real processes, real signals, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from llamahome_gui.cli import main
from llamahome_gui.core.runs import read_events, read_run_config
from llamahome_gui.core.runs.events import (
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    parse_record,
)
from tests.core.test_train import FACTS, steps, write_alpaca


def tiny_args(model: Path, data: Path, *extra: str) -> list[str]:
    return ["--set", f"model.model.path='{model}'", "--set", f"training.training.dataset_path='{data}'",
            "--set", "training.training.eval_split=0.0", "--set", "training.lora.r=4", *extra]


def cli(*args: str, cwd: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "llamahome_gui", "train", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_sigint_checkpoints_and_resume_continues_from_that_step(tiny_model_dir, tmp_path):
    data = write_alpaca(tmp_path / "d.json", repeat=8)
    run_dir = tmp_path / "run"
    args = tiny_args(tiny_model_dir, data, "--set", "training.training.max_steps=400",
                     "--set", "training.training.per_device_train_batch_size=1",
                     "--run-dir", str(run_dir), "--events", "-")
    proc = cli(*args)
    for line in proc.stdout:  # the JSON events, as the trainer writes them
        event = parse_record(json.loads(line))
        if event.kind == "step" and event.step >= 2:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopped at step" in err and f"--resume {run_dir}" in err
    stopped = read_events(run_dir)[-1]
    assert isinstance(stopped, RunStopped) and stopped.step >= 2
    assert Path(stopped.checkpoint).name == f"step-{stopped.step:06d}"
    # resume; --set raises max_steps so the rest of the run is short
    resumed = cli("--resume", str(run_dir), "--set",
                  f"training.training.max_steps={stopped.step + 3}")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    events = read_events(run_dir)
    start = [e for e in events if isinstance(e, RunStarted)][-1]
    assert start.start_step == stopped.step
    after = [e.step for e in steps(run_dir) if e.time > start.time]
    assert after == [stopped.step + 1, stopped.step + 2, stopped.step + 3]
    assert isinstance(events[-1], RunFinished)


def test_bad_record_line_fails_with_the_line(tiny_model_dir, tmp_path, capsys):
    data = tmp_path / "data.jsonl"
    good = json.dumps({"instruction": FACTS[0][0], "input": "", "output": FACTS[0][1]})
    data.write_text(f"{good}\n{good}\n{{\"instruction\": \"broken\n{good}\n", encoding="utf-8")
    code = main(["train", *tiny_args(tiny_model_dir, data), "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1
    assert "data.jsonl:3" in err and "llamahome data check" in err
    assert isinstance(read_events(tmp_path / "run")[-1], RunFailed)


@pytest.mark.parametrize("override,message", [
    ("training.training.max_step=5", "no key 'max_step' in training.training"),
    ("training.training.max_steps=-1", "training.training.max_steps"),
    ("trainig.training.max_steps=5", "unknown component 'trainig'"),
    ("max_steps=5", "component.section.key"),
])
def test_bad_set_is_a_usage_error_naming_the_key(override, message, config_dir, capsys):
    assert main(["train", "--config-dir", str(config_dir), "--set", override]) == 2
    assert message in capsys.readouterr().err


def test_missing_model_and_dataset_are_clear_errors(tiny_model_dir, tmp_path, capsys):
    data = write_alpaca(tmp_path / "d.json")
    # bad input: exit 2, before a run folder is made
    assert main(["train", *tiny_args(tmp_path / "nope", data), "--run-dir", str(tmp_path / "a")]) == 2
    assert "nope does not exist" in capsys.readouterr().err
    assert main(["train", *tiny_args(tiny_model_dir, tmp_path / "none.jsonl"),
                 "--run-dir", str(tmp_path / "b")]) == 2
    assert "none.jsonl does not exist" in capsys.readouterr().err


def test_set_changes_the_run_not_the_files(tiny_model_dir, tmp_path, config_dir, capsys):
    before = (config_dir / "training_config.toml").read_text()
    data = write_alpaca(tmp_path / "d.json")
    code = main(["train", "--config-dir", str(config_dir),
                 *tiny_args(tiny_model_dir, data, "--set", "training.training.max_steps=2",
                            "--set", "training.lora.target_modules=['q_proj', 'v_proj']",
                            "--set", f"training.training.output_dir='{tmp_path / 'runs'}'")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert (config_dir / "training_config.toml").read_text() == before
    [run_dir] = list((tmp_path / "runs").iterdir())
    assert run_dir.name.endswith("-tiny-llama-d")  # the model folder's name, as in the window
    snapshot = read_run_config(run_dir)
    assert snapshot["training"].training.max_steps == 2
    assert snapshot["training"].lora.target_modules == ["q_proj", "v_proj"]
    assert "step 2/2" in out and f"adapter: {run_dir / 'adapter'}" in out
    for name in ("run.toml", "events.jsonl", "metrics.csv", "tensorboard", "adapter"):
        assert (run_dir / name).exists(), name
    config = json.loads((run_dir / "adapter" / "adapter_config.json").read_text())
    assert sorted(config["target_modules"]) == ["q_proj", "v_proj"]


def test_starter_model_learns_and_plain_peft_loads_the_adapter(starter_model_dir, tmp_path):
    """End to end on the real model: `python -m llamahome_gui train` in a fresh process."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    data = write_alpaca(tmp_path / "zorb.json", repeat=1)
    run_dir = tmp_path / "run"
    proc = cli(*tiny_args(starter_model_dir, data, "--set", "training.training.max_steps=4",
                          "--set", "training.training.learning_rate=2e-3",
                          "--set", "training.training.warmup_ratio=0.0",
                          "--set", "training.training.per_device_train_batch_size=4",
                          "--run-dir", str(run_dir)))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    losses = [e.loss for e in steps(run_dir)]
    assert len(losses) == 4 and losses[-1] < losses[0]
    base = AutoModelForCausalLM.from_pretrained(starter_model_dir)
    model = PeftModel.from_pretrained(base, str(run_dir / "adapter"))
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad(), model.disable_adapter():
        plain = model(input_ids=ids).logits
    assert not torch.allclose(model(input_ids=ids).logits, plain)  # the adapter changes outputs


def test_estimate_prints_the_memory_table_and_refuses_a_run_that_cannot_fit(
        tiny_model_dir, tmp_path, capsys):
    data = write_alpaca(tmp_path / "d.json")
    assert main(["train", "--estimate", *tiny_args(tiny_model_dir, data)]) == 0
    out = capsys.readouterr().out
    assert "Verdict: fits" in out
    huge = tiny_args(tiny_model_dir, data, "--set", "training.training.max_seq_length=131072",
                     "--set", "training.training.per_device_train_batch_size=1024",
                     "--run-dir", str(tmp_path / "run"))
    assert main(["train", *huge]) == 1
    err = capsys.readouterr().err
    assert "Verdict: won't fit" in err and "--force" in err
    assert not (tmp_path / "run").exists()  # nothing started


def test_gui_flow_snapshot_then_run_dir(tiny_model_dir, tmp_path, capsys):
    """The window writes run.toml into a new run folder, then starts `train --run-dir`."""
    from llamahome_gui.config.schema import COMPONENTS
    from llamahome_gui.core.runs import RUN_COMPONENTS, new_run_dir, run_info, write_run_config

    configs = {name: COMPONENTS[name]() for name in RUN_COMPONENTS}
    configs["model"].model.path = str(tiny_model_dir)
    configs["training"].training.dataset_path = str(write_alpaca(tmp_path / "d.json"))
    configs["training"].training.max_steps = 2
    run_dir = new_run_dir(tmp_path / "runs", "gui")
    write_run_config(run_dir, configs)
    assert main(["train", "--run-dir", str(run_dir)]) == 0
    info = run_info(run_dir)
    assert info.status == "done" and info.steps == 2 and info.adapter == run_dir / "adapter"
    assert read_run_config(run_dir) == configs


def test_estimate_json_counts_the_rows_the_data_really_give(tiny_model_dir, tmp_path, capsys):
    """`--estimate --json`: total_bytes on stdout only; short records at max_seq_length 512
    need less than the same settings' worst case (every row 512 tokens long)."""
    import json as _json

    from llamahome_gui.config.schema import COMPONENTS
    from llamahome_gui.core.runs import RUN_COMPONENTS
    from llamahome_gui.core.runs.plan import EstimateInputs, estimate_memory

    data = write_alpaca(tmp_path / "d.json")
    args = tiny_args(tiny_model_dir, data, "--set", "training.training.max_seq_length=512")
    assert main(["train", "--estimate", "--json", *args]) == 0
    report = _json.loads(capsys.readouterr().out)
    assert report["total_bytes"] == sum(report["terms_bytes"].values())
    assert report["tokens_per_step"] < 4 * 512 and "packed rows" in report["notes"][0]
    configs = {name: COMPONENTS[name]() for name in RUN_COMPONENTS}
    configs["training"].training.max_seq_length = 512
    configs["training"].lora.r = 4
    worst = estimate_memory(configs, tiny_model_dir, EstimateInputs())
    assert report["total_bytes"] < worst.total
    assert main(["train", "--json", *args]) == 2  # --json alone is a usage error


@pytest.mark.parametrize(("frontend", "said"), [("gui", "press Stop again to force"),
                                                ("", "press Ctrl+C again")])
def test_first_stop_request_names_what_stops_at_once(monkeypatch, frontend, said):
    """The trainer under the window speaks of its Stop button; in a terminal, of Ctrl+C."""
    import io

    from llamahome_gui.cli import train_cmd
    from llamahome_gui.core.train.session import StopFlag

    monkeypatch.setenv(train_cmd.FRONTEND_ENV, frontend)
    out, stop = io.StringIO(), StopFlag()
    previous = train_cmd._install_signals(stop, out)
    try:
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert stop.requested and said in out.getvalue()
