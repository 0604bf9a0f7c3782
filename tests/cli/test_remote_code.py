"""A model folder's own Python code (``trust_remote_code``) runs only when the user chose it
for this command: a ``./config`` found in the working folder, or a received run folder's
``run.toml``, that sets it does not run the code; ``--trust-remote-code`` does.

The model folder maps its config class to a module that writes a marker file when imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llamahome_gui.config.manager import ConfigManager

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def evil_model(tiny_model_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(model folder whose config.json maps to custom code, marker file that code writes)."""
    folder = tmp_path / "evil-model"
    shutil.copytree(tiny_model_dir, folder)
    marker = tmp_path / "REMOTE-CODE-RAN"
    (folder / "configuration_evil.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import LlamaConfig\n\n\n"
        "class EvilConfig(LlamaConfig):\n"
        "    model_type = 'llama'\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_evil.EvilConfig"}
    (folder / "config.json").write_text(json.dumps(config))
    return folder, marker


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_MODULES_CACHE": str(tmp_path / "hfmod")}


def _project_with_local_config(tmp_path: Path, model: Path) -> Path:
    """A folder holding ./config (as a cloned project would) that asks for remote code."""
    work = tmp_path / "project"
    shutil.copytree(REPO / "config", work / "config")
    cfg = ConfigManager(work / "config", env={})
    cfg.update("model", {"model.path": str(model), "model.trust_remote_code": True})
    cfg.update("training", {"training.max_steps": 1})
    return work


def _chat(work: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "llamahome_gui", "chat", "--prompt", "hi", "--max-new-tokens",
         "2", "--temperature", "0", *extra], cwd=work, env=_env(tmp_path), capture_output=True,
        text=True, timeout=300)


def test_implicit_local_config_does_not_run_model_code(evil_model, tmp_path: Path) -> None:
    model, marker = evil_model
    work = _project_with_local_config(tmp_path, model)
    result = _chat(work, tmp_path)
    assert not marker.exists(), "the model's own code ran"
    assert result.returncode == 0, result.stderr
    assert "using config folder config (not your own config folder)" in result.stderr
    assert "trust_remote_code = true; ignored" in result.stderr
    assert "--trust-remote-code" in result.stderr


def test_the_flag_is_an_explicit_choice(evil_model, tmp_path: Path) -> None:
    """Control: the marker does appear when the user asks for remote code."""
    model, marker = evil_model
    work = _project_with_local_config(tmp_path, model)
    _chat(work, tmp_path, "--trust-remote-code")
    assert marker.exists()


def test_the_users_own_config_folder_is_an_explicit_choice(evil_model, tmp_path: Path,
                                                           isolated_user_dirs: Path) -> None:
    model, marker = evil_model
    own = Path(os.environ["LLAMAHOME_CONFIG_HOME"])
    shutil.copytree(REPO / "config", own)
    ConfigManager(own, env={}).update("model", {"model.path": str(model),
                                                "model.trust_remote_code": True})
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    result = _chat(empty, tmp_path)
    assert "using config folder" not in result.stderr
    assert marker.exists()


def test_resume_of_a_received_run_folder_does_not_run_model_code(evil_model,
                                                                 tmp_path: Path) -> None:
    from llamahome_gui.core.runs import RUN_COMPONENTS, write_run_config

    model, marker = evil_model
    work = _project_with_local_config(tmp_path, model)
    cfg = ConfigManager(work / "config", env={})
    run_dir = tmp_path / "received-run"
    run_dir.mkdir()
    write_run_config(run_dir, {name: cfg.load(name) for name in RUN_COMPONENTS})
    result = subprocess.run(
        [sys.executable, "-m", "llamahome_gui", "train", "--resume", str(run_dir)],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert not marker.exists(), "the model's own code ran"
    assert "run.toml sets model.model.trust_remote_code = true; ignored" in result.stderr
    assert result.returncode == 0, result.stderr
