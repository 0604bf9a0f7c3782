"""One trainer per run folder.

The trainer holds ``trainer.lock`` in its run folder for its whole life: an advisory lock
(``flock``, released by the kernel when the process ends, however it ends) on a file that
names the holder by pid and process start time. Another trainer, from the CLI or the window,
is refused at once with "RUN is being trained by process N". Readers that do not lock (the
Runs page, the window before it starts a trainer) ask :func:`lock_holder`, which checks the
named process with the pid-reuse-safe liveness check; so does the trainer where the file
system ignores ``flock``.
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass
from pathlib import Path

from llamahome_gui.core.runs.liveness import is_alive, process_created

LOCK_FILE = "trainer.lock"


@dataclass(frozen=True)
class LockHolder:
    pid: int
    created: float | None


class RunBusyError(RuntimeError):
    """Another live trainer owns the run folder."""

    def __init__(self, run_dir: Path, holder: LockHolder) -> None:
        super().__init__(f"{run_dir} is being trained by process {holder.pid}")
        self.run_dir = run_dir
        self.holder = holder
        self.hint = "wait for it to finish, or stop it (Stop on the Train page, or Ctrl+C)"


def _parse(text: str) -> LockHolder | None:
    try:
        data = json.loads(text)
        return LockHolder(int(data["pid"]), None if data.get("created") is None
                          else float(data["created"]))
    except (ValueError, TypeError, KeyError):
        return None  # empty (being written) or damaged: names no one


def lock_holder(run_dir: Path | str) -> LockHolder | None:
    """The live trainer that owns ``run_dir``, or None."""
    try:
        text = (Path(run_dir) / LOCK_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    holder = _parse(text)
    if holder is None or not is_alive(holder.pid, holder.created):
        return None
    return holder


def check_free(run_dir: Path | str) -> None:
    """Raise :class:`RunBusyError` when a live trainer other than this process owns it."""
    holder = lock_holder(run_dir)
    if holder is not None and holder.pid != os.getpid():
        raise RunBusyError(Path(run_dir), holder)


# run folder (resolved) -> [fd, depth]: the same process may take its own lock again
_HELD: dict[str, list[int]] = {}


class RunLock:
    """``with RunLock(run_dir): ...`` owns the run folder (re-entrant in one process)."""

    def __init__(self, run_dir: Path | str) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._key = str(self.run_dir.resolve())

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> RunLock:
        held = _HELD.get(self._key)
        if held is not None:
            held[1] += 1
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(5):  # the file may be replaced between open and lock: try again
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if self._locked(fd):
                    _HELD[self._key] = [fd, 1]
                    return self
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        raise RuntimeError(f"could not lock {self.path}: it keeps changing")

    def _locked(self, fd: int) -> bool:
        """Lock ``fd`` and write our name into it; False when the file was replaced."""
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _parse(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
            raise RunBusyError(self.run_dir, holder or LockHolder(0, None)) from None
        except OSError as exc:  # no flock on this file system: the liveness check decides
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
        try:
            if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                return False
        except FileNotFoundError:
            return False
        check_free(self.run_dir)
        me = json.dumps({"pid": os.getpid(), "created": process_created()})
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, me.encode(), 0)
            os.fsync(fd)
        except OSError:  # e.g. a full disk: the flock alone still keeps others out
            pass
        return True

    def release(self) -> None:
        held = _HELD.get(self._key)
        if held is None:
            return
        held[1] -= 1
        if held[1] > 0:
            return
        del _HELD[self._key]
        try:
            self.path.unlink(missing_ok=True)  # still locked: nobody reads a stale name
        finally:
            os.close(held[0])
