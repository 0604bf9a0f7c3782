"""The models list from its four sources, forget / remove rules and the app's caches."""

from __future__ import annotations

import json
import os
import shutil
import time

import psutil
import pytest

from llamahome_gui import paths
from llamahome_gui.config.manager import ConfigManager
from llamahome_gui.core.models.caches import cache_sizes, clear_cache
from llamahome_gui.core.models.hf_cache import cache_snapshots
from llamahome_gui.core.models.info import ModelInfoError
from llamahome_gui.core.models.registry import (
    ModelRegistryError,
    add_path,
    find_model,
    forget,
    list_models,
    mark_used,
    models_in_use,
    remove_model,
)
from llamahome_gui.core.runs import new_run_dir, write_run_config
from llamahome_gui.core.runs.events import RunFinished, encode
from tests.hf_cache_support import add_to_hf_cache


@pytest.fixture
def models_dir(tmp_path, tiny_model_dir):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copytree(tiny_model_dir, folder / "tiny")
    return folder


@pytest.fixture
def hf_cache(tmp_path, tiny_model_dir, monkeypatch):
    cache = tmp_path / "hf" / "hub"
    add_to_hf_cache(cache, "acme/tiny-chat", tiny_model_dir, "a" * 40)
    add_to_hf_cache(cache, "acme/tiny-chat", tiny_model_dir, "b" * 40, ref=None)  # older rev
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return cache


def names(rows):
    return [(r.name, r.source) for r in rows]


def test_hf_cache_models_are_listed_without_importing(models_dir, hf_cache, tiny_model_dir):
    assert [(s.repo_id, s.revision) for s in cache_snapshots()] == [("acme/tiny-chat", "a" * 40)]
    rows = list_models(models_dir, runs_roots=[])
    assert names(rows)[1:] == [("tiny", "app"), ("acme/tiny-chat", "hf-cache")]
    cached = rows[2]
    assert cached.path == hf_cache / "models--acme--tiny-chat" / "snapshots" / ("a" * 40)
    assert cached.architecture == "LlamaForCausalLM" and cached.context_length == 1024
    assert cached.chat_template and not cached.removable and cached.usable
    # sizes are the files' (the links are followed), not the links'
    assert cached.size_on_disk == rows[1].size_on_disk
    assert cached.cells()[:7] == ["acme/tiny-chat", "LlamaForCausalLM", "3.2M", "1,024",
                                  "float32", rows[1].cells()[5], "yes"]
    assert cached.cells()[7:] == ["Hugging Face cache", "never"]


def test_starter_is_listed_from_its_gguf_before_import(tmp_path):
    rows = list_models(tmp_path / "empty", runs_roots=[])
    starter = rows[0]
    assert starter.pending and starter.is_starter and starter.config_path == ""
    assert (starter.parameters, starter.dtype, starter.context_length) == (134515008, "Q4_1", 8192)
    assert not starter.removable and "prepared on first use" in starter.source_label()


def test_added_folders_and_ggufs_are_remembered(tmp_path, models_dir, tiny_model_dir, tiny_ggufs):
    lmstudio = tmp_path / "lmstudio" / "acme" / "tiny"
    lmstudio.mkdir(parents=True)
    shutil.copy(tiny_ggufs["qwen2"], lmstudio)
    assert [r.name for r in add_path(tmp_path / "lmstudio")] == ["tiny-qwen2.gguf"]
    assert [r.source for r in add_path(tiny_model_dir)] == ["folder"]
    with pytest.raises(ModelRegistryError, match="already in the models list"):
        add_path(tiny_model_dir)
    (tmp_path / "notes").mkdir()
    with pytest.raises(ModelInfoError, match="is not a model: no config.json and no .gguf"):
        add_path(tmp_path / "notes")
    with pytest.raises(ModelRegistryError, match="does not exist"):
        add_path(tmp_path / "nowhere")
    saved = json.loads((paths.user_data_dir() / "models.json").read_text())
    assert saved["paths"] == [str(tmp_path / "lmstudio"), str(tiny_model_dir.resolve())]

    rows = list_models(models_dir, runs_roots=[])
    gguf = find_model("tiny-qwen2.gguf", rows)
    assert (gguf.source, gguf.dtype, gguf.is_gguf, gguf.usable) == ("gguf", "F16", True, False)
    assert find_model(str(tiny_model_dir), rows).source == "folder"

    forget(tiny_model_dir)
    forget(tmp_path / "lmstudio")
    assert names(list_models(models_dir, runs_roots=[]))[1:] == [("tiny", "app")]
    assert (tiny_model_dir / "model.safetensors").is_file()  # forgetting deletes nothing


