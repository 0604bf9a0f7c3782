"""``llamahome data check|preview`` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys

from llamahome_gui import paths


def llamahome(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llamahome_gui", *args], capture_output=True,
                          text=True, timeout=240, cwd=cwd)


def test_check_good_file_with_model(tiny_model_dir, config_dir):
    result = llamahome("data", "check", str(paths.SAMPLE_DATASET), "--model", str(tiny_model_dir),
                       "--max-seq-length", "64", "--config-dir", str(config_dir))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "sample_dataset.jsonl:" in out and "format alpaca" in out
    assert "tokens per example: min" in out and "max_seq_length 64:" in out
    assert out.rstrip().endswith("OK")


def test_check_broken_line_3_exits_2_and_names_it(tmp_path, config_dir):
    path = tmp_path / "data.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": "d"}\n'
                    '{"instruction": "e", "output": "f"\n')
    result = llamahome("data", "check", str(path), "--config-dir", str(config_dir))
    assert result.returncode == 2
    assert "data.jsonl:3: invalid JSON" in result.stdout
    assert "1 problem" in result.stderr


def test_check_missing_output_and_format_option(tmp_path, config_dir):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([{"instruction": "a", "output": "b"}, {"instruction": "c"}]))
    result = llamahome("data", "check", str(path), "--config-dir", str(config_dir))
    assert result.returncode == 2 and 'data.json: record 2: missing "output"' in result.stdout
    result = llamahome("data", "check", str(path), "--format", "chat", "--config-dir",
                       str(config_dir))
    assert result.returncode == 2 and 'missing "messages"' in result.stdout


def test_preview_shows_rendered_records(tiny_model_dir, config_dir):
    result = llamahome("data", "preview", str(paths.SAMPLE_DATASET), "-n", "2", "--model",
                       str(tiny_model_dir), "--config-dir", str(config_dir))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("── sample_dataset.jsonl:") == 2
    assert "<|im_start|>user\nWho are you?<|im_end|>" in out
    assert "⟦I am LlamaHome Assistant" in out
    # the chat's system prompt from the inference config is what training renders
    assert "<|im_start|>system\nYou are a helpful assistant.<|im_end|>" in out


def test_preview_of_bad_file_exits_2(tmp_path, tiny_model_dir, config_dir):
    path = tmp_path / "bad.jsonl"
    path.write_text("{}\n")
    result = llamahome("data", "preview", str(path), "--model", str(tiny_model_dir),
                       "--config-dir", str(config_dir))
    assert result.returncode == 2 and "bad.jsonl" in result.stderr
