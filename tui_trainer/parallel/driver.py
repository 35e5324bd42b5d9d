"""A parallel study's trainer, the driver: it writes the study-level files (study.toml,
trainer.log) and keeps at most `jobs` runs in flight, in the study's run order, each trained by a
worker (`tui-trainer worker-run RUN_DIR`) that a backend starts (parallel/local.py on this
machine, parallel/ray_cluster.py on a cluster). It never imports torch.

Faults, decided from the run directory once a worker has ended (`judge`):

- the run reads completed, failed, diverged or interrupted: that is its result, never retried;
- the worker refused (exit 2 or 3: its files, data or lock): retrying would refuse again;
- the worker found its run directory unwritable (exit 74: disk full, read-only): so would every
  other, and the study stops as the in-process trainer's does (one line naming the path, exit 3);
- anything else (killed by a signal, the OOM killer, a lost node, a crash between steps): the run
  is resumed from last.pt by a new worker, up to `retries` times, each attempt numbered in
  status.toml and told in trainer.log; after that it is left crashed.

Stopping (SIGTERM, SIGINT, the app's `s`): every worker is told to checkpoint and stop, queued
runs stay queued, and the driver exits 143/130 once they have; `resume` goes on. A driver killed
with SIGKILL leaves its workers to notice (train/worker.py watches its parent) and stop the same
way.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_trainer.config.schema import ParallelSection, RunConfig
from tui_trainer.errors import ExitCode, StorageError, TuiTrainerError
from tui_trainer.parallel.backend import Backend, Exit, Job, Started
from tui_trainer.parallel.slots import plan_slots, visible_gpus
from tui_trainer.printable import printable
from tui_trainer.signals import StopSignals
from tui_trainer.store import resumable
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import CsvFollower
from tui_trainer.store.layout import StudyPaths
from tui_trainer.store.lines import LineFollower
from tui_trainer.store.lock import RunLocks, allow_open_files
from tui_trainer.store.reader import StudyRecord
from tui_trainer.store.schema import RunStatus, read_status, read_summary, write_status
from tui_trainer.store.study_files import Device, create_study, record_end, record_resume
from tui_trainer.study_result import StudyResult

if TYPE_CHECKING:
    from tui_trainer.config.load import LoadedStudy
    from tui_trainer.train.events import TrainingEvents

POLL_S = 0.25  # how often the driver looks at its workers and their runs
# A worker that finds its run held by another process (a network file server keeps a dead
# client's lock for its lease, 90 s on Linux) is tried again this often, this many times.
BUSY_WAIT_S = 10.0
BUSY_TRIES = 30


class CheckFailed(TuiTrainerError):
    """`worker-check` refused the study: its own error lines, and its exit code."""

    def __init__(self, lines: list[str], code: int):
        super().__init__("\n".join(lines))
        self._lines = lines or [f"the study's check failed (exit {code})"]
        self.exit_code = ExitCode(code) if code in ExitCode._value2member_map_ else ExitCode(3)

    def lines(self) -> list[str]:
        return self._lines


def check_command(args: Sequence[str], python: str | None = None) -> list[str]:
    return [python or sys.executable, "-m", "tui_trainer", "worker-check", *args]


def parse_check(code: int, stdout: str, stderr: str) -> dict[str, Any]:
    """The devices `worker-check` found, or CheckFailed with its error lines."""
    if code != 0:
        lines = [line.removeprefix("error: ") for line in stderr.splitlines() if line.strip()]
        raise CheckFailed(lines[-20:], code)
    try:
        found = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise CheckFailed([f"worker-check printed no result: {stdout[-200:]!r}"], 3) from None
    if not isinstance(found, dict):
        raise CheckFailed(["worker-check printed no result"], 3)
    return found


def check_here(args: Sequence[str]) -> dict[str, Any]:
    """Run `worker-check ARGS` as a child process of this machine."""
    result = subprocess.run(
        check_command(args), capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    return parse_check(result.returncode, result.stdout, result.stderr)


# -- deciding on a worker that ended ---------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    state: str  # what the run is now (crashed: its last worker died)
    retry: bool = False


def judge(written: str | None, exit: Exit, attempt: int, retries: int, stopping: bool) -> Verdict:
    """What to do with a run whose worker ended with `exit`, its status.toml saying `written`.
    A run stopped while the study was not (its worker sent SIGTERM by a node drain or by hand)
    is retried like a killed one; a worker that found its run held by another process is tried
    again later without using a retry."""
    if written in (st.COMPLETED, st.FAILED, st.DIVERGED):
        return Verdict(written)
    if exit.busy and not stopping:
        return Verdict(_as_read(written), retry=True)
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
    """A run in flight: its worker, and the epoch rows already told."""

    started: Started
    rows: CsvFollower
    told: int = 0


class Schedule:
    """Keeps at most `jobs` workers in flight over the runs of one study, in order."""

    def __init__(
        self,
        paths: StudyPaths,
        names: Sequence[str],
        backend: Backend,
        jobs: int,
        retries: int,
        events: TrainingEvents,
        locks: RunLocks,
        epochs: dict[str, int | None],
    ):
        self.paths = paths
        self.backend = backend
        self.jobs = max(1, jobs)
        self.retries = retries
        self.events = events
        self.locks = locks
        self.epochs = epochs
        # absolute: a worker on a cluster node starts in another directory
        self.queue = collections.deque(Job(n, paths.run(n).root.absolute()) for n in names)
        self.active: dict[str, _Watched] = {}
        self.states: dict[str, str] = {}
        self.stopping = False
        self.unwritable: str | None = None  # why the runs directory cannot be written
        self._waiting: dict[str, str | None] = {}
        self._signals = StopSignals()

    def run(self, stop: StopSignals) -> None:
        """Until every run has a result, or a stop has been passed on and every worker ended."""
        self._signals = stop
        try:
            while self.queue or self.active:
                if stop.event.is_set() and not self.stopping:
                    self._stop(signal.SIGTERM, stop.signal_number)
                if not self.stopping:
                    self._start_what_fits()
                    self._tell_waiting()
                self._poll()
                if self.stopping and not self.active:
                    break
                time.sleep(POLL_S)
        except KeyboardInterrupt:  # a second Ctrl-C: every worker stops at once
            self._stop(signal.SIGINT, signal.SIGINT)
            self._drain()
            raise
        finally:
            self._clear_waiting()

    def _next_ready(self) -> Job | None:
        """The first queued job that may start now (a busy run waits a while), taken off."""
        clock = time.monotonic()
        for job in self.queue:
            if job.not_before <= clock:
                self.queue.remove(job)
                return job
        return None

    def _start_what_fits(self) -> None:
        while self.queue and len(self.active) < self.jobs and self.backend.waiting() is None:
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
                self.states[job.name] = st.QUEUED
                continue
            rows = CsvFollower(self.paths.run(job.name).metrics)
            told = max(
                (r["epoch"] for r in rows.poll() if isinstance(r.get("epoch"), int)), default=0
            )
            self.active[job.name] = _Watched(started, rows, told)
            attempt = f", attempt {job.attempt} of {self.retries + 1}" if job.attempt > 1 else ""
            self.events.note(f"{job.name} started on {started.where}{attempt}")

    def _tell_waiting(self) -> None:
        """Write into each queued run's status.toml what it waits for (the driver holds their
        locks), when that changed."""
        if not self.queue:
            return
        if len(self.active) >= self.jobs:
            reason = f"waiting for a free job: {len(self.active)} of {self.jobs} are training"
        else:
            reason = self.backend.waiting() or st.STARTING
        for job in self.queue:
            # (only runs whose lock the driver still holds: never one a worker has had)
            if job.attempt == 1 and not job.busy and self._waiting.get(job.name) != reason:
                self._set_waiting(job.name, reason)

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

    def _ended(self, job: Job, exit: Exit) -> None:
        run = self.paths.run(job.name)
        status = read_status(run.status)
        stopping = self.stopping or self._signals.event.is_set()
        verdict = judge(status.state if status else None, exit, job.attempt, self.retries, stopping)
        self.states[job.name] = verdict.state
        said = f"{job.name}: its worker {exit.describe()}"
        if exit.unwritable:
            self._unwritable(job, status)
        if verdict.retry and exit.busy:
            if job.busy < BUSY_TRIES:
                self.events.note(
                    f"{job.name}: another process still holds it ({_last_line(run.worker_log)}); "
                    f"trying again in {BUSY_WAIT_S:.0f} s"
                )
                again = time.monotonic() + BUSY_WAIT_S
                self.queue.appendleft(dataclasses.replace(job, busy=job.busy + 1, not_before=again))
                return
            verdict = Verdict(verdict.state)
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
            self.queue.appendleft(dataclasses.replace(job, attempt=job.attempt + 1))
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
                self._stop(signal.SIGTERM, None)

    def _stop(self, signum: int, cause: int | None) -> None:
        self.stopping = True
        for watched in self.active.values():
            self.backend.send(watched.started, signum)
        if signum == signal.SIGTERM:
            self.events.note(
                f"stopping: {len(self.active)} running run(s) checkpoint and stop; "
                f"{len(self.queue)} queued run(s) stay queued (`tui-trainer resume` goes on)"
            )

    def _drain(self) -> None:
        while self.active:
            self._poll()
            time.sleep(POLL_S)


def _last_line(path: Path) -> str:
    """The last line of a worker's log (its error), made printable."""
    lines = [line for line in LineFollower(path, tail_bytes=8192).poll() if line]
    return printable(lines[-1].decode("utf-8", "replace").strip()) if lines else "(no output)"


