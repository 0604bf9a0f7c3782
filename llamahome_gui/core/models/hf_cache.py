"""The Hugging Face cache, read-only, and downloads into it.

Layout (as ``huggingface_hub`` writes it): ``<cache>/models--<org>--<name>/`` with ``blobs/``
(the files, named by hash), ``refs/<branch>`` (the commit a branch points to) and
``snapshots/<commit>/`` (links to the blobs, laid out like the repository).

Downloads use ``huggingface_hub.snapshot_download`` with safetensors, JSON and tokenizer files
only (pickled ``.bin`` weights are never fetched). When the hub cannot be reached the error is
one line and the cache is left as it was; a cancelled or broken download keeps its completed
and partial blobs (the next download of the same repository resumes from them) but no
half-filled snapshot folder, so the models list never shows a half model.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ALLOW_PATTERNS = ["*.safetensors", "*.json", "tokenizer.model", "*.jinja", "*.tiktoken",
                  "merges.txt", "vocab.txt"]
IGNORE_PATTERNS = ["*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt", "*.h5", "*.msgpack",
                   "*.onnx", "*.gguf"]

Progress = Callable[[str, int, int], None]


class DownloadError(RuntimeError):
    """The download did not happen or did not finish; one line saying why."""


class DownloadCancelled(Exception):
    """The user cancelled; the partial files stay for a later resume."""


@dataclass
class CacheSnapshot:
    repo_id: str
    revision: str
    folder: Path


def hf_cache_dir() -> Path:
    """Where ``huggingface_hub`` keeps models, read from the environment at call time
    (``HF_HUB_CACHE``, else ``HF_HOME``/hub, else ``$XDG_CACHE_HOME``/huggingface/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def repo_folder(repo_id: str, cache: Path | None = None) -> Path:
    return (cache or hf_cache_dir()) / ("models--" + repo_id.replace("/", "--"))


def cache_snapshots(cache: Path | None = None) -> list[CacheSnapshot]:
    """One snapshot per cached model repository: the one ``refs/main`` names, else the newest."""
    root = Path(cache) if cache is not None else hf_cache_dir()
    if not root.is_dir():
        return []
    found = []
    for repo in sorted(root.glob("models--*")):
        snapshots = repo / "snapshots"
        if not snapshots.is_dir():
            continue
        candidates = [p for p in snapshots.iterdir() if p.is_dir()]
        if not candidates:
            continue
        main = repo / "refs" / "main"
        commit = main.read_text().strip() if main.is_file() else ""
        chosen = snapshots / commit if commit and (snapshots / commit).is_dir() else \
            max(candidates, key=lambda p: p.stat().st_mtime)
        repo_id = repo.name.removeprefix("models--").replace("--", "/", 1)
        found.append(CacheSnapshot(repo_id, chosen.name, chosen))
    return found


def cached_snapshot(repo_id: str, revision: str, cache: Path | None = None) -> Path | None:
    """The complete cached snapshot of ``repo_id`` at ``revision`` (a branch, tag or commit)."""
    repo = repo_folder(repo_id, cache)
    ref = repo / "refs" / revision
    commit = ref.read_text().strip() if ref.is_file() else revision
    folder = repo / "snapshots" / commit
    if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
        return folder
    return None


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def progress_bar_class(progress: Progress | None, cancel: Callable[[], bool] | None) -> type:
    """A silent progress bar for ``snapshot_download``: reports the bytes written (its
    ``huggingface_hub.snapshot_download`` bar) and makes every update of any bar a cancel point
    (the exception stops each download thread at its next chunk)."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    class _Bar(hf_tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            self.bar_name = kwargs.get("name") or ""
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self.done = 0

        def update(self, n: float | None = 1) -> bool | None:
            if cancel and cancel():
                raise DownloadCancelled
            self.done += int(n or 0)
            if progress and self.bar_name == "huggingface_hub.snapshot_download":
                progress("Downloading", self.done, int(self.total or 0))
            return None

    return _Bar


def download_model(repo_id: str, *, revision: str = "main", cache: Path | None = None,
                   progress: Progress | None = None,
                   cancel: Callable[[], bool] | None = None) -> Path:
    """Download a model's safetensors, config and tokenizer into the cache; returns the
    snapshot folder. Raises :class:`DownloadError` or :class:`DownloadCancelled`."""
    repo_id = repo_id.strip()
    if repo_id.count("/") != 1 or any(not part for part in repo_id.split("/")):
        raise DownloadError(f"{repo_id!r} is not a model id; write it as org/name")
    if hub_offline():
        cached = cached_snapshot(repo_id, revision, cache)
        if cached is not None:
            return cached
        raise DownloadError(f"cannot download {repo_id}: the Hugging Face hub is switched off "
                            "here (HF_HUB_OFFLINE=1); unset it when online, or add a local folder")
    from huggingface_hub import errors as hf_errors
    from huggingface_hub import snapshot_download

    cache = Path(cache) if cache is not None else hf_cache_dir()
    repo_dir = repo_folder(repo_id, cache)
    existed = repo_dir.exists()
    before = {p.name for p in (repo_dir / "snapshots").iterdir()} if existed and \
        (repo_dir / "snapshots").is_dir() else set()
    if progress:
        progress(f"Asking the hub for {repo_id}@{revision}", 0, 0)
    try:
        folder = snapshot_download(
            repo_id, revision=revision, cache_dir=cache, allow_patterns=ALLOW_PATTERNS,
            ignore_patterns=IGNORE_PATTERNS, tqdm_class=progress_bar_class(progress, cancel),
            max_workers=4)
    except DownloadCancelled:
        _drop_partial_snapshots(repo_dir, existed, before)
        raise
    except (hf_errors.RepositoryNotFoundError, hf_errors.GatedRepoError) as exc:
        _drop_partial_snapshots(repo_dir, existed, before)
        raise DownloadError(f"{repo_id}: no such model on the hub, or it needs a login "
                            f"({type(exc).__name__})") from None
    except hf_errors.RevisionNotFoundError:
        _drop_partial_snapshots(repo_dir, existed, before)
        raise DownloadError(f"{repo_id} has no revision {revision!r}") from None
    except Exception as exc:  # connection refused, DNS, timeout, offline fallback miss
        _drop_partial_snapshots(repo_dir, existed, before)
        if isinstance(exc, (hf_errors.LocalEntryNotFoundError, OSError)) or \
                "connect" in type(exc).__name__.lower():
            raise DownloadError(f"cannot reach the Hugging Face hub to download {repo_id}; "
                                "check the network (nothing was written)") from None
        raise DownloadError(f"{repo_id}: download failed ({type(exc).__name__}: {exc})") from None
    folder = Path(folder)
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        raise DownloadError(f"{repo_id}@{revision} has no config.json and safetensors weights; "
                            "only safetensors models are downloaded")
    return folder


def _drop_partial_snapshots(repo_dir: Path, existed: bool, before: set[str]) -> None:
    """Undo what a failed download made visible; blobs (and ``.incomplete`` parts) stay only
    when something was fetched, so the next try resumes."""
    if not repo_dir.exists():
        return
    blobs = repo_dir / "blobs"
    has_data = blobs.is_dir() and any(blobs.iterdir())
    if not existed and not has_data:
        shutil.rmtree(repo_dir, ignore_errors=True)
        return
    snapshots = repo_dir / "snapshots"
    if snapshots.is_dir():
        for snap in snapshots.iterdir():
            if snap.name not in before:
                shutil.rmtree(snap, ignore_errors=True)
