"""``llamahome export`` as a user runs it: each format from a real trained run, and every bad
input answered with one line, exit code 2 and nothing written."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

import pytest

from llamahome_gui.cli import main
from tests.export_support import SYSTEM, chat_ids, train_tiny_run


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir, tmp_path_factory):
    return train_tiny_run(tiny_model_dir, tmp_path_factory.mktemp("runs"), eval_split=0.25)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "no error message"
    return err[-1]


def test_run_to_gguf_holds_the_trained_adapter_and_passes_parity(tiny_run, tiny_model_dir,
                                                                 tmp_path, capsys):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "nova.gguf"
    assert main(["export", str(tiny_run), "--format", "gguf", "--quant", "f32",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1] == str(out)
    assert "parity: top-1 agreement 100.0%" in captured.err
    assert "WARNING" not in captured.err and "done: " in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nova.gguf"]  # no leftovers

    trained = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                        str(tiny_run / "adapter")).eval()
    exported = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=out.name,
                                                    dtype=torch.float32)
    ids = torch.tensor([chat_ids(AutoTokenizer.from_pretrained(tiny_model_dir), "Who are you?")])
    with torch.no_grad():
        torch.testing.assert_close(exported(input_ids=ids).logits, trained(input_ids=ids).logits,
                                   atol=1e-4, rtol=1e-4)


def test_ollama_folder_has_the_gguf_and_a_modelfile_from_the_runs_settings(tiny_run, tmp_path,
                                                                         capsys):
    folder = tmp_path / "nova-ollama"
    assert main(["export", str(tiny_run), "--format", "ollama", "--name", "nova",
                 "--out", str(folder), "--no-check"]) == 0
    err = capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["Modelfile", "nova.q8_0.gguf"]
    text = (folder / "Modelfile").read_text()
    lines = text.splitlines()
    assert lines[0] == "FROM ./nova.q8_0.gguf"
    assert f'SYSTEM """{SYSTEM}"""' in lines
    assert 'PARAMETER stop "<|im_end|>"' in lines
    assert "PARAMETER temperature 0.3" in lines and "PARAMETER top_p 0.8" in lines
    assert 'TEMPLATE """' in text and '{{ "<|im_end|>\\n<|im_start|>assistant\\n" }}' in text
    assert f"cd {folder} && ollama create nova -f Modelfile" in err


def test_peft_export_is_the_adapter_with_a_model_card(tiny_run, tiny_model_dir, tmp_path):
    out = tmp_path / "card"
    assert main(["export", str(tiny_run), "--format", "peft", "--out", str(out)]) == 0
    assert (out / "adapter_model.safetensors").read_bytes() == \
        (tiny_run / "adapter" / "adapter_model.safetensors").read_bytes()
    card = (out / "README.md").read_text()
    assert str(tiny_model_dir) in card and "data.json" in card and "LoRA r=8" in card
    assert "Final eval loss: " in card and "not measured" not in card
    assert SYSTEM in card


def test_a_run_without_an_adapter_says_so(tiny_model_dir, tmp_path, capsys):
    from llamahome_gui.config.schema import COMPONENTS
    from llamahome_gui.core.runs import RUN_COMPONENTS, write_run_config

    run = tmp_path / "20260101-000000-fresh"
    write_run_config(run, {name: COMPONENTS[name]() for name in RUN_COMPONENTS})
    out = tmp_path / "out"
    out.mkdir()
    assert main(["export", str(run), "--out", str(out / "x.gguf")]) == 2
    assert "has no adapter yet" in _error_line(capsys)
    assert list(out.iterdir()) == []


def test_existing_destination_needs_force(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "base.gguf"
    out.write_text("keep me")
    args = ["export", "--model", str(tiny_model_dir), "--quant", "f16", "--out", str(out),
            "--no-check"]
    assert main(args) == 2
    line = _error_line(capsys)
    assert "already exists" in line and "--force" in line
    assert out.read_text() == "keep me"
    assert main([*args, "--force"]) == 0
    assert out.read_bytes()[:4] == b"GGUF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.gguf"]


def test_adapter_of_another_base_is_refused(tiny_run, tmp_path, capsys):
    from transformers import LlamaConfig, LlamaForCausalLM

    other = tmp_path / "other"
    LlamaForCausalLM(LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=2, num_attention_heads=2,
                                 num_key_value_heads=1)).save_pretrained(other)
    out = tmp_path / "x.gguf"
    assert main(["export", str(tiny_run / "adapter"), "--model", str(other), "--out",
                 str(out)]) == 2
    line = _error_line(capsys)
    assert "was not trained on this model" in line and "--model" in line
    assert not out.exists()


def test_unsupported_architecture_is_named(tmp_path, capsys):
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=100)).save_pretrained(
        folder)
    assert main(["export", "--model", str(folder), "--out", str(tmp_path / "x.gguf")]) == 2
    assert "'gpt2' is not supported" in _error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpt2"]


def _limit_file_size() -> None:
    # A file-size limit makes writes fail the way a full disk does (EFBIG instead of ENOSPC).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))


def test_a_full_disk_leaves_no_partial_file(tiny_model_dir, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-m", "llamahome_gui", "export", "--model", str(tiny_model_dir),
         "--quant", "f32", "--no-check", "--out", str(out_dir / "x.gguf")],
        capture_output=True, text=True, env=env, preexec_fn=_limit_file_size, timeout=600)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "could not write" in last and "nothing was written" in last
    assert list(out_dir.iterdir()) == []
