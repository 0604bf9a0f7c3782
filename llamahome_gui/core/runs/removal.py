"""Deleting run folders, and saying exactly what went: a run that is a symlink loses its link
(the folder it points to is not ours to delete), a folder that cannot be removed is named
with the reason, instead of a count of what was asked for."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Deletion:
    deleted: list[str] = field(default_factory=list)   # run folders removed
    unlinked: list[str] = field(default_factory=list)  # "name (its folder TARGET was kept)"
    failed: list[str] = field(default_factory=list)    # "name: reason"

    def summary(self) -> str:
        """One line for the status bar."""
        parts = []
        if self.deleted:
            n = len(self.deleted)
            parts.append(f"Deleted {n} run folder{'s' if n != 1 else ''}")
        if self.unlinked:
            parts.append("removed the link " + "; the link ".join(self.unlinked))
        if self.failed:
            parts.append("could not delete " + "; ".join(self.failed))
        return "; ".join(parts) or "Nothing deleted"


def delete_runs(paths: Iterable[Path]) -> Deletion:
    result = Deletion()
    for path in map(Path, paths):
        if path.is_symlink():
            target = os.readlink(path)
            try:
                path.unlink()
            except OSError as exc:
                result.failed.append(f"{path.name}: {exc.strerror or exc}")
                continue
            result.unlinked.append(f"{path.name} (its folder {target} was kept)")
            continue
        errors = _remove_tree(path)
        if path.exists():
            result.failed.append(f"{path.name}: {errors[0] if errors else 'still there'}")
        else:
            result.deleted.append(path.name)
    return result


def _remove_tree(path: Path) -> list[str]:
    """Remove what can be removed; the reasons for what could not."""
    errors: list[str] = []

    def note(_func: object, where: str, info: tuple) -> None:
        errors.append(f"{getattr(info[1], 'strerror', None) or info[1]} ({where})")

    shutil.rmtree(path, onerror=note)
    return errors
