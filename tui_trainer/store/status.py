"""status.toml: a run's state, pid and heartbeat, rewritten atomically about once a second, and
the liveness rule readers apply to it."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from tui_trainer.store.atomic import write_toml_atomic

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


def heartbeat_age(status: Mapping[str, Any], now: datetime | None = None) -> float | None:
    beat = status.get("heartbeat")
    if not isinstance(beat, datetime):
        return None
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=timezone.utc)
    return ((now or utcnow()) - beat).total_seconds()


def effective_state(status: Mapping[str, Any] | None, now: datetime | None = None) -> str:
    """The state a reader should show: the written one, except that a run written as running
    whose process is gone, or whose heartbeat is stale, is crashed."""
    if not status:
        return UNKNOWN
    state = status.get("state")
    if state not in WRITTEN_STATES:
        return UNKNOWN
    if state != RUNNING:
        return state
    if process_alive(status) is False:
        return CRASHED
    age = heartbeat_age(status, now)
    if age is None or age > HEARTBEAT_STALE_S:
        return CRASHED
    return RUNNING


class StatusFile:
    """The writer of one run's status.toml.

    The training loop calls `update(...)` as often as it likes (a dict update); a background
    thread writes the file once a second with a fresh heartbeat, so a long step or evaluation never
    looks like a crash. `write()` writes at once (state changes).
    """

    def __init__(
        self,
        path: Path,
        initial: Mapping[str, Any],
        sample: Callable[[], Mapping[str, Any]] | None = None,
    ):
        self.path = Path(path)
        self._data: dict[str, Any] = dict(initial)
        self.sample = sample
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._data.update(fields)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._data)

    def write(self) -> None:
        extra = {}
        if self.sample is not None:
            with contextlib.suppress(Exception):  # device figures are best effort
                extra = dict(self.sample())
        with self._lock:
            if extra:
                self._data["device_figures"] = extra
            data = {**self._data, "heartbeat": utcnow()}
            write_toml_atomic(self.path, data)

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
