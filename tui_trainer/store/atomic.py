"""Atomic file replacement: readers see the old file or the new one, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tui_trainer import tomlcompat

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
    fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # a failed write() names no file: name the one meant
        raise
    if durable:
        fsync_directory(path.parent)


def sweep_temp_files(directory: Path) -> list[Path]:
    """Remove the temp files a killed writer left in `directory` (only call it while no other
    process writes there: the run's lock is held). Returns what was removed."""
    removed = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(TEMP_PREFIX) and entry.is_file() and not entry.is_symlink():
            with contextlib.suppress(OSError):
                entry.unlink()
                removed.append(entry)
    return removed


def write_text_atomic(path: Path, text: str, *, durable: bool = False) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), durable=durable)


def write_toml_atomic(path: Path, data: Mapping[str, Any], *, durable: bool = False) -> None:
    write_text_atomic(path, tomlcompat.dumps(data), durable=durable)


def read_toml(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None when it is missing, unreadable or not valid TOML."""
    try:
        return tomlcompat.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomlcompat.TOMLDecodeError, ValueError, RecursionError):
        return None
