"""What every step shares: where it writes, how big it is, how its commands run under a time
limit, and the record it leaves (pass, fail or skipped, with a reason and its figures).

Each step runs in a process of its own (started by `__main__`), so that a step that hangs, runs
out of memory or crashes the CUDA context is killed at its limit and the next step starts clean.
Inside a step, every command it starts gets what is left of the step's time as its timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import REPO

PASSED, FAILED, SKIPPED = "pass", "fail", "skipped"


@dataclass
class StepResult:
    """One step's outcome as the report shows it. `figures` are the numbers worth quoting;
    `details` the lines that say what was run and what was seen."""

    name: str
    outcome: str = PASSED
    reason: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, reason: str) -> None:
        """Record a failure; the first reason stays the headline, later ones join the details."""
        if self.outcome != FAILED:
            self.outcome, self.reason = FAILED, reason
        else:
            self.details.append(f"also failed: {reason}")

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1, default=str))

    @classmethod
    def read(cls, path: Path) -> StepResult:
        return cls(**json.loads(path.read_text()))


@dataclass
class Context:
    """Where a step writes and how much it may do: `dry_run` is the CPU's tiny size."""

    out: Path
    dry_run: bool
    deadline: float  # time.monotonic() by which the step must be done
    scratch: Path  # generated datasets, shared by the steps, deleted at the end (not reported)

    @property
    def device(self) -> str:
        return "cpu" if self.dry_run else "cuda"

    def step_dir(self, name: str) -> Path:
        path = self.out / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def left(self) -> float:
        return max(1.0, self.deadline - time.monotonic())


@dataclass
class Finished:
    returncode: int | None  # None: killed at its time limit
    seconds: float
    log: Path

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


def start(command: list[str], log: Path, new_session: bool = False) -> subprocess.Popen[bytes]:
    """Start `command` from the repository root with its output in `log`."""
    handle = open(log, "ab")  # noqa: SIM115 - the child holds it; closed when it ends
    try:
        return subprocess.Popen(
            command,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    finally:
        handle.close()


def wait(process: subprocess.Popen[bytes], timeout: float, group: bool = False) -> int | None:
    """The exit code, or None after killing it (its whole process group with `group`) at the
    time limit."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            if group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        except ProcessLookupError:
            pass
        process.wait()
        return None


def run(command: list[str], log: Path, timeout: float) -> Finished:
    """Run `command` to its end or its time limit; its output goes to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        handle.write(f"$ {' '.join(command)}\n")
    started = time.monotonic()
    code = wait(start(command, log), timeout)
    return Finished(code, time.monotonic() - started, log)


def trainer(*arguments: str) -> list[str]:
    """The command a user runs, `tui-trainer ...`, from this source checkout."""
    return [sys.executable, "-m", "tui_trainer", *arguments]


def describe(done: Finished) -> str:
    if done.timed_out:
        return f"killed at its time limit after {done.seconds:.0f} s"
    return f"exit {done.returncode} after {done.seconds:.1f} s"
