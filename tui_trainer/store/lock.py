"""One writer per run: a trainer holds an exclusive kernel lock (flock) on each run directory it
writes, for as long as it lives. The kernel drops the lock when the process ends, however it ends,
so a trainer killed with SIGKILL never leaves a stale lock behind.

The lock is taken on a small file, `<run>/.lock`, opened for writing: that also works on NFS,
where flock is emulated with byte-range locks that need a writable descriptor. Where a file system
cannot lock at all (or on Windows, which has no flock), locking is skipped and said so; the
liveness check in status.py still refuses to resume a run whose trainer is alive.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"
# How long taking a lock waits for its holder to let go: a reader probing whether a run is
# stalled (is_locked) holds it for microseconds, and must not make a trainer give up.
ACQUIRE_WAIT_S = 0.5

_HELD = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
# The file system cannot lock (some FUSE and network file systems).
_UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.EBADF)


class LockHeld(Exception):
    """Another process holds the lock of `path`."""

    def __init__(self, path: Path):
        super().__init__(f"{path} is locked by another trainer")
        self.path = path


def _open_lock_file(directory: Path, create: bool = True, writable: bool = True) -> int:
    """The lock file of `directory`, opened for writing (an exclusive lock on NFS needs it);
    never through a symlink, and only a regular file (OSError otherwise)."""
    flags = (os.O_RDWR if writable else os.O_RDONLY) | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NONBLOCK", 0) | (os.O_CREAT if create else 0)
    path = Path(directory) / LOCK_FILE
    fd = os.open(path, flags, 0o666)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return fd


# The directories whose lock this process holds (through any RunLocks): a probe of one of them
# would find its own lock and take the run for another live trainer's.
_HELD_HERE: dict[Path, int] = {}


def held_here(directory: Path) -> bool:
    """Whether this process itself holds `directory`'s lock."""
    return _HELD_HERE.get(_key(directory), 0) > 0


def _key(directory: Path) -> Path:
    return Path(os.path.abspath(directory))


class RunLocks:
    """Exclusive locks on run directories, held until `release()` (or the process ends).

    `unsupported` names the directories whose file system could not lock (they are written
    unlocked)."""

    def __init__(self) -> None:
        self._fds: dict[Path, int] = {}
        self.unsupported: list[Path] = []

    def acquire(self, directory: Path, wait_s: float = ACQUIRE_WAIT_S) -> None:
        """Lock `directory`, waiting at most `wait_s` for another holder to let go; LockHeld
        when another process still has it. OSError when the lock file cannot be made (a
        read-only or full disk) or is not a regular file."""
        directory = Path(directory)
        if directory in self._fds or fcntl is None:
            return
        fd = _open_lock_file(directory)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno in _HELD and time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                os.close(fd)
                if exc.errno in _HELD:
                    raise LockHeld(directory) from None
                if exc.errno in _UNSUPPORTED:
                    self.unsupported.append(directory)
                    return
                raise
        self._fds[directory] = fd
        _HELD_HERE[_key(directory)] = _HELD_HERE.get(_key(directory), 0) + 1

    def acquire_all(self, directories: Iterable[Path]) -> None:
        """All of them or none: on any error the ones taken so far are released."""
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

    def release_one(self, directory: Path) -> None:
        """Let go of `directory`, however its path is written (relative or absolute): a
        parallel study's driver hands a queued run to its worker."""
        wanted = _key(directory)
        for taken in [d for d in self._fds if _key(d) == wanted]:
            self._release(taken)

    def _release(self, directory: Path) -> None:
        fd = self._fds.pop(directory, None)
        if fd is not None:
            _HELD_HERE[_key(directory)] -= 1
            with contextlib.suppress(OSError):
                os.close(fd)  # closing the descriptor drops the flock

    def release(self) -> None:
        for directory in list(self._fds):
            self._release(directory)

    def __enter__(self) -> RunLocks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def allow_open_files(locks: int) -> None:
    """Raise this process's soft limit on open files so that `locks` lock files (a sweep of up
    to 1000 runs holds one each) fit beside what torch opens; as far as the hard limit allows."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    want = locks + 512
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


@contextlib.contextmanager
def held(directory: Path) -> Iterator[None]:
    """Hold `directory`'s lock for a short read-modify-write of a file in it, waiting for any
    other holder (a study directory: no trainer holds its lock for long)."""
    if fcntl is None:
        yield
        return
    fd = _open_lock_file(directory)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
        yield
    finally:
        os.close(fd)


def is_locked(directory: Path) -> bool | None:
    """Whether some process holds `directory`'s (exclusive) lock; None where that cannot be
    told. The probe takes a shared lock for an instant when the lock is free: probes never
    collide with each other, and `RunLocks.acquire` waits out the instant. Read access to the
    lock file is enough, so a colleague's reader can tell a stalled run too."""
    if fcntl is None:
        return None
    try:
        fd = _open_lock_file(Path(directory), create=False, writable=False)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return True if exc.errno in _HELD else None
    finally:
        os.close(fd)  # also drops the lock just taken
    return False
