"""Sizes and durations as people read them: one wording for the window and the CLI."""

from __future__ import annotations

from llamahome_gui.core.units import GIB, MIB, fmt_bytes, fmt_duration, fmt_gib


def test_bytes_are_binary_units() -> None:
    assert fmt_bytes(512) == "512 B"
    assert fmt_bytes(3 * MIB) == "3 MiB"
    assert fmt_bytes(int(1.5 * GIB)) == "1.50 GiB"
    assert fmt_bytes(None) == "?"
    assert fmt_gib(24 * GIB) == "24.0 GiB"


def test_durations_read_like_a_clock() -> None:
    assert [fmt_duration(s) for s in (0, 59.6, 245, 3723)] == ["0:00", "1:00", "4:05", "1:02:03"]
    assert fmt_duration(None) == fmt_duration(-1) == "–"

