"""``llamahome models import-starter|list|info`` as a user runs them (real subprocesses)."""

from __future__ import annotations

import shutil
import subprocess
import sys


def llamahome(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llamahome_gui", *args], capture_output=True,
                          text=True, timeout=300)


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
    assert "SmolLM2-135M-Instruct  [starter]" in lines[1] and "134.5M params" in lines[1]
    assert lines[2].strip().startswith("tiny  LlamaForCausalLM")

    result = llamahome("models", "info", "tiny", "--models-dir", str(models_dir))
    assert result.returncode == 0, result.stderr
    for expected in ("Architecture:    LlamaForCausalLM", "Layers:          2",
                     "Hidden size:     64", "Dtype:           float32", "Max context:     1,024",
                     "Chat template:   yes", "Size on disk:"):
        assert expected in result.stdout


def test_list_before_import_and_info_on_a_non_model(tmp_path):
    result = llamahome("models", "list", "--models-dir", str(tmp_path))
    assert result.returncode == 0 and "not imported yet" in result.stdout
    result = llamahome("models", "info", str(tmp_path))
    assert result.returncode == 1 and "no config.json" in result.stderr
