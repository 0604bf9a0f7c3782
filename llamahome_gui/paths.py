"""Where things live: the shipped files of the checkout and the user's folders."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

_APP = "llamahome-gui"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG_DIR = PROJECT_ROOT / "config"
RESOURCES_DIR = PROJECT_ROOT / "resources"
SAMPLE_DATASET = RESOURCES_DIR / "sample_dataset.jsonl"


def user_config_dir() -> Path:
    return Path(os.environ.get("LLAMAHOME_CONFIG_HOME") or platformdirs.user_config_dir(_APP))


def user_data_dir() -> Path:
    """Models, runs and chat history. ``LLAMAHOME_DATA_HOME`` moves it (tests do)."""
    return Path(os.environ.get("LLAMAHOME_DATA_HOME") or platformdirs.user_data_dir(_APP))


def user_cache_dir() -> Path:
    """What can be made again (GGUF copies for the llama.cpp chat engine).
    ``LLAMAHOME_CACHE_HOME`` moves it."""
    return Path(os.environ.get("LLAMAHOME_CACHE_HOME") or platformdirs.user_cache_dir(_APP))


def models_dir() -> Path:
    return user_data_dir() / "models"


def runs_dir() -> Path:
    return user_data_dir() / "runs"


def chat_history_dir() -> Path:
    return user_data_dir() / "chats"
