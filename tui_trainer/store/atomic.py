"""Atomic file replacement: readers see the old file or the new one, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tui_trainer import tomlcompat
from tui_trainer.store.files import MAX_TOML_BYTES, creation_mode, read_limited

TEMP_PREFIX = ".tmp-"


def fsync_directory(directory: Path) -> None:
    """Make a rename inside `directory` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write `data` to a temp file beside `path`, then rename it over `path`.

    durable=True also fsyncs the file and the directory, so the new content survives a power cut;
    status files skip that (they are rewritten every second), checkpoints and summaries use it.
    """
    path = Path(path)
    try:
        fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX + path.name + ".", dir=path.parent)
    except OSError as exc:
        exc.filename = str(path)  # not the temp name: the file the caller meant to write
        raise
    try:
        with os.fdopen(fd, "wb") as handle:
            with contextlib.suppress(OSError):  # vfat, some FUSE and CIFS mounts refuse chmod
                os.fchmod(handle.fileno(), creation_mode())  # mkstemp's 0600: follow the umask
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):
            # name the file meant, never the temp file: a failed write() names no file, and a
            # refused rename (an immutable file) names both
            if exc.filename2 is not None:
                raise OSError(exc.errno, exc.strerror, str(path)) from None
            exc.filename = str(path)
        raise
    if durable:
        fsync_directory(path.parent)


def sweep_temp_files(directory: Path, older_than_s: float = 0.0) -> list[Path]:
    """Remove the temp files a killed writer left in `directory`: all of them where no other
    process writes (the run's lock is held), else those older than `older_than_s`, which no
    live writer still needs. Returns what was removed."""
    removed = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX) or entry.is_symlink():
            continue
        with contextlib.suppress(OSError):
            if entry.is_file() and now - entry.stat().st_mtime >= older_than_s:
                entry.unlink()
                removed.append(entry)
    return removed


def write_text_atomic(path: Path, text: str, *, durable: bool = False) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), durable=durable)


def write_toml_atomic(path: Path, data: Mapping[str, Any], *, durable: bool = False) -> None:
    write_text_atomic(path, tomlcompat.dumps(data), durable=durable)


def read_toml(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None when it is missing, unreadable, not a regular file (a FIFO
    would block), a symlink, larger than MAX_TOML_BYTES, or not valid TOML."""
    try:
        return tomlcompat.loads(read_limited(path, MAX_TOML_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomlcompat.TOMLDecodeError, ValueError, RecursionError):
        return None