def test_forgetting_a_cache_model_hides_it(models_dir, hf_cache):
    row = find_model("acme/tiny-chat", list_models(models_dir, runs_roots=[]))
    forget(row.path)
    assert "acme/tiny-chat" not in [r.name for r in list_models(models_dir, runs_roots=[])]
    assert row.path.is_dir()


def test_remove_only_deletes_inside_the_models_folder(tmp_path, models_dir, hf_cache,
                                                      tiny_model_dir):
    rows = list_models(models_dir, runs_roots=[])
    cached = find_model("acme/tiny-chat", rows)
    for outside in (cached.path, tiny_model_dir, models_dir / ".." / "models" / ".." / "x"):
        with pytest.raises(ModelRegistryError, match="not in the app's models folder"):
            remove_model(outside, models_dir, runs_roots=[])
    assert cached.path.is_dir() and (tiny_model_dir / "config.json").is_file()
    size = find_model("tiny", rows).size_on_disk
    assert remove_model(models_dir / "tiny", models_dir, runs_roots=[]) == size
    assert list(models_dir.iterdir()) == []
    # a link into the models folder goes, the folder it points to stays
    (models_dir / "linked").symlink_to(tiny_model_dir, target_is_directory=True)
    assert remove_model("linked", models_dir, runs_roots=[]) == 0
    assert (tiny_model_dir / "config.json").is_file()


def running_run(runs, config_dir, model_path: str):
    from llamahome_gui.core.runs import RUN_COMPONENTS
    from llamahome_gui.core.runs.events import RunStarted, encode

    manager = ConfigManager(config_dir)
    configs = {name: manager.load(name) for name in RUN_COMPONENTS}
    configs["model"] = configs["model"].model_copy(update={"model": configs["model"].model
                                                           .model_copy(update={"path": model_path})})
    run = new_run_dir(runs, "busy")
    write_run_config(run, configs)
    start = RunStarted(time=time.time(), total_steps=1, pid=os.getpid(),
                       pid_created=psutil.Process().create_time())
    (run / "events.jsonl").write_text(encode(start) + "\n")
    return run


def test_a_model_a_running_trainer_uses_is_not_removed(tmp_path, models_dir, config_dir):
    runs = tmp_path / "runs"
    run = running_run(runs, config_dir, str(models_dir / "tiny"))
    assert models_in_use([runs], models_dir) == {str((models_dir / "tiny").resolve()): run.name}
    with pytest.raises(ModelRegistryError, match=f"in use by the running training run {run.name}"):
        remove_model(models_dir / "tiny", models_dir, runs_roots=[runs])
    assert (models_dir / "tiny" / "model.safetensors").is_file()
    # the run ends: the model can go
    with open(run / "events.jsonl", "a") as fh:
        fh.write(encode(RunFinished(time=time.time(), adapter="", step=1)) + "\n")
    assert remove_model(models_dir / "tiny", models_dir, runs_roots=[runs]) > 0


def test_last_used_from_use_and_from_runs(tmp_path, models_dir, config_dir):
    rows = list_models(models_dir, runs_roots=[])
    assert find_model("tiny", rows).last_used is None
    before = time.time()
    mark_used(models_dir / "tiny")
    assert find_model("tiny", list_models(models_dir, runs_roots=[])).last_used >= before
    runs = tmp_path / "runs"
    running_run(runs, config_dir, str(models_dir / "tiny"))
    shutil.copytree(models_dir / "tiny", models_dir / "other")
    run = running_run(runs, config_dir, str(models_dir / "other"))
    used = find_model("other", list_models(models_dir, runs_roots=[runs])).last_used
    assert used == pytest.approx((run / "run.toml").stat().st_mtime)


def test_cache_sizes_and_clear_keep_what_is_in_use(tmp_path, models_dir, config_dir):
    runs = tmp_path / "runs"
    busy = running_run(runs, config_dir, str(models_dir / "tiny"))
    old = new_run_dir(runs, "old")
    (old / "adapter").mkdir()
    (old / "adapter" / "weights").write_bytes(b"\0" * 5000)
    shutil.copytree(models_dir / "tiny", models_dir / "spare")
    sizes = {c.key: c for c in cache_sizes(models_dir, runs)}
    assert (sizes["models"].items, sizes["runs"].items) == (2, 2)
    assert sizes["runs"].size > 5000
    freed, kept = clear_cache("models", models_dir, runs)
    assert kept == ["tiny"] and freed == sizes["models"].size // 2
    freed, kept = clear_cache("runs", models_dir, runs)
    assert kept == [busy.name] and freed >= 5000 and not old.exists()
