"""Can this run be resumed with these settings? Asked before anything in the folder changes.

A resume continues the newest checkpoint's adapter: its rank, target layers and biases fix
the shapes of the weights, and its base model fixes what they mean. A resume whose config
changes any of them would fail deep inside loading (after rewriting ``run.toml``) or, worse,
train something else under the old name; it is refused here, naming every key that differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llamahome_gui.core.runs.folders import RUN_CONFIG, read_run_config
from llamahome_gui.core.runs.history import latest_checkpoint
from llamahome_gui.core.train.checkpoint import checkpoint_bytes, ensure_space, verify_checkpoint
from llamahome_gui.core.train.errors import TrainingError
from llamahome_gui.core.train.lora import ALL_LINEAR


class ResumeMismatchError(TrainingError):
    """The resumed config does not fit the checkpoint (a usage error: exit code 2)."""


# key path -> how to read it from the validated configs
_SHAPE_KEYS = {
    "model.model.path": lambda c: c["model"].model.path,
    "training.lora.r": lambda c: c["training"].lora.r,
    "training.lora.target_modules": lambda c: sorted(c["training"].lora.target_modules),
    "training.lora.bias": lambda c: c["training"].lora.bias,
}


def _from_adapter(adapter: dict[str, Any]) -> dict[str, Any]:
    """What the checkpoint's own adapter_config.json says (the truth even when run.toml was
    overwritten by an older version of this app)."""
    out: dict[str, Any] = {}
    if isinstance(adapter.get("r"), int):
        out["training.lora.r"] = adapter["r"]
    if isinstance(adapter.get("bias"), str):
        out["training.lora.bias"] = adapter["bias"]
    targets = adapter.get("target_modules")
    if isinstance(targets, list):
        # peft writes "all-linear" as the full paths of the layers it found, a list as given
        full_paths = any("." in str(t) for t in targets)
        out["training.lora.target_modules"] = [ALL_LINEAR] if full_paths else sorted(targets)
    return out


def check_resume(run_dir: Path, configs: dict[str, Any]) -> Path | None:
    """The checkpoint a resume of ``run_dir`` with ``configs`` continues (None: there is
    none yet, the run starts over). Raises :class:`ResumeMismatchError` naming the keys that
    differ, or ``TrainingError`` for a damaged checkpoint or a disk that cannot hold the
    next one. Reads only."""
    run_dir = Path(run_dir)
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        return None
    adapter = verify_checkpoint(ckpt)
    recorded: dict[str, Any] = {}
    if (run_dir / RUN_CONFIG).is_file():
        before = read_run_config(run_dir)
        recorded = {key: read(before) for key, read in _SHAPE_KEYS.items()}
    recorded.update(_from_adapter(adapter))
    wanted = {key: read(configs) for key, read in _SHAPE_KEYS.items()}
    differ = [f"{key} is {recorded[key]!r} there, {wanted[key]!r} now"
              for key in _SHAPE_KEYS if key in recorded and recorded[key] != wanted[key]]
    if differ:
        raise ResumeMismatchError(
            f"cannot resume {run_dir} from {ckpt.name}: " + "; ".join(differ),
            hint="resume without changing these settings, or start a new run with them")
    ensure_space(run_dir, checkpoint_bytes(run_dir))
    return ckpt
