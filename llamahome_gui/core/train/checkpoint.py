"""Checkpoints: everything needed to continue a run at the same step with the same losses.

``checkpoints/step-NNNNNN/`` holds ``adapter/`` (a plain PEFT folder), ``optimizer.pt``,
``scheduler.pt``, ``rng.pt`` (tensors only; read back with ``weights_only=True``, never
arbitrary pickle) and ``trainer_state.json`` (step, data position, early-stopping state,
Python RNG). A checkpoint is written to a hidden folder and renamed into place, so a crash
mid-write never leaves a half checkpoint that ``latest_checkpoint`` would pick.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

from llamahome_gui.core.runs.history import CHECKPOINT_PREFIX, CHECKPOINT_STATE, list_checkpoints

KEEP_CHECKPOINTS = 3


def save_checkpoint(run_dir: Path, model: Any, optimizer: Any, scheduler: Any,
                    state: dict[str, Any], scaler: Any = None) -> Path:
    import torch

    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    name = f"{CHECKPOINT_PREFIX}{int(state['step']):06d}"
    final = root / name
    tmp = root / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save_pretrained(tmp / "adapter", safe_serialization=True)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    if scaler is not None:
        torch.save(scaler.state_dict(), tmp / "scaler.pt")
    torch.save(rng, tmp / "rng.pt")
    py_state = random.getstate()
    payload = {**state, "python_rng": [py_state[0], list(py_state[1]), py_state[2]]}
    (tmp / CHECKPOINT_STATE).write_text(json.dumps(payload, indent=1), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in list_checkpoints(run_dir)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(folder: Path, model: Any, optimizer: Any, scheduler: Any,
                    scaler: Any = None) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and RNG; returns the trainer state."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = load_file(str(folder / "adapter" / "adapter_model.safetensors"))
    set_peft_model_state_dict(model, weights)
    device = next(p.device for p in model.parameters() if p.requires_grad)
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location=device,
                                         weights_only=True))
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
    if scaler is not None and (folder / "scaler.pt").is_file():
        scaler.load_state_dict(torch.load(folder / "scaler.pt", weights_only=True))
    rng = torch.load(folder / "rng.pt", weights_only=True)
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(rng["cuda"]))
    state = json.loads((folder / CHECKPOINT_STATE).read_text(encoding="utf-8"))
    version, internal, gauss = state.pop("python_rng")
    random.setstate((version, tuple(internal), gauss))
    return state
