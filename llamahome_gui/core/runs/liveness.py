"""Is that trainer still running? The one answer, safe against pid reuse.

A pid alone is not an identity: after a reboot or a long day another program gets the same
number. A process is identified by its pid *and* its start time (what psutil reports as
``create_time``); the trainer records both (in its start event and its run lock).
"""

from __future__ import annotations

import os

# psutil derives create_time from boot time + clock ticks: the same process reads back the
# same value to well under this.
_SAME_PROCESS_S = 1.0
# Records older than pid_created only know when the event was written (after the start).
_LATE_START_S = 5.0


def process_created(pid: int | None = None) -> float | None:
    """The start time (Unix seconds) of ``pid`` (default: this process), or None if gone."""
    import psutil

    try:
        return psutil.Process(os.getpid() if pid is None else pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


def is_alive(pid: int | None, created: float | None = None, *,
             started_before: float | None = None) -> bool:
    """Whether process ``pid`` runs (a zombie does not).

    ``created``: its recorded start time; a process with another start time is someone else
    reusing the number. ``started_before``: for old records that only hold the time of an
    event the process wrote, a process created clearly after it is someone else."""
    if not pid or pid <= 0:
        return False
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        born = proc.create_time()
    except (psutil.NoSuchProcess, ProcessLookupError):
        return False
    except psutil.AccessDenied:  # another user's process: it exists, its age is unknown
        return True
    if created is not None:
        return abs(born - created) < _SAME_PROCESS_S
    if started_before is not None:
        return born <= started_before + _LATE_START_S
    return True
