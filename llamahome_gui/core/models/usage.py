"""What the user remembers and uses: the small state file of the models list (added paths,
hidden cache models, last use) and which models training runs use, read from each run's
``run.toml`` (the model it names) and ``core.runs`` (whether its trainer is alive)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from llamahome_gui import paths
from llamahome_gui.core.runs.folders import RUN_CONFIG

STATE_FILE = "models.json"


def state_path() -> Path:
    return paths.user_data_dir() / STATE_FILE


def load_state() -> dict[str, Any]:
    """``{"paths": [...], "hidden": [...], "last_used": {path: time}}`` (empty when unreadable:
    the list still shows the models folder and the cache)."""
    try:
        data = json.loads(state_path().read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    return {"paths": [str(p) for p in data.get("paths", []) if isinstance(p, str)],
            "hidden": [str(p) for p in data.get("hidden", []) if isinstance(p, str)],
            "last_used": {str(k): float(v) for k, v in dict(data.get("last_used", {})).items()
                          if isinstance(v, (int, float))}}


def update_state(change: Any) -> dict[str, Any]:
    """Read, change and atomically write the state under a file lock."""
    from filelock import FileLock

    from llamahome_gui.config.store import atomic_write

    target = state_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=30):
        state = load_state()
        change(state)
        atomic_write(target, json.dumps(state, indent=2) + "\n")
    return state


def path_key(path: str | Path) -> str:
    """One spelling per place on disk (the state file and the rows compare these)."""
    return str(Path(path).expanduser().resolve())


def mark_used(path: str | Path) -> None:
    """Remember that ``path`` was chosen for training or chat now."""
    update_state(lambda s: s["last_used"].__setitem__(path_key(path), time.time()))


def _run_model(run_dir: Path, models_dir: Path) -> Path | None:
    from llamahome_gui.core.models.starter import starter_dir
    from llamahome_gui.core.runs import read_run_config

    try:
        configured = read_run_config(run_dir)["model"].model.path  # type: ignore[attr-defined]
    except (OSError, ValueError):
        return None
    return Path(configured).expanduser() if configured.strip() else starter_dir(models_dir)


def _runs(runs_roots: list[Path] | None) -> list[Path]:
    roots = runs_roots if runs_roots is not None else [paths.runs_dir()]
    found = []
    for root in roots:
        if Path(root).is_dir():
            found.extend(p for p in Path(root).iterdir() if (p / RUN_CONFIG).is_file())
    return found


def runs_last_used(runs_roots: list[Path] | None = None) -> dict[str, float]:
    """Model path -> when a run on it last started (from run.toml and the folder's time)."""
    used: dict[str, float] = {}
    for run in _runs(runs_roots):
        model = _run_model(run, paths.models_dir())
        if model is not None:
            when = (run / RUN_CONFIG).stat().st_mtime
            used[path_key(model)] = max(when, used.get(path_key(model), 0.0))
    return used


def models_in_use(runs_roots: list[Path] | None = None,
                  models_dir: Path | None = None) -> dict[str, str]:
    """Model path -> name of a run whose trainer is alive right now."""
    from llamahome_gui.core.runs import run_info

    busy: dict[str, str] = {}
    for run in _runs(runs_roots):
        info = run_info(run)
        if info.status != "running":
            continue
        for model in (_run_model(run, Path(models_dir or paths.models_dir())),
                      Path(info.model) if info.model else None):
            if model is not None:
                busy[path_key(model)] = info.name
    return busy
