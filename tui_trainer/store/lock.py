"""One writer per run: a trainer holds an exclusive kernel lock (flock) on each run directory it
writes, for as long as it lives. The kernel drops the lock when the process ends, however it ends,
so a trainer killed with SIGKILL never leaves a stale lock behind.

Where flock does not exist (Windows) locking is skipped; the liveness check in status.py still
refuses to resume a run whose trainer is alive.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class LockHeld(Exception):
    """Another process holds the lock of `path`."""

    def __init__(self, path: Path):
        super().__init__(f"{path} is locked by another trainer")
        self.path = path


class RunLocks:
    """Exclusive locks on run directories, held until `release()` (or the process ends)."""

    def __init__(self) -> None:
        self._fds: dict[Path, int] = {}

    def acquire(self, directory: Path) -> None:
        """Lock `directory` without waiting; LockHeld when another process has it."""
        directory = Path(directory)
        if directory in self._fds or fcntl is None:
            return
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockHeld(directory) from None
            raise
        self._fds[directory] = fd

    def acquire_all(self, directories: Iterable[Path]) -> None:
        """All of them or none: on LockHeld the ones taken so far are released."""
        taken: list[Path] = []
        try:
            for directory in directories:
                if Path(directory) not in self._fds:
                    self.acquire(directory)
                    taken.append(Path(directory))
        except BaseException:
            for directory in taken:
                self._release(directory)
            raise

    def _release(self, directory: Path) -> None:
        fd = self._fds.pop(directory, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing the descriptor drops the flock

    def release(self) -> None:
        for directory in list(self._fds):
            self._release(directory)

    def __enter__(self) -> RunLocks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def held(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on `directory` for a short read-modify-write of a file in it,
    waiting for any other holder (a study directory: no trainer holds its lock for long)."""
    if fcntl is None:
        yield
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def is_locked(directory: Path) -> bool | None:
    """Whether some process holds `directory`'s lock (None where that cannot be told)."""
    if fcntl is None:
        return None
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the lock just taken
    return False
