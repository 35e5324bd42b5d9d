"""Errors a user can cause, each able to say where it came from, and the exit codes they map to.

Nothing here imports torch or textual: the CLI renders these as one line per problem on stderr.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Process exit codes of `tui-trainer`; scripts and the TUI rely on them."""

    OK = 0
    RUN_FAILED = 1  # a run of the study failed or diverged; the others still ran
    USAGE = 2  # bad preset, bad --set, unknown id: nothing was created
    UNAVAILABLE = 3  # the machine lacks something the study needs (data, device, disk)
    UNWRITABLE = 74  # worker-run only: its run directory cannot be written; the study stops (3)
    BUSY = 75  # worker-run only: another process still holds the run; a driver tries again later
    INTERRUPTED = 130  # SIGINT (Ctrl-C)
    TERMINATED = 143  # SIGTERM


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, and where it is.

    `source` is a file path or a pseudo-source such as `--set optim.lr=x`; `line` and `col` are
    1-based and optional; `key` is the dotted config key path when there is one.
    """

    message: str
    source: str | None = None
    line: int | None = None
    col: int | None = None
    key: str | None = None

    def render(self) -> str:
        where = ""
        if self.source:
            where = self.source
            if self.line is not None:
                where += f":{self.line}"
                if self.col is not None:
                    where += f":{self.col}"
            where += ": "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"


class TuiTrainerError(Exception):
    """Base of the errors a user can cause; the CLI prints them without a traceback."""

    exit_code: ExitCode = ExitCode.RUN_FAILED

    def lines(self) -> list[str]:
        return [str(self)]


class ConfigError(TuiTrainerError):
    """A preset, an override or a sweep is invalid. Carries every problem found, each located."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[Problem]):
        if not problems:
            raise ValueError("ConfigError needs at least one problem")
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))

    def lines(self) -> list[str]:
        return [p.render() for p in self.problems]


class UsageError(TuiTrainerError):
    """A command was asked for something that does not exist (an unknown study id, say)."""

    exit_code = ExitCode.USAGE


class UnavailableError(TuiTrainerError):
    """The machine lacks what the study needs: a device, a dataset file, writable disk."""

    exit_code = ExitCode.UNAVAILABLE


class RunBusy(UnavailableError):
    """A worker found its run held by another process (a killed attempt whose lock a network
    file server still keeps, or a worker of a lost node still writing): try again later."""

    exit_code = ExitCode.BUSY


class StorageError(UnavailableError):
    """The run directory cannot be written (disk full, read-only, no permission): the study
    stops, since every later write would fail too. What was written before stays intact."""


class RunUnwritable(StorageError):
    """worker-run's StorageError: its own exit code tells the driver that the runs directory
    cannot be written (a missing dataset exits 3 too), so that it stops the whole study."""

    exit_code = ExitCode.UNWRITABLE


# Errors of the file system the run directory lives on, as opposed to a bug or bad data.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM}


def storage_error(exc: OSError, run_root: Path) -> StorageError | None:
    """A StorageError naming the path, when `exc` is a write failure inside the runs directory
    that holds `run_root` (runs/<study>/<run>)."""
    if exc.errno not in STORAGE_ERRNOS:
        return None
    filename = exc.filename or str(run_root)
    if exc.errno in (errno.EACCES, errno.EPERM) and not _inside(Path(filename), run_root):
        return None  # e.g. an unreadable dataset: not the run directory's fault
    return StorageError(f"cannot write {filename}: {exc.strerror or os.strerror(exc.errno)}")


def _inside(path: Path, run_root: Path) -> bool:
    try:
        path.resolve().relative_to(run_root.resolve().parent.parent)
    except (ValueError, OSError):
        return False
    return True
