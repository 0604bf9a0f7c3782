"""Downloads when the hub cannot be reached: one line, and the cache exactly as it was.
(The real hub is never contacted by the tests.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from llamahome_gui.core.models.hf_cache import DownloadError, download_model
from tests.hf_cache_support import add_to_hf_cache


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_offline_download_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub"
    with pytest.raises(DownloadError) as caught:
        download_model("acme/tiny-chat", cache=cache)
    message = str(caught.value)
    assert "\n" not in message and "HF_HUB_OFFLINE=1" in message and "acme/tiny-chat" in message
    assert not cache.exists()
    with pytest.raises(DownloadError, match="is not a model id; write it as org/name"):
        download_model("tiny-chat", cache=cache)


def test_offline_download_of_a_cached_model_gives_the_cached_snapshot(tmp_path, monkeypatch,
                                                                       tiny_model_dir):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub"
    snapshot = add_to_hf_cache(cache, "acme/tiny-chat", tiny_model_dir, "c" * 40)
    before = tree(cache)
    assert download_model("acme/tiny-chat", cache=cache) == snapshot
    assert download_model("acme/tiny-chat", revision="c" * 40, cache=cache) == snapshot
    with pytest.raises(DownloadError, match="switched off"):
        download_model("acme/tiny-chat", revision="v2", cache=cache)
    assert tree(cache) == before


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_hub_from_the_cli(tmp_path, tiny_model_dir):
    """What a user sees with no network: one line, exit 1, the cache untouched."""
    cache = tmp_path / "hub"
    add_to_hf_cache(cache, "acme/other", tiny_model_dir, "d" * 40)
    before = tree(cache)
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_HUB_CACHE": str(cache),
           "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}", "HF_HUB_ETAG_TIMEOUT": "5"}
    result = subprocess.run([sys.executable, "-m", "llamahome_gui", "models", "download",
                             "acme/tiny-chat", "--revision", "main"], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 1 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("llamahome")]
    assert errors == ["llamahome models download: cannot reach the Hugging Face hub to download "
                      "acme/tiny-chat; check the network (nothing was written)"]
    assert tree(cache) == before


def test_download_progress_counts_bytes_and_cancel_stops_it():
    """The bar class as snapshot_download creates its bars (huggingface_hub's own factory)."""
    import logging

    from huggingface_hub.utils.tqdm import _create_progress_bar

    from llamahome_gui.core.models.hf_cache import DownloadCancelled, progress_bar_class

    seen, stop = [], []
    cls = progress_bar_class(lambda *a: seen.append(a), lambda: bool(stop))
    written = _create_progress_bar(cls=cls, log_level=logging.INFO, total=0, initial=0,
                                   name="huggingface_hub.snapshot_download", unit="B")
    fetched = _create_progress_bar(cls=cls, log_level=logging.INFO, total=0, initial=0,
                                   name="huggingface_hub.snapshot_download.transfer", unit="B")
    written.total += 1000
    written.update(400)
    fetched.update(400)
    written.update(600)
    assert seen == [("Downloading", 400, 1000), ("Downloading", 1000, 1000)]
    stop.append(True)
    for bar in (written, fetched):
        with pytest.raises(DownloadCancelled):
            bar.update(1)
