"""What the driver asks of a backend: start a worker for a run, tell when it has ended and how,
pass a stop signal on. A backend decides only where a worker runs; the worker itself is always
`tui-trainer worker-run RUN_DIR` (train/worker.py), whose run directory says the rest.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tui_trainer.errors import ExitCode


@dataclass(frozen=True)
class Job:
    """One attempt at training one run."""

    name: str
    run_dir: Path
    attempt: int = 1
    data_dir: Path | None = None  # resume --data-dir: replaces the run's data.data_dir
    not_before: float = 0.0  # time.monotonic() before which it is not started (a busy run)
    busy: int = 0  # how often its worker found the run held by another process


@dataclass(frozen=True)
class Exit:
    """How a worker ended: its exit status (negative: killed by that signal), or the reason
    it was lost with its node."""

    code: int | None
    lost: str | None = None

    @property
    def busy(self) -> bool:
        """The worker found its run held by another process: try again later."""
        return self.code == ExitCode.BUSY

    @property
    def refused(self) -> bool:
        """The worker refused to train (its run's files, its data, its lock), or found its run
        directory unwritable: retrying it would refuse or fail again."""
        return self.code in (ExitCode.USAGE, ExitCode.UNAVAILABLE, ExitCode.UNWRITABLE)

    @property
    def unwritable(self) -> bool:
        """The worker's run directory cannot be written (disk full, read-only): nor can any
        other run's, so the study stops."""
        return self.code == ExitCode.UNWRITABLE

    def describe(self) -> str:
        if self.lost is not None:
            return self.lost
        if self.code is None:
            return "ended without an exit status"
        if self.code < 0:
            try:
                return f"killed by {signal.Signals(-self.code).name}"
            except ValueError:
                return f"killed by signal {-self.code}"
        return f"exited with status {self.code}"


@dataclass
class Started:
    """A worker a backend started: its handle (the backend's own), and where it runs."""

    job: Job
    handle: Any
    where: str


class Backend(Protocol):
    def waiting(self) -> str | None:
        """None when one more worker can start now; otherwise what a queued run waits for."""

    def start(self, job: Job) -> Started: ...

    def poll(self, started: Started) -> Exit | None:
        """The worker's end, or None while it runs."""

    def send(self, started: Started, signum: int) -> None:
        """Pass a stop signal (SIGTERM, or SIGINT: stop at once) to the worker."""

    def close(self) -> None: ...


def worker_command(
    job: Job,
    device: str,
    threads: int | None,
    parent: int | None,
    gpu_share: int | None = None,
    python: str | None = None,
) -> list[str]:
    """The command line of a worker for `job`."""
    command = [python or sys.executable, "-m", "tui_trainer", "worker-run", str(job.run_dir)]
    command += ["--device", device, "--attempt", str(job.attempt)]
    if threads:
        command += ["--threads", str(threads)]
    if parent is not None:
        command += ["--parent", str(parent)]
    if gpu_share:
        command += ["--gpu-share", str(gpu_share)]
    if job.data_dir is not None:
        command += ["--data-dir", str(job.data_dir)]
    return command


__all__ = ["Backend", "Exit", "Job", "Started", "worker_command"]