# -- the study, start to end -----------------------------------------------------------------------


@dataclass
class Placement:
    """Where the study's workers go: the backend, how many at once, and the device as the
    study's records name it."""

    backend: Backend
    jobs: int
    device: Device


def local_placement(
    settings: ParallelSection, found: dict[str, Any], run_count: int, note: Any
) -> Placement:
    """The slots of this machine for `settings`, from what worker-check found."""
    from tui_trainer.parallel.local import LocalBackend

    gpus = [str(name) for name in found.get("gpus") or []]
    visible = visible_gpus(len(gpus), os.environ.get("CUDA_VISIBLE_DEVICES"))
    plan = plan_slots(
        str(found.get("device", "cpu")),
        visible,
        settings.gpus,
        settings.runs_per_gpu,
        settings.jobs,
        int(found.get("cores") or os.cpu_count() or 1),
        runs=run_count,
    )
    for warning in plan.warnings:
        note(warning)
    used = sorted({s.gpu for s in plan.slots if s.gpu is not None})
    names = sorted({gpus[visible.index(g)] for g in used if g in visible})
    name = ", ".join(names) if names else str(found.get("device_name", ""))
    spec = f"{plan.device} x{len(plan.slots)}"
    return Placement(LocalBackend(plan), min(len(plan.slots), run_count), Device(spec, name))


