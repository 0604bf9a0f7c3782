"""Shared fixtures: every test runs headless, with its own config and data folders, and
model fixtures are built once per machine into a cache folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = REPO / "config"
# Converted models survive between test runs (the starter import takes ~20 s).
MODEL_CACHE = Path(os.environ.get("LLAMAHOME_TEST_CACHE", REPO / ".cache" / "test-models"))


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Tests never touch the real user's config, data or Qt settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("LLAMAHOME_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("LLAMAHOME_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
    # GGUF copies for the llama.cpp chat engine are shared by the tests (keyed by the source
    # files' paths, sizes and times, so a changed model is converted again).
    monkeypatch.setenv("LLAMAHOME_CACHE_HOME", str(MODEL_CACHE / "user-cache"))
    for name in list(os.environ):
        if name.startswith("LLAMAHOME_") and name not in (
                "LLAMAHOME_CONFIG_HOME", "LLAMAHOME_DATA_HOME", "LLAMAHOME_TEST_CACHE",
                "LLAMAHOME_CACHE_HOME"):
            monkeypatch.delenv(name)
    return home


@pytest.fixture
def config_dir(tmp_path) -> Path:
    """A private copy of the shipped default config folder."""
    target = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, target)
    return target


@pytest.fixture(scope="session")
def starter_model_dir() -> Path:
    """The real bundled starter model, converted once per machine."""
    from llamahome_gui.core.models.starter import import_starter

    return import_starter(MODEL_CACHE)


@pytest.fixture(scope="session")
def tiny_model_dir(starter_model_dir) -> Path:
    """A tiny random Llama (2 layers, hidden 64) with the starter model's tokenizer and chat
    template: real transformers / peft code paths in seconds."""
    folder = MODEL_CACHE / "tiny-llama"
    if (folder / "model.safetensors").is_file():
        return folder
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(starter_model_dir)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    tmp = folder.with_name(f".tiny-llama-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


@pytest.fixture(scope="session")
def tiny_ggufs(tmp_path_factory) -> dict[str, Path]:
    """A tiny llama (Q8_0) and a tiny qwen2 (F16) GGUF written by the tests themselves."""
    from tests.gguf_support import write_tiny_gguf

    folder = tmp_path_factory.mktemp("gguf")
    return {arch: write_tiny_gguf(folder / f"tiny-{arch}.gguf", arch, seed=i)
            for i, arch in enumerate(("llama", "qwen2"))}


# ------------------------------------------------------------------ leaving the test process
# After the last test, threads the tests left behind (a chat session's owner thread, the
# server's generation loop, the monitor's sampler: all daemon threads, some of them inside
# torch) can still be running while the interpreter tears itself down, and that teardown has
# ended the whole process with SIGSEGV after every test had passed (CI exit code 139). The
# session's result is final once pytest has printed it, so the process leaves with that code
# without running the interpreter's teardown.
_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    import sys
    import threading

    if not _EXIT_STATUS or os.environ.get("LLAMAHOME_TEST_NORMAL_EXIT") == "1":
        return
    alive = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if alive:
        print(f"\n(leaving with {len(alive)} background thread(s) still alive: "
              f"{', '.join(sorted(set(alive))[:8])})", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_EXIT_STATUS[0])
