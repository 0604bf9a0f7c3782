"""``llamahome models ...`` as a user runs it (real subprocesses, real files)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.hf_cache_support import add_to_hf_cache


def llamahome(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llamahome_gui", *args], capture_output=True,
                          text=True, timeout=600, input=stdin, env={**os.environ, **(env or {})})


def row(stdout: str, name: str) -> str:
    found = [line for line in stdout.splitlines() if line.startswith(name + " ")]
    assert len(found) == 1, stdout
    return found[0]


def test_import_starter_is_idempotent_and_prints_the_folder_last(starter_model_dir):
    models_dir = starter_model_dir.parent
    result = llamahome("models", "import-starter", "--models-dir", str(models_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(starter_model_dir)
    assert "already imported" in result.stderr


def test_list_and_info(tmp_path, starter_model_dir, tiny_model_dir):
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / starter_model_dir.name).symlink_to(starter_model_dir, target_is_directory=True)
    shutil.copytree(tiny_model_dir, models_dir / "tiny")
    result = llamahome("models", "list", "--models-dir", str(models_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["Name", "Architecture", "Parameters"]
    starter = lines[1].split()
    assert starter[:5] == ["SmolLM2-135M-Instruct", "LlamaForCausalLM", "134.5M", "8,192",
                           "float32"]
    assert starter[6:8] == ["MiB", "yes"] and 500 < float(starter[5]) < 540
    assert "bundled starter" in lines[1]
    assert row(result.stdout, "tiny").split()[1:4] == ["LlamaForCausalLM", "3.2M", "1,024"]

    result = llamahome("models", "info", "tiny", "--models-dir", str(models_dir))
    assert result.returncode == 0, result.stderr
    for expected in ("Architecture:    LlamaForCausalLM", "Layers:          2",
                     "Hidden size:     64", "Dtype:           float32", "Max context:     1,024",
                     "Chat template:   yes", "Size on disk:"):
        assert expected in result.stdout


def test_list_before_import_and_bad_input(tmp_path, tiny_ggufs):
    result = llamahome("models", "list", "--models-dir", str(tmp_path))
    assert result.returncode == 0 and "not imported yet" in result.stdout
    result = llamahome("models", "info", str(tmp_path))
    assert result.returncode == 2 and "no config.json" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_ggufs["llama"].read_bytes()[:60_000])
    for args, expected in (
            (["import", str(cut)], f"{cut} is truncated (60,000 of 103,808 bytes)"),
            (["import", str(tmp_path / "missing.gguf")], "does not exist"),
            (["add", str(empty)], "is not a model: no config.json and no .gguf file"),
            (["remove", "nothing-like-it"], "no model 'nothing-like-it' in the list")):
        result = llamahome("models", *args, "--models-dir", str(tmp_path / "m")) if \
            args[0] != "add" else llamahome("models", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.strip().splitlines()[-1].startswith(f"llamahome models {args[0]}: ")
        assert expected in result.stderr
    assert not (tmp_path / "m").exists() or list((tmp_path / "m").iterdir()) == []


def test_import_train_list_remove_as_a_new_user(tmp_path, tiny_ggufs, tiny_model_dir, config_dir):
    """The acceptance path: import a GGUF, see it, train 2 steps on it, see an HF cache model,
    remove the import (asked first), HF cache untouched."""
    models_dir = tmp_path / "models"
    cache = tmp_path / "hf"
    add_to_hf_cache(cache, "acme/tiny-chat", tiny_model_dir, "e" * 40)
    env = {"HF_HUB_CACHE": str(cache)}
    common = ["--models-dir", str(models_dir)]
    result = llamahome("models", "import", str(tiny_ggufs["qwen2"]), *common, env=env)
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip().splitlines()[-1])
    assert folder == models_dir / "tiny-qwen2" and (folder / "model.safetensors").is_file()
    assert "De-quantizing the weights" in result.stderr

    again = llamahome("models", "import", str(tiny_ggufs["qwen2"]), *common, env=env)
    assert again.returncode == 2 and f"already imported as {folder}" in again.stderr

    listed = llamahome("models", "list", *common, env=env)
    assert row(listed.stdout, "tiny-qwen2").split()[1:3] == ["Qwen2ForCausalLM", "91.4K"]
    assert "imported from tiny-qwen2.gguf" in listed.stdout
    assert "Hugging Face cache" in row(listed.stdout, "acme/tiny-chat")

    runs = tmp_path / "runs"
    train = subprocess.run(
        [sys.executable, "-m", "llamahome_gui", "train", "--config-dir", str(config_dir),
         "--set", f"model.model.path='{folder}'", "--set", "training.training.max_steps=2",
         "--set", f"training.training.output_dir='{runs}'"],
        capture_output=True, text=True, timeout=600)
    assert train.returncode == 0, train.stderr
    assert "step 2/2" in train.stdout + train.stderr and "adapter:" in train.stdout
    listed = llamahome("models", "list", *common, "--runs-dir", str(runs), env=env)
    assert "never" not in row(listed.stdout, "tiny-qwen2")  # last used: the run

    declined = llamahome("models", "remove", "tiny-qwen2", *common, stdin="n\n", env=env)
    assert declined.returncode == 1 and "Delete " in declined.stderr and folder.is_dir()
    cached = llamahome("models", "remove", "acme/tiny-chat", *common, stdin="y\n", env=env)
    assert cached.returncode == 2 and "never deleted here" in cached.stderr
    assert "forget acme/tiny-chat" in cached.stderr
    removed = llamahome("models", "remove", "tiny-qwen2", *common, stdin="y\n", env=env)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith("removed tiny-qwen2: ") and "KiB freed" in removed.stdout
    assert not folder.exists() and (cache / "models--acme--tiny-chat").is_dir()
    listed = llamahome("models", "list", *common, env=env)
    assert "tiny-qwen2 " not in listed.stdout and "acme/tiny-chat" in listed.stdout
