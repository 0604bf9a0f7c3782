"""Run folders: where a run lives and the config snapshot it was started with.

``<output_dir>/<yyyymmdd-hhmmss>-<name>/`` holds ``run.toml`` (the effective config of every
component the run used), ``events.jsonl``, ``metrics.csv``, ``tensorboard/``, ``checkpoints/``
and ``adapter/`` (and ``trainer.lock`` while a trainer owns it). The run plan
(``core.runs.plan``) writes the snapshot with :func:`write_run_config`; the window then starts
``python -m llamahome_gui train --run-dir DIR``, whose trainer reads it back with
:func:`read_run_config`, so what the user saw is exactly what runs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path

import tomlkit

from llamahome_gui import paths
from llamahome_gui.config.manager import atomic_write
from llamahome_gui.config.schema import COMPONENTS, Component

RUN_CONFIG = "run.toml"
METRICS_FILE = "metrics.csv"
CHECKPOINTS_DIR = "checkpoints"
ADAPTER_DIR = "adapter"
TENSORBOARD_DIR = "tensorboard"
# Components a training run depends on (inference: the chat system prompt, which training
# must render the same way); all of them go into run.toml.
RUN_COMPONENTS = ("model", "training", "inference", "resource", "monitoring")


def slug(text: str) -> str:
    """A file-name-safe form of a model or dataset name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:60] or "run"


def runs_root(output_dir: str | Path | None) -> Path:
    """``training.training.output_dir``, or the user's runs folder when it is empty."""
    if output_dir is None or not str(output_dir).strip():
        return paths.runs_dir()
    return Path(output_dir).expanduser()


def new_run_dir(output_dir: str | Path | None, name: str, now: float | None = None) -> Path:
    """Create and return a fresh ``<yyyymmdd-hhmmss>-<name>`` folder (suffixed if taken)."""
    root = runs_root(output_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = f"{stamp}-{slug(name)}"
    for n in range(1000):
        folder = root / (base if n == 0 else f"{base}-{n}")
        try:
            folder.mkdir(parents=True, exist_ok=False)
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a new run folder under {root}")


def write_run_config(run_dir: Path, configs: Mapping[str, Component]) -> Path:
    """Snapshot ``{component: validated model}`` into ``run_dir/run.toml``."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("LlamaHome run: the effective configuration this run was started with."))
    for name, model in configs.items():
        data = model.model_dump(mode="json")
        table = tomlkit.table()
        for key, value in data.items():
            table[key] = value
        doc[name] = table
    run_dir.mkdir(parents=True, exist_ok=True)
    target = run_dir / RUN_CONFIG
    atomic_write(target, tomlkit.dumps(doc))
    return target


def read_run_config(run_dir: Path) -> dict[str, Component]:
    """The validated components stored in ``run_dir/run.toml`` (schema defaults fill gaps)."""
    source = Path(run_dir) / RUN_CONFIG
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist: {run_dir} is not a run folder")
    try:
        data = tomlkit.parse(source.read_text(encoding="utf-8")).unwrap()
    except Exception as exc:  # tomlkit raises several parse error types
        raise ValueError(f"{source}: not valid TOML: {exc}") from exc
    out: dict[str, Component] = {}
    for name in RUN_COMPONENTS:
        out[name] = COMPONENTS[name].model_validate(data.get(name, {}))
    return out
