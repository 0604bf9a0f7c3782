"""How sizes and durations are shown to a person, in one place for the window and the CLI.

Memory and file sizes are binary (KiB, MiB, GiB: what the OS, NVML and torch report);
durations read like a clock (``4:05``, ``1:02:03``).
"""

from __future__ import annotations

KIB, MIB, GIB, TIB = 2**10, 2**20, 2**30, 2**40
_UNITS = (("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB))


def fmt_bytes(n: float | None, digits: int = 2) -> str:
    """``1536`` -> ``1.50 KiB``; MiB and smaller without decimals; ``?`` when unknown."""
    if n is None:
        return "?"
    for unit, size in _UNITS:
        if abs(n) >= size:
            return f"{n / size:.{digits if size >= GIB else 0}f} {unit}"
    return f"{n:.0f} B"


def fmt_gib(n: float | None, digits: int = 1) -> str:
    """A figure in GiB with a fixed number of decimals (gauges that should not jump units)."""
    return "?" if n is None else f"{n / GIB:.{digits}f} GiB"


def fmt_duration(seconds: float | None) -> str:
    """``245`` -> ``4:05``, ``3723`` -> ``1:02:03``; ``–`` when unknown."""
    if seconds is None or seconds < 0:
        return "–"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
