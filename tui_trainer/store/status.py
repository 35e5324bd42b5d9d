"""A run's state: the states status.toml can hold, its writer (rewritten atomically about once a
second by a heartbeat thread), and the liveness rules readers apply: when a running run has
crashed, and which of a study's trainers is alive. What the file holds is store/schema.py's
RunStatus."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from tui_trainer.store.schema import DeviceFigures, RunStatus, TrainerRecord, write_status

QUEUED = "queued"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
INTERRUPTED = "interrupted"
DIVERGED = "diverged"
CRASHED = "crashed"  # never written: what a reader calls a running run whose trainer is gone
UNKNOWN = "unknown"  # never written: a missing or unreadable status file

WRITTEN_STATES = (QUEUED, RUNNING, COMPLETED, FAILED, INTERRUPTED, DIVERGED)
FINAL_STATES = (COMPLETED, FAILED, INTERRUPTED, DIVERGED)

HEARTBEAT_INTERVAL_S = 1.0
# A running run whose heartbeat is older than this reads as crashed, even if a process with its
# pid exists (pid reuse, a frozen host, a trainer on another machine sharing the directory).
HEARTBEAT_STALE_S = 30.0


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def process_identity(pid: int | None = None) -> dict[str, Any]:
    """pid, host and process start time: enough to tell this process from a later one that
    reuses its pid."""
    pid = os.getpid() if pid is None else pid
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "pid_started": round(psutil.Process(pid).create_time(), 3),
    }


def process_alive(identity: Mapping[str, Any]) -> bool | None:
    """True/False when `identity` (pid, host, pid_started) can be checked here, None when it is
    another host's process or the record has no pid."""
    pid = identity.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    if identity.get("host") not in (None, socket.gethostname()):
        return None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        started = identity.get("pid_started")
        # A different start time means the pid now belongs to another process.
        return not (
            isinstance(started, (int, float)) and abs(process.create_time() - started) > 1.0
        )
    except psutil.AccessDenied:
        return None  # it exists, but is another user's: judge by the heartbeat
    except (psutil.NoSuchProcess, ValueError, OverflowError):
        return False


def heartbeat_age(status: RunStatus, now: datetime | None = None) -> float | None:
    beat = status.heartbeat
    if beat is None:
        return None
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=timezone.utc)
    return ((now or utcnow()) - beat).total_seconds()


def effective_state(status: RunStatus | None, now: datetime | None = None) -> str:
    """The state a reader should show: the written one, except that a run written as running
    whose process is gone, or whose heartbeat is stale, is crashed."""
    if status is None or status.state not in WRITTEN_STATES:
        return UNKNOWN
    if status.state != RUNNING:
        return status.state
    if process_alive(status.identity) is False:
        return CRASHED
    age = heartbeat_age(status, now)
    if age is None or age > HEARTBEAT_STALE_S:
        return CRASHED
    return RUNNING


def live_trainer(trainers: Sequence[TrainerRecord]) -> TrainerRecord | None:
    """The study's live trainer: the newest of its trainers (launch, then resumes) whose process
    is alive here. Two can be alive at once (`resume S/a` and `resume S/b`); the newest is the one
    a stop goes to first."""
    for record in reversed(trainers):
        if process_alive(record.identity) is True:
            return record
    return None


def trainers_alive(trainers: Sequence[TrainerRecord]) -> bool | None:
    """Whether a trainer of the study is alive: True when any is; otherwise what the newest one
    says (False: gone; None: it cannot be checked from here, another host's, or no record).
    One process check per record, newest first."""
    newest: bool | None = None
    for index, record in enumerate(reversed(trainers)):
        alive = process_alive(record.identity)
        if alive is True:
            return True
        if index == 0:
            newest = alive
    return newest


class StatusFile:
    """The writer of one run's status.toml.

    The training loop calls `update(...)` as often as it likes (fields of RunStatus set under a
    lock; a name RunStatus lacks is a TypeError at once); a background thread writes the file once
    a second with a fresh heartbeat, so a long step or evaluation never looks like a crash.
    `write()` writes at once (state changes).
    """

    def __init__(
        self,
        path: Path,
        initial: RunStatus,
        sample: Callable[[], Mapping[str, float]] | None = None,
    ):
        self.path = Path(path)
        self._status = dataclasses.replace(initial)
        self.sample = sample
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def update(self, **fields: Any) -> None:
        with self._lock:
            for name, value in fields.items():
                if name not in _STATUS_FIELDS:
                    raise TypeError(f"status.toml has no field {name!r}")
                setattr(self._status, name, value)

    def snapshot(self) -> RunStatus:
        with self._lock:
            return dataclasses.replace(self._status)

    def write(self) -> None:
        figures = None
        if self.sample is not None:
            with contextlib.suppress(Exception):  # device figures are best effort
                figures = DeviceFigures.from_toml(self.sample())
        with self._lock:
            if figures is not None:
                self._status.device_figures = figures
            write_status(self.path, dataclasses.replace(self._status, heartbeat=utcnow()))

    def start_heartbeat(self, interval: float = HEARTBEAT_INTERVAL_S) -> None:
        self.write()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._beat, args=(interval,), name="status-heartbeat", daemon=True
        )
        self._thread.start()

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            with contextlib.suppress(OSError):  # a full disk must not kill the trainer from here
                self.write()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def finish(self, state: str, **fields: Any) -> None:
        """Stop the heartbeat and write a final state."""
        self.stop_heartbeat()
        self.update(state=state, finished=utcnow(), **fields)
        self.write()


_STATUS_FIELDS = frozenset(spec.name for spec in dataclasses.fields(RunStatus))
