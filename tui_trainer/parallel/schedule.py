"""The workers executor's schedule: keeps at most `jobs` workers in flight, each started for the
next run the run source hands out as a slot frees (a retried run goes first), tells the display
and the source each epoch row as it lands in metrics.csv, and writes a run's stop request when the
source asks for one. It never imports torch.

Faults, decided from the run directory once a worker has ended (`judge`, the whole retry policy):

- the run reads completed, failed, diverged, pruned or interrupted: that is its result, never
  retried;
- the worker refused (exit 2 or 3: its files, data or lock): retrying would refuse again;
- the worker found its run held by another process (exit 75; a network file server keeps a dead
  client's lock for its lease): tried again after BUSY_WAIT_S, BUSY_TRIES times, using no retry;
- the worker found its run directory unwritable (exit 74: disk full, read-only): so would every
  other, and the study stops as the in-process trainer's does (one line naming the path, exit 3);
- anything else (killed by a signal, the OOM killer, a lost node, a crash between steps): the run
  is resumed from last.pt by a new worker, up to `retries` times, each attempt numbered in
  status.toml and told in trainer.log; after that it is left crashed.

Stopping (SIGTERM, SIGINT, the app's `s`): every worker is told to checkpoint and stop, queued
runs stay queued; `resume` goes on. A study's trainer killed with SIGKILL leaves its workers to
notice (train/worker.py watches its parent) and stop the same way.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from tui_trainer.errors import TuiTrainerError
from tui_trainer.parallel.backend import Backend, Exit, Job, Started
from tui_trainer.printable import printable
from tui_trainer.signals import StopSignals
from tui_trainer.store import status as st
from tui_trainer.store.csvlog import CsvFollower
from tui_trainer.store.layout import StudyPaths
from tui_trainer.store.lines import LineFollower
from tui_trainer.store.lock import RunLocks
from tui_trainer.store.schema import RunStatus, read_status, read_summary, write_status
from tui_trainer.store.stop_request import write_stop_request
from tui_trainer.study.events import TrainingEvents
from tui_trainer.study.source import RunSource

POLL_S = 0.25  # how often the schedule looks at its workers and their runs
# A worker that finds its run held by another process (a network file server keeps a dead
# client's lock for its lease, 90 s on Linux) is tried again this often, this many times.
BUSY_WAIT_S = 10.0
BUSY_TRIES = 30
# what a worker's run directory says of a run that has ended for good: never retried
SETTLED = (st.COMPLETED, st.FAILED, st.DIVERGED, st.PRUNED)


# -- deciding on a worker that ended ---------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    state: str  # what the run is now (crashed: its last worker died)
    retry: bool = False
    wait_s: float = 0.0  # start the retry no sooner than this (a run another process holds)


def judge(
    written: str | None, exit: Exit, attempt: int, retries: int, stopping: bool, busy: int = 0
) -> Verdict:
    """What to do with a run whose worker ended with `exit`, its status.toml saying `written`,
    on its `attempt` (of retries + 1), after its worker found it held by another process
    `busy` times. A run stopped while the study was not (its worker sent SIGTERM by a node
    drain or by hand) is retried like a killed one; a worker that found its run held by
    another process is tried again after BUSY_WAIT_S without using a retry, BUSY_TRIES times."""
    if written in SETTLED:
        return Verdict(written)
    if exit.busy and not stopping:
        if busy < BUSY_TRIES:
            return Verdict(_as_read(written), retry=True, wait_s=BUSY_WAIT_S)
        return Verdict(_as_read(written))
    if exit.refused:
        return Verdict(_as_read(written))
    state = _as_read(written)
    if stopping or attempt > retries:
        return Verdict(state)
    return Verdict(state, retry=True)


def _as_read(written: str | None) -> str:
    """What a reader calls a run its (ended) worker left written so."""
    if written == st.RUNNING:
        return st.CRASHED
    return written or st.QUEUED


# -- the schedule ----------------------------------------------------------------------------------


@dataclass
class _Watched:
    """A run in flight: its worker, the epoch rows already told, whether it was asked to stop."""

    started: Started
    rows: CsvFollower
    told: int = 0
    stop_asked: bool = False


class Schedule:
    """Keeps at most `jobs` workers in flight over the runs `source` hands out. `states` is
    filled as runs end (the one place a run's state is decided: `_settle`)."""

    def __init__(
        self,
        paths: StudyPaths,
        source: RunSource,
        backend: Backend,
        jobs: int,
        retries: int,
        events: TrainingEvents,
        locks: RunLocks,
        signals: StopSignals,
        states: dict[str, str],
        data_dir: Path | None = None,
    ):
        self.paths = paths
        self.source = source
        self.backend = backend
        self.jobs = max(1, jobs)
        self.retries = retries
        self.events = events
        self.locks = locks
        self.signals = signals
        self.states = states
        self.data_dir = Path(data_dir).absolute() if data_dir is not None else None
        self.again: collections.deque[Job] = collections.deque()  # retries, before new runs
        self.active: dict[str, _Watched] = {}
        self.stopping = False
        self.unwritable: str | None = None  # why the runs directory cannot be written
        self._waiting: dict[str, str | None] = {}

    def run(self) -> None:
        """Until the source has no run left and none is in flight, or a stop has been passed
        on and every worker ended."""
        stop = self.signals
        try:
            while True:
                if stop.event.is_set() and not self.stopping:
                    self._stop(signal.SIGTERM)
                if not self.stopping:
                    self._start_what_fits()
                    self._tell_waiting()
                if not self.active and (self.stopping or not self.queued()):
                    break  # nothing in flight, and the source had nothing more to hand out
                self._poll()
                if self.stopping and not self.active:
                    break
                time.sleep(POLL_S)
        except KeyboardInterrupt:  # a second Ctrl-C: every worker stops at once
            self._stop(signal.SIGINT)
            self._drain()
            raise
        finally:
            self._clear_waiting()

    def queued(self) -> list[str]:
        """The runs that wait for a worker: retries first, then the source's."""
        return [job.name for job in self.again] + self.source.queued()

    def _job(self, name: str) -> Job:
        # absolute: a worker on a cluster node starts in another directory
        return Job(name, self.paths.run(name).root.absolute(), data_dir=self.data_dir)

    def _next_ready(self) -> Job | None:
        """The first retry that may start now (a busy run waits a while), else the source's
        next run; taken off."""
        clock = time.monotonic()
        for job in self.again:
            if job.not_before <= clock:
                self.again.remove(job)
                return job
        run = self.source.next_run()
        return self._job(run.name) if run is not None else None

    def _start_what_fits(self) -> None:
        while len(self.active) < self.jobs and self.backend.waiting() is None:
            job = self._next_ready()
            if job is None:
                return
            # until its worker writes its first status (loading torch can take a while), the
            # run says it is starting, not what it waited for; written while the lock is ours
            self._set_waiting(job.name, st.STARTING)
            self._waiting.pop(job.name, None)
            self.locks.release_one(job.run_dir)  # the worker takes the run's lock
            try:
                started = self.backend.start(job)
            except (OSError, TuiTrainerError) as exc:
                self.events.note(f"{job.name}: cannot start its worker: {exc}")
                self._settle(job.name, st.QUEUED)
                continue
            rows = CsvFollower(self.paths.run(job.name).metrics)
            told = max(
                (r["epoch"] for r in rows.poll() if isinstance(r.get("epoch"), int)), default=0
            )
            self.active[job.name] = _Watched(started, rows, told)
            attempt = f", attempt {job.attempt} of {self.retries + 1}" if job.attempt > 1 else ""
            self.events.note(f"{job.name} started on {started.where}{attempt}")

    def _tell_waiting(self) -> None:
        """Write into each queued run's status.toml what it waits for (the study's trainer
        holds their locks), when that changed."""
        fresh = self.source.queued()
        if not fresh and not self.again:
            return
        if len(self.active) >= self.jobs:
            reason = f"waiting for a free job: {len(self.active)} of {self.jobs} are training"
        else:
            reason = self.backend.waiting() or st.STARTING
        # (only runs whose lock the study's trainer still holds: never one a worker has had)
        for name in fresh:
            if self._waiting.get(name) != reason:
                self._set_waiting(name, reason)

    def _set_waiting(self, name: str, reason: str | None) -> None:
        path = self.paths.run(name).status
        status = read_status(path)
        if status is None or status.state != st.QUEUED:
            return
        with contextlib.suppress(OSError):
            write_status(path, dataclasses.replace(status, waiting=reason))
            self._waiting[name] = reason

    def _clear_waiting(self) -> None:
        for name, reason in list(self._waiting.items()):
            if reason is not None:
                self._set_waiting(name, None)

    def _poll(self) -> None:
        for name, watched in list(self.active.items()):
            self._tell_rows(name, watched)
            exit = self.backend.poll(watched.started)
            if exit is None:
                continue
            del self.active[name]
            self._tell_rows(name, watched)
            self._ended(watched.started.job, exit)

    def _tell_rows(self, name: str, watched: _Watched) -> None:
        for row in watched.rows.poll():
            epoch = row.get("epoch")
            if isinstance(epoch, int) and epoch > watched.told:
                watched.told = epoch
                self.events.epoch_ended(name, row)
                reason = self.source.epoch_ended(name, row)
                if reason is not None and not watched.stop_asked:
                    self._ask_stop(name, watched, reason)

    def _ask_stop(self, name: str, watched: _Watched, reason: str) -> None:
        """The source wants the run stopped early: its worker, wherever it runs, reads the
        request from the run directory at its next heartbeat."""
        try:
            write_stop_request(self.paths.run(name).stop_request, reason)
        except OSError as exc:
            self.events.note(f"{name}: cannot ask it to stop early ({exc}); it trains on")
            return
        watched.stop_asked = True

    def _settle(self, name: str, state: str, final: bool = True) -> None:
        """Record the run's state; `final`: it will not be retried (the source hears of it)."""
        self.states[name] = state
        if final:
            self.source.run_ended(name, state)

    def _ended(self, job: Job, exit: Exit) -> None:
        run = self.paths.run(job.name)
        status = read_status(run.status)
        stopping = self.stopping or self.signals.event.is_set()
        written = status.state if status else None
        verdict = judge(written, exit, job.attempt, self.retries, stopping, job.busy)
        self._settle(job.name, verdict.state, final=not verdict.retry)
        said = f"{job.name}: its worker {exit.describe()}"
        if exit.unwritable:
            self._unwritable(job, status)
        if exit.busy and not stopping and written not in SETTLED:
            if verdict.retry:
                self.events.note(
                    f"{job.name}: another process still holds it ({_last_line(run.worker_log)}); "
                    f"trying again in {verdict.wait_s:.0f} s"
                )
                again = time.monotonic() + verdict.wait_s
                self.again.appendleft(dataclasses.replace(job, busy=job.busy + 1, not_before=again))
                return
            self.events.note(f"{said}: another process held it for too long; left {verdict.state}")
            return
        if not verdict.retry and verdict.state in st.FINAL_STATES:
            summary = read_summary(run.summary) if verdict.state == st.COMPLETED else None
            message = (status.message if status else None) or ""
            self.events.run_finished(job.name, verdict.state, summary, message)
            return
        if exit.refused:
            self.events.note(f"{said} and refused to train it: {_last_line(run.worker_log)}")
        elif verdict.retry:
            self.events.note(
                f"{said} (attempt {job.attempt} of {self.retries + 1}); resuming it from its "
                "last checkpoint"
            )
            self.again.appendleft(dataclasses.replace(job, attempt=job.attempt + 1))
        elif self.stopping:
            self.events.note(f"{said} while the study stopped; `resume` goes on")
        else:
            self.events.note(
                f"{said} (attempt {job.attempt} of {self.retries + 1}, no retries left): it "
                f"is left {verdict.state}; see {run.worker_log}"
            )

    def _unwritable(self, job: Job, status: RunStatus | None) -> None:
        """A worker found its run directory unwritable: the others would too, so the study
        stops as the in-process trainer's does, with the worker's line (which names the path)."""
        said = _last_line(self.paths.run(job.name).worker_log).removeprefix("error: ")
        message = (status.message if status else None) or said
        if not message.startswith("cannot write "):  # the worker could write neither
            message = f"cannot write {job.run_dir}: its worker found it full or read-only"
        if self.unwritable is None:
            self.unwritable = message
            if not self.stopping:
                self.events.note(f"{job.name}: {message}; the study stops")
                self._stop(signal.SIGTERM)

    def _stop(self, signum: int) -> None:
        self.stopping = True
        for watched in self.active.values():
            self.backend.send(watched.started, signum)
        if signum == signal.SIGTERM:
            self.events.note(
                f"stopping: {len(self.active)} running run(s) checkpoint and stop; "
                f"{len(self.queued())} queued run(s) stay queued (`tui-trainer resume` goes on)"
            )

    def _drain(self) -> None:
        while self.active:
            self._poll()
            time.sleep(POLL_S)


def _last_line(path: Path) -> str:
    """The last line of a worker's log (its error), made printable."""
    lines = [line for line in LineFollower(path, tail_bytes=8192).poll() if line]
    return printable(lines[-1].decode("utf-8", "replace").strip()) if lines else "(no output)"


__all__ = ["BUSY_TRIES", "BUSY_WAIT_S", "Schedule", "Verdict", "judge"]
