"""Bad input gets one line (what, where, how to fix) and exit 2, never a traceback: broken
model folders, read-only output folders, odd JSON, a failing chat template, an empty prompt,
a folder as dataset, a bad environment variable; and ``data check`` says how many records
would train."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llamahome_gui import paths
from tests.cli.test_config_cli_safety import _as_other_user, shared_tmp

REPO = Path(__file__).resolve().parents[2]


def llamahome(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
              prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "llamahome_gui", *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def one_line(result: subprocess.CompletedProcess) -> str:
    """The error line, after making sure it is the only thing wrong on stderr."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith(("using config folder", "note:", "Loading "))]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    return folder


@pytest.mark.parametrize(("cut", "expected"), [
    (0, "model.safetensors in {folder} is empty (0 bytes)"),
    (5, "model.safetensors in {folder} is truncated (5 bytes, not even a header)"),
    (100_000, "model.safetensors in {folder} is truncated (100000 bytes of "),
], ids=["empty", "header-cut", "data-cut"])
def test_broken_weights_are_named(model_copy: Path, config_dir: Path, cut: int,
                                  expected: str) -> None:
    weights = model_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:cut])
    result = llamahome("chat", "--model", str(model_copy), "--prompt", "hi", "--config-dir",
                       str(config_dir))
    assert result.returncode == 2
    line = one_line(result)
    assert expected.format(folder=model_copy) in line
    assert line.endswith("download or convert the model again")


def test_model_without_tokenizer_files(model_copy: Path, config_dir: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (model_copy / name).unlink(missing_ok=True)
    result = llamahome("chat", "--model", str(model_copy), "--prompt", "hi", "--config-dir",
                       str(config_dir))
    assert result.returncode == 2
    line = one_line(result)
    assert f"{model_copy} has no tokenizer files (tokenizer.json or tokenizer.model)" in line
    assert "sentencepiece" not in line


def test_empty_prompt(config_dir: Path) -> None:
    result = llamahome("chat", "--prompt", "  ", "--config-dir", str(config_dir))
    assert result.returncode == 2
    assert one_line(result).startswith("llamahome chat: error: --prompt is empty")


def test_read_only_output_dir_is_refused_before_anything_starts() -> None:
    with shared_tmp() as (top, env):
        out = top / "runs"
        out.mkdir()
        out.chmod(0o555)
        result = llamahome("train", "--config-dir", str(top / "config"), "--set",
                           f"training.training.output_dir='{out}'", cwd=top, env=env,
                           prefix=tuple(_as_other_user()))
        assert result.returncode == 2
        assert one_line(result) == (f"error: cannot create a run folder in {out}: {out} is not "
                                    "a writable folder; set training.training.output_dir to one "
                                    "you can write to")
        assert list(out.iterdir()) == []


def test_folder_given_as_dataset(tmp_path: Path, config_dir: Path) -> None:
    folder = tmp_path / "my-data"
    folder.mkdir()
    result = llamahome("train", "--config-dir", str(config_dir), "--set",
                       f"training.training.dataset_path='{folder}'", cwd=tmp_path)
    assert result.returncode == 2
    line = one_line(result)
    assert f"dataset {folder} is a folder" in line and "does not exist" not in line
    check = llamahome("data", "check", str(folder), "--config-dir", str(config_dir))
    assert check.returncode == 2 and "my-data: is a folder" in check.stdout


def test_deeply_nested_record(tmp_path: Path, config_dir: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n'
                    '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    result = llamahome("data", "check", str(path), "--config-dir", str(config_dir))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "deep.jsonl:2: nested too deeply to be a dataset record" in result.stdout


def test_lone_surrogate_record(tmp_path: Path, tiny_model_dir: Path, config_dir: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n'
                    '{"instruction": "a \\ud800 b", "output": "c"}\n')
    result = llamahome("data", "check", str(path), "--model", str(tiny_model_dir),
                       "--config-dir", str(config_dir))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "odd.jsonl:2: contains a lone surrogate escape \\ud800" in result.stdout


def test_chat_template_that_raises_names_the_record(model_copy: Path, tmp_path: Path,
                                                    config_dir: Path) -> None:
    (model_copy / "chat_template.jinja").write_text(
        "{% for m in messages %}{% if 'BOOM' in m['content'] %}"
        "{{ raise_exception('no bombs here') }}{% endif %}"
        "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    path = tmp_path / "data.jsonl"
    path.write_text('{"instruction": "fine", "output": "ok"}\n'
                    '{"instruction": "BOOM", "output": "ok"}\n')
    result = llamahome("data", "check", str(path), "--model", str(model_copy), "--config-dir",
                       str(config_dir))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert ("data.jsonl:2: the model's chat template fails on this record: no bombs here"
            in result.stdout)


def test_data_check_with_a_bad_environment_variable(config_dir: Path) -> None:
    result = llamahome("data", "check", str(paths.SAMPLE_DATASET), "--config-dir",
                       str(config_dir), env={"LLAMAHOME_LORA_R": "abc"})
    assert result.returncode == 2
    assert one_line(result) == ("llamahome data check: environment LLAMAHOME_LORA_R: "
                                'training.lora.r = "abc": must be a whole number')


def test_data_check_counts_records_that_would_train(tiny_model_dir: Path, tmp_path: Path,
                                                    config_dir: Path) -> None:
    path = tmp_path / "long.jsonl"
    rows = [{"instruction": "word " * n, "output": "the answer"} for n in (2, 3, 200, 300)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    some = llamahome("data", "check", str(path), "--model", str(tiny_model_dir),
                     "--max-seq-length", "64", "--config-dir", str(config_dir))
    assert some.returncode == 0, some.stderr
    assert "2 of 4 records would train" in some.stdout
    none = llamahome("data", "check", str(path), "--model", str(tiny_model_dir),
                     "--max-seq-length", "4", "--config-dir", str(config_dir))
    assert none.returncode == 2
    assert "0 of 4 records would train" in none.stdout
    assert "no record would train: max_seq_length 4 cuts away every answer" in none.stdout
    assert not none.stdout.rstrip().endswith("OK")


def test_binary_file_that_is_valid_utf8_is_not_a_text_dataset(tmp_path: Path,
                                                               config_dir: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(bytes(range(1, 32)) * 200 + b"some words\n")
    path.read_bytes().decode("utf-8")  # it is valid UTF-8
    result = llamahome("data", "check", str(path), "--config-dir", str(config_dir))
    assert result.returncode == 2
    assert "blob.txt: looks like a binary file" in result.stdout