@dataclass(frozen=True)
class Study:
    """What the placement needs to know of the study: where its runs and data are, and the
    device its runs' config asks for."""

    runs_dir: Path
    data_dirs: list[Path]
    device: str
    run_count: int


def _placement(
    settings: ParallelSection, check_args: list[str], study: Study, note: Any
) -> Placement:
    if settings.cluster:
        from tui_trainer.parallel.ray_cluster import cluster_placement

        return cluster_placement(
            settings,
            check_args,
            study.run_count,
            note,
            study.runs_dir,
            study.data_dirs,
            study.device,
        )
    return local_placement(settings, check_here(check_args), study.run_count, note)


def data_dirs(configs: Sequence[RunConfig]) -> list[Path]:
    """The data directories of runs whose dataset is read from files (absolute)."""
    found = {c.data.location().absolute() for c in configs if c.data.dataset != "digits"}
    return sorted(found)


def _with_device_gpu(settings: ParallelSection, device: str) -> ParallelSection:
    """train.device = 'cuda:N' with no --gpus: the study's GPU is N."""
    if device.startswith("cuda:") and not settings.gpus:
        return settings.model_copy(update={"gpus": [int(device.split(":", 1)[1])]})
    return settings


def run_parallel(
    loaded: LoadedStudy,
    runs_dir: Path,
    events: TrainingEvents,
    argv: Sequence[str] | None = None,
    into: Path | None = None,
) -> StudyResult:
    """`tui-trainer run` of a study whose runs train in workers: check it (worker-check), make
    its directory, and drive its runs to their ends."""
    settings = _with_device_gpu(loaded.preset.parallel, loaded.preset.train.device)
    args = [str(loaded.source)]
    for override in loaded.overrides:
        args += ["--set", override.text]
    configs = [run.config for run in loaded.runs]
    study = Study(Path(runs_dir), data_dirs(configs), loaded.preset.train.device, len(configs))
    placement = _placement(settings, args, study, events.note)
    try:
        allow_open_files(len(loaded.runs))
        with RunLocks() as locks:
            paths = create_study(loaded, runs_dir, placement.device, argv or sys.argv, into, locks)
            names = [run.name for run in loaded.runs]
            epochs: dict[str, int | None] = {r.name: r.config.train.epochs for r in loaded.runs}
            return _drive(paths, names, placement, settings, events, locks, epochs)
    finally:
        placement.backend.close()


