"""The TOML store: read a user's file, change only the edited keys, save atomically.

tomlkit keeps every comment, blank line and the layout of each value it does not touch;
this module adds what a desktop app needs around it: the exact bytes (BOM, CRLF) kept,
new lines written with the file's own line ending, the line of any key for error messages,
an atomic save with a ``.bak`` copy, and the diff a save would make.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import OutOfOrderTableProxy
from tomlkit.exceptions import ParseError
from tomlkit.items import AoT, Table

from llamahome_gui.config.errors import ConfigError, TomlSyntaxError

_BOM = "\ufeff"
_SENTINEL = "__llamahome_locate_7f3a9c__"
_LINES = re.compile(r"(?<=\n)")


@dataclass
class TomlText:
    """A config file as read: its text (without BOM) and whether it existed."""

    path: Path
    text: str
    exists: bool
    bom: bool = False

    def parse(self) -> tomlkit.TOMLDocument:
        return parse(self.text, self.path)

    def render(self, doc: tomlkit.TOMLDocument) -> str:
        """The document as text, with changed lines in this file's line ending."""
        return match_newlines(self.text, doc.as_string())

    def encode(self, text: str) -> bytes:
        return ((_BOM if self.bom else "") + text).encode("utf-8")


def read_text(path: Path) -> TomlText:
    """Read without newline translation, so CRLF survives a round trip."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return TomlText(path, "", exists=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise TomlSyntaxError(path, line, column, "not UTF-8 text; save the file as UTF-8") from None
    bom = text.startswith(_BOM)
    return TomlText(path, text[1:] if bom else text, exists=True, bom=bom)


_PARSED: OrderedDict[str, tomlkit.TOMLDocument] = OrderedDict()
_PARSED_MAX = 32
_PARSED_LOCK = threading.Lock()


def parse(text: str, path: Path | str = "<text>") -> tomlkit.TOMLDocument:
    """Parse, turning tomlkit's error into one with file, line and column.

    Each text (each version of a file) is parsed once; callers get their own copy to edit
    (a deep copy costs about a quarter of a parse, and a start reads each file many times)."""
    with _PARSED_LOCK:
        cached = _PARSED.get(text)
        if cached is not None:
            _PARSED.move_to_end(text)
    if cached is None:
        cached = _parse(text, path)
        with _PARSED_LOCK:
            _PARSED[text] = cached
            while len(_PARSED) > _PARSED_MAX:
                _PARSED.popitem(last=False)
    return copy.deepcopy(cached)


def _parse(text: str, path: Path | str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        reason = re.sub(r"\s+at line \d+ col \d+$", "", str(exc))
        # tomlkit counts columns from 0; editors (and our messages) count from 1
        raise TomlSyntaxError(path, exc.line, exc.col + 1, reason) from None
    except Exception as exc:  # tomlkit raises a few plain errors (duplicate tables, ...)
        raise TomlSyntaxError(path, None, None, str(exc)) from None


def locate(text: str, parts: Sequence[str]) -> tuple[int, int] | None:
    """Line and column (1-based) where the value at ``parts`` is written, or None.

    Renders a copy of the document with that one value swapped for a marker: tomlkit keeps
    everything before it byte for byte, so the marker's offset is the value's offset. This
    works for dotted keys, inline tables and out-of-order tables alike.
    """
    try:
        doc = parse(text)
    except ConfigError:
        return None
    node: Any = doc
    for part in parts[:-1]:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    last = parts[-1] if parts else None
    if last is None or not isinstance(node, Mapping) or last not in node:
        return None
    if isinstance(node[last], Table | AoT | OutOfOrderTableProxy):
        return _header_line(text, [*parts])
    node[last] = _SENTINEL
    rendered = doc.as_string()
    pos = rendered.find(f'"{_SENTINEL}"')
    if pos < 0:
        return None
    line = rendered.count("\n", 0, pos) + 1
    return line, pos - (rendered.rfind("\n", 0, pos) + 1) + 1


def _header_line(text: str, parts: list[str]) -> tuple[int, int] | None:
    name = r"\s*\.\s*".join(f"(?:{re.escape(p)}|{re.escape(chr(34) + p + chr(34))})"
                             for p in parts)
    pattern = re.compile(rf"^\s*\[\[?\s*(?:{name})\s*\]\]?")
    for number, line in enumerate(text.split("\n"), 1):
        if pattern.match(line):
            return number, line.index("[") + 1
    return None


def match_newlines(old: str, new: str) -> str:
    """``new`` with every line that is not in ``old`` given ``old``'s line ending.

    tomlkit writes ``\\n`` after keys and tables it adds; in a CRLF file those lines must
    end in ``\\r\\n`` like the rest, while untouched lines keep their bytes.
    """
    crlf = old.count("\r\n")
    if not crlf or crlf * 2 < old.count("\n"):
        return new
    old_lines, new_lines = _LINES.split(old), _LINES.split(new)
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        for line in new_lines[j1:j2]:
            if tag != "equal" and line.endswith("\n") and not line.endswith("\r\n"):
                line = line[:-1] + "\r\n"
            out.append(line)
    return "".join(out)


def set_value(doc: tomlkit.TOMLDocument, parts: Sequence[str], value: Any) -> None:
    """Assign one value in place; an existing item keeps its indent and trailing comment."""
    node: Any = doc
    for part in parts[:-1]:
        if part not in node:
            node[part] = tomlkit.table()
        node = node[part]
        if not isinstance(node, Mapping):
            raise ConfigError(f"cannot set {'.'.join(parts)}: {part} is not a table in the file")
    node[parts[-1]] = value


def get_value(data: Any, parts: Sequence[str], default: Any = None) -> Any:
    """The plain value at ``parts`` of a nested mapping, or ``default``."""
    for part in parts:
        if not isinstance(data, Mapping) or part not in data:
            return default
        data = data[part]
    return data


def unified_diff(old: str, new: str, name: str) -> str:
    """The change as unified diff text (empty when nothing changes)."""
    if old == new:
        return ""
    return "".join(difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"a/{name}", tofile=f"b/{name}"))


def atomic_write(path: Path, text: str | bytes, *, backup: bool = False) -> None:
    """Write beside the target, fsync, then ``os.replace``: readers (and a crash) see the
    old file or the new one, never a mix. With ``backup`` the old bytes go to ``<file>.bak``."""
    path = Path(path)
    data = text.encode("utf-8") if isinstance(text, str) else text
    mode = None
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if backup:
            _replace_with(path.with_name(path.name + ".bak"), path.read_bytes(), mode)
    _replace_with(path, data, mode)


def _replace_with(path: Path, data: bytes, mode: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode if mode is not None else 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)
    _remove_stale_temps(path)


def _remove_stale_temps(path: Path, age_s: float = 600.0) -> None:
    """Temp files of saves killed long ago (a save takes milliseconds, never minutes)."""
    now = time.time()
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if now - stale.stat().st_mtime > age_s:
                stale.unlink()
        except OSError:
            pass


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
