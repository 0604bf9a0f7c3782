"""A run's own name and note: what the user calls a run and why they made it.

Kept in ``meta.json`` beside the events, not in ``run.toml`` (that file is the exact config
the trainer ran with; renaming a run must not change it or show up in a config diff). The
Runs page edits these through :func:`write_meta`; ``history.run_info`` reads them back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from llamahome_gui.config.store import atomic_write

RUN_META = "meta.json"
MAX_NAME = 80


@dataclass(frozen=True)
class RunMeta:
    name: str = ""  # "" = the folder's name without its time stamp
    note: str = ""


def read_meta(run_dir: Path | str) -> RunMeta:
    """The run's name and note; empty when none were given or the file is unreadable."""
    try:
        data = json.loads((Path(run_dir) / RUN_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return RunMeta()
    if not isinstance(data, dict):
        return RunMeta()
    return RunMeta(name=str(data.get("name") or ""), note=str(data.get("note") or ""))


def write_meta(run_dir: Path | str, *, name: str | None = None,
               note: str | None = None) -> RunMeta:
    """Change the name and/or the note (None keeps it); an atomic write. Raises OSError
    when the folder cannot be written, ValueError for a name on several lines."""
    folder = Path(run_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a run folder (it does not exist)")
    current = read_meta(folder)
    if name is not None:
        name = " ".join(name.split())
        if len(name) > MAX_NAME:
            raise ValueError(f"run name too long ({len(name)} characters; at most {MAX_NAME})")
    meta = RunMeta(name=current.name if name is None else name,
                   note=current.note if note is None else note.strip())
    atomic_write(folder / RUN_META, json.dumps(asdict(meta), indent=2, ensure_ascii=False) + "\n")
    return meta


def default_name(folder_name: str) -> str:
    """``20261201-101500-SmolLM2-sample`` -> ``SmolLM2-sample`` (the stamp is its own column)."""
    parts = folder_name.split("-", 2)
    if len(parts) == 3 and parts[0].isdigit() and len(parts[0]) == 8 and parts[1].isdigit():
        return parts[2] or folder_name
    return folder_name