def resume_parallel(
    study: StudyRecord,
    run_name: str | None,
    settings: ParallelSection,
    events: TrainingEvents,
    argv: Sequence[str] | None = None,
    device_spec: str | None = None,
    data_dir: Path | None = None,
) -> StudyResult:
    """`tui-trainer resume` of a study whose runs train in workers: the same checks as an
    in-process resume (made by worker-check, before anything is written), then each run is
    resumed by a worker of its own."""
    args = ["--study", str(study.paths.root.absolute())]
    if device_spec is not None:
        args += ["--device", device_spec]
    if data_dir is not None:
        args += ["--data-dir", str(Path(data_dir).absolute())]
    paths = study.paths
    with RunLocks() as locks:
        study, targets = resumable.lock_targets(study, run_name, locks)
        names = [t.name for t in targets]
        for name in names:
            args += ["--run", name]
        configs = [c for c in (_config_of(t.run.paths.config) for t in targets) if c]
        dirs = [Path(data_dir).absolute()] if data_dir is not None else data_dirs(configs)
        device = device_spec or (configs[0].train.device if configs else "auto")
        settings = _with_device_gpu(settings, device)
        where = Study(paths.root.parent, dirs, device, len(names))
        placement = _placement(settings, args, where, events.note)
        try:
            record_resume(paths, names, placement.device, argv or sys.argv, settings.model_dump())
            epochs = {t.name: t.run.status.epochs for t in targets}
            before = {run.name: run.state for run in study.runs}
            result = _drive(
                paths, names, placement, settings, events, locks, epochs, data_dir=data_dir
            )
        finally:
            placement.backend.close()
    for name, state in before.items():
        result.states.setdefault(name, state)
    return result


def _config_of(path: Path) -> RunConfig | None:
    """A run's config.toml, or None (worker-check says what is wrong with it)."""
    import pydantic

    data = read_toml(path)
    try:
        return RunConfig.model_validate(data) if data is not None else None
    except pydantic.ValidationError:
        return None


def _drive(
    paths: StudyPaths,
    names: list[str],
    placement: Placement,
    settings: ParallelSection,
    events: TrainingEvents,
    locks: RunLocks,
    epochs: dict[str, int | None],
    data_dir: Path | None = None,
) -> StudyResult:
    from tui_trainer.console.plain import PlainLog
    from tui_trainer.train.events import Broadcast

    events = Broadcast(events, PlainLog(to_study_log=True))
    events.study_started(paths.id, paths.root, [(n, epochs.get(n) or 0) for n in names])
    events.note(
        f"{len(names)} run(s), at most {placement.jobs} at once on "
        f"{placement.device.name or placement.device.spec}"
    )
    schedule = Schedule(
        paths, names, placement.backend, placement.jobs, settings.retries, events, locks, epochs
    )
    if data_dir is not None:
        data = Path(data_dir).absolute()
        schedule.queue = collections.deque(
            dataclasses.replace(job, data_dir=data) for job in schedule.queue
        )
    stop = StopSignals()
    result = StudyResult(study_dir=paths.root)
    with stop.installed():
        try:
            schedule.run(stop)
        except KeyboardInterrupt:
            result.signal_number = int(signal.SIGINT)
        else:
            result.signal_number = stop.signal_number
    result.states = dict(schedule.states)
    for job in schedule.queue:
        result.states.setdefault(job.name, st.QUEUED)
    for name in names:
        result.states.setdefault(name, st.QUEUED)
    if schedule.unwritable is not None:  # as train/study.py ends on a StorageError: exit 3
        record_end(paths, ExitCode.UNAVAILABLE, events.note)
        raise StorageError(schedule.unwritable)
    record_end(paths, result.exit_code, events.note)
    events.study_finished(result.states)
    return result


__all__ = ["Schedule", "judge", "resume_parallel", "run_parallel"]
