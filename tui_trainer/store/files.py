"""The one place that opens the files of a run directory and presets: only regular files, never
through a symlink (run-directory files), and within a size limit where one makes sense.

Opening a FIFO blocks until someone writes to it, and reading /dev/zero never ends: a run
directory (or a preset folder) that holds either in place of a file would hang whatever reads it,
the app included. Every open here is non-blocking, the descriptor's type is checked with fstat
before anything is read, and a file that is not a regular one is refused with an OSError that
names it, which every reader already treats as "unreadable". A file opened for appending must
also have a single link: a log hard-linked to a file outside the study is refused, not written.

Files are created with the permissions the umask gives (0644 under the usual 022), the same for
the atomically replaced files as for the appended ones.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import IO, Any

# Size limits of what is read whole into memory. No file tui-trainer writes comes near them.
MAX_TOML_BYTES = 16 << 20  # study.toml of 1000 runs and many resumes is well under 1 MiB
MAX_PRESET_BYTES = 4 << 20
MAX_IMAGE_BYTES = 256 << 20  # one image file of an image folder

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class NotRegularFile(OSError):
    """A path that is a FIFO, a device, a socket or a directory where a file belongs."""

    def __init__(self, path: Path | str, mode: int):
        kind = _kind(mode)
        super().__init__(errno.EINVAL, f"not a regular file ({kind})", str(path))


class FileTooLarge(OSError):
    """A file larger than what its reader accepts (a damaged or hostile one)."""

    def __init__(self, path: Path | str, limit: int):
        super().__init__(errno.EINVAL, f"larger than {_size(limit)}: not read", str(path))


class LinkedFile(OSError):
    """A file to append to that has another hard link (which may be outside the study)."""

    def __init__(self, path: Path | str, links: int):
        super().__init__(
            errno.EMLINK, f"has {links} hard links; refusing to write through them", str(path)
        )


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symlink"),
        (stat.S_ISREG, "a regular file"),
    ):
        if test(mode):
            return name
    return "not a file"


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"


def _checked(fd: int, path: Path | str, *, single_link: bool = False) -> int:
    """`fd` once fstat says it is a regular file (and, with `single_link`, has one link), made
    blocking again; otherwise it is closed and the error raised."""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path, info.st_mode)
        if single_link and info.st_nlink > 1:
            raise LinkedFile(path, info.st_nlink)
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_error(exc: OSError, path: Path | str) -> OSError:
    """ELOOP from O_NOFOLLOW says what it means."""
    if exc.errno == errno.ELOOP:
        return OSError(errno.ELOOP, "is a symlink; not followed", str(path))
    if exc.filename is None:
        exc.filename = str(path)
    return exc


def open_regular(path: Path | str, *, follow_links: bool = False) -> IO[bytes]:
    """`path` opened for binary reading, once it is known to be a regular file. Symlinks are
    not followed unless `follow_links` (a preset or a dataset, the user's own files; the file
    it leads to must still be regular). Raises OSError (NotRegularFile, FileNotFoundError...)."""
    flags = os.O_RDONLY | _NONBLOCK | _CLOEXEC | (0 if follow_links else _NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _open_error(exc, path) from None
    return os.fdopen(_checked(fd, path), "rb")


def read_limited(path: Path | str, limit: int, *, follow_links: bool = False) -> bytes:
    """The whole of a regular file of at most `limit` bytes (FileTooLarge otherwise)."""
    with open_regular(path, follow_links=follow_links) as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            raise FileTooLarge(path, limit)
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise FileTooLarge(path, limit)
    return data


def open_for_append(path: Path | str, binary: bool = False) -> Any:
    """`path` opened for appending (created if missing): a regular file with one link, never
    through a symlink. A log that a hostile study links elsewhere (symlink or hard link) is
    refused with an OSError, never written through."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _NONBLOCK | _CLOEXEC
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO without a reader
            raise NotRegularFile(path, stat.S_IFIFO) from None
        raise _open_error(exc, path) from None
    fd = _checked(fd, path, single_link=True)
    if binary:
        return os.fdopen(fd, "ab")
    return os.fdopen(fd, "a", encoding="utf-8", newline="")


def open_for_update(path: Path | str) -> IO[bytes]:
    """An existing regular file of the run directory opened for reading and writing (to cut a
    torn tail), never through a symlink."""
    flags = os.O_RDWR | _NOFOLLOW | _NONBLOCK | _CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise NotRegularFile(path, stat.S_IFIFO) from None
        raise _open_error(exc, path) from None
    return os.fdopen(_checked(fd, path, single_link=True), "rb+")


def regular_or_missing(path: Path | str, *, single_link: bool = False) -> str | None:
    """Why `path` cannot be one of a run's files (it is a symlink, a FIFO, a device..., or with
    `single_link`, a file hard-linked elsewhere), or None when it is a regular file or does not
    exist. Looks without opening (lstat)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(info.st_mode):
        return f"is {_kind(info.st_mode)}, not a regular file"
    if single_link and info.st_nlink > 1:
        return f"has {info.st_nlink} hard links (appending to it would write elsewhere too)"
    return None


def _read_umask() -> int:
    """The process umask, read without changing it where Linux shows it (os.umask would set it
    for a moment, which a thread creating a file at that moment would see)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def creation_mode() -> int:
    """The mode a newly created file gets here: 0666 less the umask (mkstemp's files start as
    0600, which a colleague reading the study could not open)."""
    return 0o666 & ~_read_umask()


def own_directory(path: Path | str) -> Path:
    """`path` as a directory to write new files into (made if missing, with its parents): a
    directory of its own, not a symlink, that may lead elsewhere (`<runs>/exports` linked to
    another user's files), and not a file. OSError naming it otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir()
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise OSError(errno.ELOOP, "is a symlink; not followed", str(path))
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(errno.ENOTDIR, f"is {_kind(info.st_mode)}, not a directory", str(path))
    return path


def write_new_file(path: Path | str, data: bytes) -> None:
    """Create `path` and write `data` into it; an existing entry of that name (a file, a
    symlink, a FIFO) is never opened or replaced (FileExistsError)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    fd = os.open(path, flags, 0o666)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
