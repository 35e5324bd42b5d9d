"""Errors a user can cause, each able to say where it came from, and the exit codes they map to.

Nothing here imports torch or textual: the CLI renders these as one line per problem on stderr.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of `tui-trainer`; scripts and the TUI rely on them."""

    OK = 0
    RUN_FAILED = 1  # a run of the study failed or diverged; the others still ran
    USAGE = 2  # bad preset, bad --set, unknown id: nothing was created
    UNAVAILABLE = 3  # the machine lacks something the study needs (data, device, disk)
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
