"""A run's state: the states status.toml can hold, its writer (rewritten atomically about once a
second by a heartbeat thread), and the liveness rules readers apply: when a running run has
crashed or stalled, which of a study's trainers is alive, and whether a process is a study's
trainer before anyone signals it. What the file holds is store/schema.py's RunStatus.

Nothing a file says about a process is taken on trust: a process is the one a record names only
when its pid, host and start time all match (a pid alone may have been reused, or typed by hand),
and a process is signalled only when its command line is also that of the recorded tui-trainer
trainer (`verified_trainer`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

import psutil

from tui_trainer.store.clock import utc_now
from tui_trainer.store.lock import held_here, is_locked
from tui_trainer.store.schema import DeviceFigures, RunStatus, TrainerRecord, write_status

QUEUED = "queued"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
INTERRUPTED = "interrupted"
DIVERGED = "diverged"
# stopped early on purpose, at its study's request (a search prunes a trial: store/stop_request.py),
# checkpointed where it stopped; final: `resume` leaves it as it is
PRUNED = "pruned"
CRASHED = "crashed"  # never written: what a reader calls a running run whose trainer is gone
# never written: a running run whose heartbeat stopped while its trainer still holds the run's
# lock (paused with SIGSTOP or Ctrl-Z, or a frozen file system): alive, so never resumed
STALLED = "stalled"
UNKNOWN = "unknown"  # never written: a missing or unreadable status file
# never written as a state: what a monitor shows for a run whose trainer is loading (torch, the
# data, the model) before its first step, or a queued run whose driver is starting its worker
# (its `waiting` says STARTING); and for a launched study before its trainer wrote study.toml
STARTING = "starting"

WRITTEN_STATES = (QUEUED, RUNNING, COMPLETED, FAILED, INTERRUPTED, DIVERGED, PRUNED)
FINAL_STATES = (COMPLETED, FAILED, INTERRUPTED, DIVERGED, PRUNED)

HEARTBEAT_INTERVAL_S = 1.0
# A running run whose heartbeat is older than this reads as crashed, even if a process with its
# pid exists (pid reuse, a frozen host, a trainer on another machine sharing the directory).
HEARTBEAT_STALE_S = 30.0


def process_identity(pid: int | None = None) -> dict[str, Any]:
    """pid, host and process start time: enough to tell this process from a later one that
    reuses its pid."""
    pid = os.getpid() if pid is None else pid
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "pid_started": round(psutil.Process(pid).create_time(), 3),
    }


def _process(identity: Mapping[str, Any]) -> psutil.Process | bool | None:
    """The live process `identity` names (pid, host and start time all matching); False when
    it is gone (no such pid, a zombie, or the pid now belongs to a process started at another
    time); None when that cannot be told here: another host's process, another user's, a record
    without a pid, or one without a start time (a pid alone proves nothing)."""
    pid = identity.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < 2**31:
        return None
    if identity.get("host") not in (None, socket.gethostname()):
        return None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        started = identity.get("pid_started")
        if isinstance(started, bool) or not isinstance(started, (int, float)):
            return None
        # A different start time means the pid now belongs to another process.
        return process if abs(process.create_time() - started) <= 1.0 else False
    except psutil.AccessDenied:
        return None  # it exists, but is another user's: judge by the heartbeat
    except (psutil.NoSuchProcess, ValueError, OverflowError):
        return False


def process_alive(identity: Mapping[str, Any]) -> bool | None:
    """True/False when `identity` (pid, host, pid_started) can be checked here; None when it is
    another host's or user's process, or the record lacks a pid or a start time."""
    process = _process(identity)
    return process if process is None or isinstance(process, bool) else True


def heartbeat_age(status: RunStatus, now: datetime | None = None) -> float | None:
    beat = status.heartbeat
    if beat is None:
        return None
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=timezone.utc)
    return ((now or utc_now()) - beat).total_seconds()


def effective_state(
    status: RunStatus | None, now: datetime | None = None, run_dir: Path | None = None
) -> str:
    """The state a reader should show: the written one, except that a run written as running
    whose process is gone, or whose heartbeat is stale, is crashed; and one whose heartbeat is
    stale while some process still holds its lock (`run_dir`'s .lock; a trainer paused with
    SIGSTOP) is stalled, not dead. A run written by another host is judged without comparing
    that host's clock with this one's (`_other_host_state`)."""
    if status is None or status.state not in WRITTEN_STATES:
        return UNKNOWN
    if status.state != RUNNING:
        return status.state
    alive = process_alive(status.identity)
    if alive is False:
        return CRASHED
    if alive is None and is_other_host(status):
        return _other_host_state(status, run_dir)
    age = heartbeat_age(status, now)
    if age is not None and age <= HEARTBEAT_STALE_S:
        return RUNNING
    if run_dir is not None and not held_here(run_dir) and is_locked(run_dir) is True:
        return STALLED  # (a lock this process holds is no sign of the old trainer: a resume)
    return CRASHED


# The heartbeats of other hosts' runs as this process saw them: (heartbeat written, when this
# process first saw that value, by its own monotonic clock).
_SEEN_BEATS: dict[object, tuple[object, float]] = {}
# How long `watch_other_hosts` looks for a heartbeat to change (a live trainer rewrites it every
# HEARTBEAT_INTERVAL_S): unchanged that long, the run is taken for stopped.
OTHER_HOST_WATCH_S = 5.0


def is_other_host(status: RunStatus) -> bool:
    """Whether `status` was written by a trainer of another machine."""
    return status.host not in (None, socket.gethostname())


def _beat_key(status: RunStatus, run_dir: Path | None) -> object:
    if run_dir is not None:
        return Path(os.path.abspath(run_dir))
    return (status.host, status.pid, status.pid_started)


def _other_host_state(status: RunStatus, run_dir: Path | None) -> str:
    """A running run of another host (a worker on a cluster node): its heartbeat is that host's
    clock, which need not agree with this one's, so its age means nothing here. The run is
    running while its heartbeat keeps changing as seen on this machine's own clock, and crashed
    once it has not changed for HEARTBEAT_STALE_S here (stalled, if some process still holds
    its lock). Seen for the first time, it is running: nothing yet says otherwise. (An unlocked
    run is no proof of death: some cluster file systems keep locks to one node.)"""
    locked = None
    if run_dir is not None and not held_here(run_dir):
        locked = is_locked(run_dir)
    key = _beat_key(status, run_dir)
    seen = _SEEN_BEATS.get(key)
    clock = time.monotonic()
    if seen is None or seen[0] != status.heartbeat:
        _SEEN_BEATS[key] = (status.heartbeat, clock)
        return RUNNING
    if clock - seen[1] <= HEARTBEAT_STALE_S:
        return RUNNING
    return STALLED if locked else CRASHED


def watch_other_hosts(
    runs: Sequence[tuple[Path, Callable[[], RunStatus | None]]], seconds: float
) -> None:
    """Watch the heartbeats of other hosts' running runs for `seconds` (each `(run_dir,
    read_status)`): one that has not changed in that time is taken for stopped from then on (a
    live trainer rewrites it every second), one that changed is running. What `resume` does
    before it judges a run last written by another machine: a one-shot reader cannot wait
    HEARTBEAT_STALE_S."""
    first = {run_dir: read() for run_dir, read in runs}
    deadline = time.monotonic() + seconds
    changed: set[Path] = set()
    while time.monotonic() < deadline and len(changed) < len(first):
        time.sleep(min(0.25, seconds))
        for run_dir, read in runs:
            now, before = read(), first[run_dir]
            if now is not None and before is not None and now.heartbeat != before.heartbeat:
                changed.add(run_dir)
    for run_dir, status in first.items():
        if status is None or run_dir in changed:
            continue
        # unchanged for the whole watch: as if seen unchanged for longer than the stale limit
        stale_since = time.monotonic() - HEARTBEAT_STALE_S - 1
        _SEEN_BEATS[_beat_key(status, run_dir)] = (status.heartbeat, stale_since)


def _ended(record: TrainerRecord) -> bool:
    """A trainer that wrote its end is not alive, whatever its pid now is."""
    return record.ended is not None


def live_trainer(trainers: Sequence[TrainerRecord]) -> TrainerRecord | None:
    """The study's live trainer: the newest of its trainers (launch, then resumes) whose process
    is alive here and that has not recorded its end. Two can be alive at once (`resume S/a` and
    `resume S/b`); the newest is the one a stop goes to first."""
    for record in reversed(trainers):
        if not _ended(record) and process_alive(record.identity) is True:
            return record
    return None


class TrainerEnd(Enum):
    """How the newest trainer of a study stands, as a reader here can tell."""

    ALIVE = "alive"  # some trainer of the study lives
    STOPPED = "stopped"  # the newest recorded its end: a signal, an error, or done
    GONE = "gone"  # the newest is dead without a word: killed, or crashed
    UNKNOWN = "unknown"  # cannot be told here (another host's, or no record)


def trainer_end(trainers: Sequence[TrainerRecord]) -> TrainerEnd:
    """ALIVE when any trainer of the study is; otherwise what the newest one says. One process
    check per record, newest first."""
    newest = TrainerEnd.UNKNOWN
    for index, record in enumerate(reversed(trainers)):
        ended = _ended(record)
        alive = None if ended else process_alive(record.identity)
        if alive is True:
            return TrainerEnd.ALIVE
        if index == 0:
            if ended:
                newest = TrainerEnd.STOPPED
            elif alive is False:
                newest = TrainerEnd.GONE
    return newest


# What a tui-trainer trainer's command line holds: the program (a console script or the package
# run with -m) and the command that trains.
_TRAINING_COMMANDS = ("run", "resume")


def _is_trainer_command(cmdline: Sequence[str], recorded: Sequence[str] | None) -> bool:
    """Whether a process's command line is that of the recorded trainer: the tui-trainer
    program (a console script, or the package run with `-m`), then `run` or `resume`, and ending
    with the arguments the record says it was started with (argv[1:]; argv[0] itself differs
    between `python -m` and a console script)."""
    if not recorded or len(recorded) < 2:
        return False
    tail = list(recorded[1:])
    if len(cmdline) < len(tail) or list(cmdline[len(cmdline) - len(tail) :]) != tail:
        return False
    for index, arg in enumerate(cmdline):
        name = os.path.basename(arg)
        program = (
            # the console script, also as a wrapper renames it (Nix: .tui-trainer-wrapped)
            "tui-trainer" in name
            or arg.endswith(os.path.join("tui_trainer", "__main__.py"))
            or (arg == "tui_trainer" and index > 0 and cmdline[index - 1] == "-m")
        )
        if program:
            return any(word in _TRAINING_COMMANDS for word in cmdline[index + 1 :])
    return False


def verified_trainer(record: TrainerRecord) -> psutil.Process | None:
    """The process `record` names, when it is provably that trainer: alive on this host with
    the recorded pid and start time, not ended, and running the recorded tui-trainer command.
    Anything less (no start time, another program under a reused or hand-written pid) is None:
    such a process is never signalled."""
    if _ended(record):
        return None
    process = _process(record.identity)
    if not isinstance(process, psutil.Process):
        return None
    try:
        cmdline = process.cmdline()
    except (psutil.Error, OSError):
        return None
    return process if _is_trainer_command(cmdline, record.command) else None


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
        # called after each heartbeat, on the heartbeat's thread (a run looks for its study's
        # request to stop it early there: store/stop_request.py)
        self.on_beat: Callable[[], None] | None = None

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
            write_status(self.path, dataclasses.replace(self._status, heartbeat=utc_now()))

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
            if self.on_beat is not None:
                with contextlib.suppress(Exception):  # best effort, as the figures are
                    self.on_beat()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def finish(self, state: str, **fields: Any) -> None:
        """Stop the heartbeat and write a final state."""
        self.stop_heartbeat()
        self.update(state=state, finished=utc_now(), **fields)
        self.write()


_STATUS_FIELDS = frozenset(spec.name for spec in dataclasses.fields(RunStatus))
