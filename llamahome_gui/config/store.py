"""The TOML store: read a user's file, change only the edited keys, save atomically.

tomlkit keeps every comment, blank line and the layout of each value it does not touch;
this module adds what a desktop app needs around it: the exact bytes (BOM, CRLF) kept,
new lines written with the file's own line ending, the line of any key for error messages,
a per-file advisory lock (so two writers never lose each other's edit), an atomic save with
a ``.bak`` copy that writes through symlinks and keeps the file's mode and owner, and the
diff a save would make.
"""

from __future__ import annotations

import copy
import difflib
import glob
import os
import re
import stat
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import OutOfOrderTableProxy
from tomlkit.exceptions import ParseError
from tomlkit.items import AoT, Table

from llamahome_gui.config.errors import ConfigError, ConfigWriteError, TomlSyntaxError, display_path

_BOM = "\ufeff"
_SENTINEL = "__llamahome_locate_7f3a9c__"
_LINES = re.compile(r"(?<=\n)")
LOCK_TIMEOUT_S = 60.0
_LOCKS: dict[str, Any] = {}
_LOCKS_GUARD = threading.Lock()


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
    except Exception as exc:  # tomlkit raises a few plain errors (duplicate keys, ...)
        line = _duplicate_line(text, str(exc))
        raise TomlSyntaxError(path, line, 1 if line else None, str(exc)) from None


def _duplicate_line(text: str, message: str) -> int | None:
    """The line of the second definition of a key tomlkit calls "already exists"."""
    found = re.match(r'Key "(.+)" already exists', message)
    if not found:
        return None
    key = re.escape(found.group(1))
    assign = re.compile(rf"""^\s*(?:{key}|"{key}"|'{key}')\s*=""")
    seen: set[str] = set()
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            table = stripped
        elif assign.match(line):
            if table in seen:
                return number
            seen.add(table)
    return None


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


def real_path(path: Path | str) -> Path:
    """The file a save must replace: a symlinked config is written through its link."""
    return Path(os.path.realpath(path))


@contextmanager
def file_lock(path: Path | str) -> Iterator[None]:
    """Hold the advisory lock of one file (``.<name>.lock`` beside the real file).

    Every writer of the file takes it around read + change + write, so two saves (two
    processes, two threads, the window and the CLI) run one after the other and neither
    loses the other's edit. Reentrant within a thread.
    """
    from filelock import FileLock, Timeout

    target = real_path(path)
    lock_path = str(target.with_name(f".{target.name}.lock"))
    with _LOCKS_GUARD:
        lock = _LOCKS.get(lock_path)
        if lock is None:
            lock = _LOCKS[lock_path] = FileLock(lock_path, timeout=LOCK_TIMEOUT_S,
                                                fallback_to_soft=False,
                                                preserve_lock_file=True)
    try:
        lock.acquire()
    except Timeout:
        raise ConfigWriteError(f"{display_path(path)} is being saved by another program for "
                               f"over {LOCK_TIMEOUT_S:.0f} s; close it and try again") from None
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        yield
    finally:
        lock.release()


def atomic_write(path: Path, text: str | bytes, *, backup: bool = False) -> None:
    """Write beside the target, fsync, then ``os.replace``: readers (and a crash) see the
    old file or the new one, never a mix. With ``backup`` the old bytes go to ``<file>.bak``.

    A symlink stays a symlink (its target is replaced); the file keeps its mode and owner;
    a read-only file is refused rather than replaced (a rename only needs the folder)."""
    shown = Path(path)
    target = real_path(shown)
    data = text.encode("utf-8") if isinstance(text, str) else text
    with file_lock(target):
        try:
            st = target.stat()
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise _write_error(shown, exc) from None
        if st is not None and _read_only(target, st):
            raise ConfigWriteError(f"{display_path(shown)} is read-only; make it writable "
                                   f"(chmod u+w {display_path(shown)}) to save it")
        _remove_stale_temps(target)
        try:
            if st is not None and backup:
                _replace_with(target.with_name(target.name + ".bak"), target.read_bytes(), st)
            _replace_with(target, data, st)
        except OSError as exc:
            raise _write_error(shown, exc) from None


def _read_only(path: Path, st: os.stat_result) -> bool:
    """No write permission for us, or no write bit at all (root may write anything, but a
    0444 file says its owner wants it left alone)."""
    return not os.access(path, os.W_OK) or not st.st_mode & 0o222


def _write_error(path: Path | str, exc: OSError) -> ConfigWriteError:
    """An OS error of a save, naming the config file (never a hidden temp or lock file)."""
    folder = Path(path).parent
    reason = exc.strerror or str(exc)
    if isinstance(exc, PermissionError) or exc.errno in (13, 30):  # EACCES, EROFS
        return ConfigWriteError(f"cannot save {display_path(path)}: the folder "
                                f"{display_path(folder) if str(folder) != '.' else '.'} is not "
                                f"writable ({reason}); make it writable or use another "
                                "config folder")
    return ConfigWriteError(f"cannot save {display_path(path)}: {reason}")


def _replace_with(path: Path, data: bytes, like: os.stat_result | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(like.st_mode) if like is not None else 0o644)
        if like is not None and (like.st_uid, like.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(tmp, like.st_uid, like.st_gid)
            except OSError:  # not allowed to give it away: keep what we may
                pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def _remove_stale_temps(path: Path) -> None:
    """Temp files of killed saves of this file (and of its ``.bak``). Called under the
    file's lock, so no save of it is running: every temp left is stale."""
    for name in (path.name, path.name + ".bak"):
        for stale in path.parent.glob(f".{glob.escape(name)}.*.tmp"):
            try:
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
