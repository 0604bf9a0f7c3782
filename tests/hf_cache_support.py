"""A Hugging Face cache folder laid out as ``huggingface_hub`` writes it (blobs named by hash,
snapshot files linking to them, ``refs/main`` naming the commit), filled from a model folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def add_to_hf_cache(cache: Path, repo_id: str, model_dir: Path, commit: str = "0" * 40,
                    *, ref: str | None = "main") -> Path:
    """Put ``model_dir``'s files in ``cache`` as snapshot ``commit`` of ``repo_id``."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for source in sorted(model_dir.iterdir()):
        if not source.is_file():
            continue
        data = source.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / source.name)
    if ref:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return snapshot
