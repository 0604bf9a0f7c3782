"""Checkpoints: everything needed to continue a run at the same step with the same losses.

``checkpoints/step-NNNNNN/`` holds ``adapter/`` (a plain PEFT folder), ``optimizer.pt``,
``scheduler.pt``, ``rng.pt`` (tensors only; read back with ``weights_only=True``, never
arbitrary pickle) and ``trainer_state.json`` (step, data position, early-stopping state,
Python RNG). A checkpoint is written to a hidden folder and renamed into place, so a crash
mid-write never leaves a half checkpoint that ``latest_checkpoint`` would pick.
"""

from __future__ import annotations

import errno
import json
import random
import shutil
from pathlib import Path
from typing import Any

from llamahome_gui.core.runs.folders import CHECKPOINTS_DIR
from llamahome_gui.core.runs.history import CHECKPOINT_PREFIX, CHECKPOINT_STATE, list_checkpoints
from llamahome_gui.core.train.errors import TrainingError

KEEP_CHECKPOINTS = 3
TENSOR_FILES = ("optimizer.pt", "scheduler.pt", "rng.pt", "scaler.pt")
_MB = 1024 * 1024


def _mb(n: float) -> str:
    return f"{n / _MB:.1f} MB" if n < 10 * _MB else f"{n / _MB:.0f} MB"


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def checkpoint_bytes(run_dir: Path, model: Any = None) -> int:
    """About how much one checkpoint of this run takes: the last one's size, else the
    trainable weights (as saved) plus two fp32 Adam moments per weight."""
    done = list_checkpoints(run_dir)
    if done:
        return folder_bytes(done[-1])
    if model is None:
        return 0
    params = [p for p in model.parameters() if p.requires_grad]
    return sum(p.numel() * (p.element_size() + 8) for p in params) + 64 * 1024


def no_space_error(run_dir: Path, needed: int) -> TrainingError:
    free = shutil.disk_usage(run_dir if run_dir.exists() else run_dir.parent).free
    return TrainingError(
        f"no space left on {run_dir}: {_mb(free)} free, a checkpoint needs about {_mb(needed)}",
        hint="free some space there, or set training.training.output_dir to a folder on a "
        "larger disk; the earlier checkpoints are kept")


def ensure_space(run_dir: Path, needed: int) -> None:
    """Refuse before writing when the disk cannot hold one more checkpoint."""
    if needed and shutil.disk_usage(run_dir).free < needed:
        raise no_space_error(run_dir, needed)


def _disk_full(exc: BaseException, run_dir: Path, needed: int) -> bool:
    """torch reports a full disk as "enforce fail at inline_container.cc" or "file write
    failed", safetensors as its own error: ask the disk instead of parsing messages."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return shutil.disk_usage(run_dir).free < max(needed, _MB)


def save_checkpoint(run_dir: Path, model: Any, optimizer: Any, scheduler: Any,
                    state: dict[str, Any], scaler: Any = None,
                    rank_rng: list[Any] | None = None) -> Path:
    """Write ``checkpoints/step-NNNNNN`` whole, or nothing: a failed write (a full disk)
    removes its partial folder, keeps the earlier checkpoints and says how much is missing.
    ``rank_rng``: each rank's CPU RNG state in a several-process run (rank 0 writes them all,
    so every rank resumes with its own dropout masks)."""
    root = run_dir / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".{CHECKPOINT_PREFIX}*.tmp"):  # left by a killed save
        shutil.rmtree(stale, ignore_errors=True)
    if list_checkpoints(run_dir):  # the last one's size is exact: refuse before writing
        ensure_space(run_dir, checkpoint_bytes(run_dir))
    needed = checkpoint_bytes(run_dir, model)
    name = f"{CHECKPOINT_PREFIX}{int(state['step']):06d}"
    tmp = root / f".{name}.tmp"
    try:
        _write(tmp, model, optimizer, scheduler, state, scaler, rank_rng)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if _disk_full(exc, run_dir, needed):
            raise no_space_error(run_dir, needed) from exc
        raise
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in list_checkpoints(run_dir)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _write(tmp: Path, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any],
           scaler: Any, rank_rng: list[Any] | None = None) -> None:
    import torch

    tmp.mkdir()
    model.save_pretrained(tmp / "adapter", safe_serialization=True)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    if rank_rng and len(rank_rng) > 1:
        rng["cpu_ranks"] = torch.stack(list(rank_rng))
    if scaler is not None:
        torch.save(scaler.state_dict(), tmp / "scaler.pt")
    torch.save(rng, tmp / "rng.pt")
    py_state = random.getstate()
    payload = {**state, "python_rng": [py_state[0], list(py_state[1]), py_state[2]]}
    (tmp / CHECKPOINT_STATE).write_text(json.dumps(payload, indent=1), encoding="utf-8")


def _load_tensors(path: Path, **kwargs: Any) -> Any:
    """``torch.load`` of tensors only: anything else (pickled code) is refused in one line."""
    import pickle

    import torch

    try:
        return torch.load(path, weights_only=True, **kwargs)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, pickle.UnpicklingError):
            reason = "it holds more than tensors (refused: loading it could run code)"
        raise TrainingError(f"{path} is not a valid checkpoint: {reason}",
                            hint="resume from an earlier checkpoint (delete this step's folder) "
                            "or start a new run") from None


def verify_checkpoint(folder: Path) -> dict[str, Any]:
    """Read every file of a checkpoint the way resuming will (tensors only), before anything
    in the run folder changes; returns its adapter_config.json."""
    for name in TENSOR_FILES:
        if (folder / name).is_file():
            _load_tensors(folder / name, map_location="cpu")
    try:
        json.loads((folder / CHECKPOINT_STATE).read_text(encoding="utf-8"))
        config = json.loads((folder / "adapter" / "adapter_config.json").read_text(encoding="utf-8"))
        if not (folder / "adapter" / "adapter_model.safetensors").is_file():
            raise FileNotFoundError("adapter/adapter_model.safetensors is missing")
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{folder} is not a valid checkpoint: {exc}",
                            hint="resume from an earlier checkpoint (delete this step's folder) "
                            "or start a new run") from None
    return config


def load_checkpoint(folder: Path, model: Any, optimizer: Any, scheduler: Any,
                    scaler: Any = None, rank: int = 0) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and RNG (``rank``'s own CPU RNG when the
    checkpoint holds one per rank); returns the trainer state."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = load_file(str(folder / "adapter" / "adapter_model.safetensors"))
    set_peft_model_state_dict(model, weights)
    device = next(p.device for p in model.parameters() if p.requires_grad)
    optimizer.load_state_dict(_load_tensors(folder / "optimizer.pt", map_location=device))
    scheduler.load_state_dict(_load_tensors(folder / "scheduler.pt"))
    if scaler is not None and (folder / "scaler.pt").is_file():
        scaler.load_state_dict(_load_tensors(folder / "scaler.pt"))
    rng = _load_tensors(folder / "rng.pt")
    ranks = rng.get("cpu_ranks")
    # a row of the stack is a view; set_rng_state needs a tensor of its own (a view crashes)
    torch.set_rng_state(ranks[rank].clone() if ranks is not None and rank < len(ranks)
                        else rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.clone() for state in rng["cuda"]])
    state = json.loads((folder / CHECKPOINT_STATE).read_text(encoding="utf-8"))
    version, internal, gauss = state.pop("python_rng")
    random.setstate((version, tuple(internal), gauss))
    return state
