"""Run a whole study: create its directory, record provenance, train each run in turn; or resume
the unfinished runs of one.

Signals: the first SIGINT or SIGTERM asks the current run to stop after its current step (it
checkpoints there, the finished epochs stay on disk, the run reads `interrupted`); a second SIGINT
stops at once. A trainer holds a flock on every run directory it writes (store/lock.py).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import platform
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from tui_trainer import __version__
from tui_trainer.config.load import LoadedStudy
from tui_trainer.config.schema import RunConfig
from tui_trainer.config.sweep import RunSpec
from tui_trainer.console.plain import PlainLog
from tui_trainer.errors import ConfigError, ExitCode, Problem, UnavailableError
from tui_trainer.store import resumable
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml, sweep_temp_files, write_toml_atomic
from tui_trainer.store.layout import StudyPaths, create_study_dir
from tui_trainer.store.lock import LockHeld, RunLocks, allow_open_files, held
from tui_trainer.store.reader import StudyRecord, read_study
from tui_trainer.store.schema import RunStatus, TrainerRecord, write_status
from tui_trainer.train.acceleration import configure_device, resolve_precision
from tui_trainer.train.data import LOADING_FIELDS, DatasetCache, split_problems
from tui_trainer.train.device import device_name, resolve_device
from tui_trainer.train.events import Broadcast, TrainingEvents
from tui_trainer.train.loop import RunTrainer
from tui_trainer.train.models import build_model, ensure_weights, tracked_parameters
from tui_trainer.train.resume_preflight import check_resume, resume_data_config

STALE_TEMP_S = 60.0  # a temp file this old in a study directory is no live writer's


@dataclass
class StudyResult:
    study_dir: Path
    states: dict[str, str] = field(default_factory=dict)
    signal_number: int | None = None

    @property
    def exit_code(self) -> ExitCode:
        if all(state == st.COMPLETED for state in self.states.values()):
            return ExitCode.OK  # even when a signal came during the last run's test evaluation
        if self.signal_number == signal.SIGTERM:
            return ExitCode.TERMINATED
        if self.signal_number is not None:
            return ExitCode.INTERRUPTED
        return ExitCode.RUN_FAILED


class StopSignals:
    """First SIGINT/SIGTERM: set `event` (stop after the current step). Second SIGINT: raise
    KeyboardInterrupt at once. Restores the previous handlers on exit."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_number: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_number = signum
        self.event.set()

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals can only be handled on the main thread (tests call from others)
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)


def git_commit() -> str | None:
    """The commit of the tui-trainer source, when it runs from a git checkout."""
    source = Path(__file__).resolve().parent
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        result = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if result.returncode == 0:
            return result.stdout.strip()
    return None


def versions() -> dict[str, str]:
    import numpy
    import torchvision

    return {
        "tui_trainer": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
    }


def launch_record(
    loaded: LoadedStudy, device: torch.device, argv: Sequence[str], started: datetime
) -> TrainerRecord:
    """study.toml's [launch]: this trainer, what it was asked to run, and its provenance."""
    return TrainerRecord(
        time=started,
        **st.process_identity(),
        command=list(argv),
        runs=[run.name for run in loaded.runs],
        device=str(device),
        device_name=device_name(device),
        user=_user(),
        cwd=os.getcwd(),
        preset=str(loaded.source),
        overrides=[o.text for o in loaded.overrides],
        versions=versions(),
        git_commit=git_commit(),
    )


def resume_record(names: list[str], device: torch.device, argv: Sequence[str]) -> TrainerRecord:
    """One [[resumes]] entry of study.toml: this trainer and the runs it goes on with."""
    return TrainerRecord(
        time=datetime.now(timezone.utc).astimezone(),
        **st.process_identity(),
        command=list(argv),
        runs=names,
        device=str(device),
        device_name=device_name(device),
    )


def _user() -> str | None:
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return None


def create_study(
    loaded: LoadedStudy,
    runs_dir: Path,
    device: torch.device,
    argv: Sequence[str],
    into: Path | None = None,
    locks: RunLocks | None = None,
) -> StudyPaths:
    """Make the study directory (or fill `into`, reserved by a launcher) with each run's
    config.toml and queued status, then study.toml: readers list a directory as a study only
    once study.toml exists, so a trainer killed while creating it leaves no half-made study.
    Each run directory is locked into `locks` before study.toml makes the study visible, so no
    `resume` can take a run of it."""
    started = datetime.now(timezone.utc).astimezone()
    if into is not None and (not into.is_dir() or (into / "study.toml").exists()):
        raise UnavailableError(
            f"--into {into}: not an empty study directory reserved by a launcher"
        )
    try:
        paths = StudyPaths(
            into
            if into is not None
            else create_study_dir(runs_dir, loaded.preset.study.name, started.replace(tzinfo=None))
        )
        for run in loaded.runs:
            run_paths = paths.run(run.name)
            run_paths.root.mkdir()
            if locks is not None:
                locks.acquire(run_paths.root)
            write_toml_atomic(run_paths.config, run.config.model_dump(), durable=True)
            write_status(
                run_paths.status,
                RunStatus(state=st.QUEUED, epochs=run.config.train.epochs, swept=run.values),
            )
        study = loaded.preset.model_dump()
        study["launch"] = launch_record(loaded, device, argv, started).to_toml()
        write_toml_atomic(paths.study, study, durable=True)
    except OSError as exc:
        where = exc.filename or runs_dir
        raise UnavailableError(f"cannot write the study under {where}: {exc.strerror}") from None
    except LockHeld as held:  # only a hand-made directory passed as --into can be locked
        raise UnavailableError(f"{held.path}: another trainer is writing it") from None
    return paths


def preflight(loaded: LoadedStudy, device: torch.device, data: DatasetCache) -> None:
    """Everything that can be found wrong before a directory is written: each distinct dataset
    loads (CIFAR found or downloaded) and leaves images in every split, pretrained weights are
    at hand, tracked parameter names exist, and the device can do the precision asked for."""
    problems: list[Problem] = []
    seen_data: set[str] = set()
    seen_models: set[str] = set()
    source = str(loaded.source)
    for run in loaded.runs:
        cfg = run.config
        resolve_precision(cfg.train.precision, device)  # UnavailableError if it cannot
        data_key = cfg.data.model_dump_json(include=LOADING_FIELDS)
        splits = data.get(cfg.data, device)
        if data_key not in seen_data:
            seen_data.add(data_key)
            for message in split_problems(splits):
                key = "data.val_fraction / data.test_fraction"
                problems.append(Problem(f"{message} (run {run.name})", source=source, key=key))
        model_key = cfg.model.model_dump_json() + repr(cfg.train.track_grad_norm)
        if model_key in seen_models:
            continue
        seen_models.add(model_key)
        if cfg.model.pretrained:
            ensure_weights(cfg.model.arch)
        if cfg.train.track_grad_norm:
            model = build_model(
                cfg.model.model_copy(update={"pretrained": False}), splits.num_classes
            )
            try:
                tracked_parameters(model, cfg.train.track_grad_norm)
            except ValueError as exc:
                message = str(exc).removeprefix("train.track_grad_norm: ")
                problems.append(Problem(message, source=source, key="train.track_grad_norm"))
    if problems:
        raise ConfigError(problems)


def run_study(
    loaded: LoadedStudy,
    runs_dir: Path,
    events: TrainingEvents,
    device_spec: str | None = None,
    argv: Sequence[str] | None = None,
    into: Path | None = None,
) -> StudyResult:
    """Train every run of `loaded` in order, telling `events` (the display) as it goes, and the
    study's trainer.log. Returns the states and the signal that stopped it."""
    device = resolve_device(device_spec or loaded.preset.train.device)
    configure_device(device)
    data = DatasetCache()
    preflight(loaded, device, data)
    allow_open_files(len(loaded.runs))
    with RunLocks() as locks:
        argv = argv if argv is not None else sys.argv
        paths = create_study(loaded, runs_dir, device, argv, into, locks)
        runs = [(run, False) for run in loaded.runs]
        return _train_runs(paths, runs, device, data, events, unlocked=locks.unsupported)


def _train_runs(
    paths: StudyPaths,
    runs: list[tuple[RunSpec, bool]],
    device: torch.device,
    data: DatasetCache,
    events: TrainingEvents,
    before: dict[str, str] | None = None,
    unlocked: Sequence[Path] = (),
) -> StudyResult:
    """Train `runs` ((spec, resume) pairs) in order under the stop signals. The result holds the
    state of each of them; one never reached keeps its state from `before` (else queued)."""
    result = StudyResult(study_dir=paths.root)
    # trainer.log gets the plain lines whatever the display is.
    events = Broadcast(events, PlainLog(to_study_log=True))
    events.study_started(paths.id, paths.root, [(r.name, r.config.train.epochs) for r, _ in runs])
    if unlocked:
        events.note(
            f"this file system cannot lock run directories ({unlocked[0]}): a second trainer "
            "is kept off a live run only by its heartbeat"
        )
    stop = StopSignals()
    with stop.installed():
        current = None
        try:
            for run, resume in runs:
                if stop.event.is_set():
                    break
                current = run.name
                trainer = RunTrainer(
                    run, paths.run(run.name), device, data, events, stop.event, resume=resume
                )
                result.states[run.name] = trainer.run().state
        except KeyboardInterrupt:
            result.signal_number = int(signal.SIGINT)
            if current is not None:
                result.states.setdefault(current, st.INTERRUPTED)
        except UnavailableError:  # the runs directory cannot be written: the study stops
            record_end(paths, ExitCode.UNAVAILABLE, events.note)
            raise
        else:
            result.signal_number = stop.signal_number
    for run, _ in runs:
        result.states.setdefault(run.name, (before or {}).get(run.name, st.QUEUED))
    record_end(paths, result.exit_code, events.note)  # before study_finished closes the log
    events.study_finished(result.states)
    return result


def record_end(paths: StudyPaths, code: ExitCode, note: Callable[[str], None]) -> None:
    """Write this trainer's end (time and exit code) into its record in study.toml (the
    launch, or its [[resumes]] entry): readers then tell a study that stopped (a signal, a full
    disk) from one whose trainer was killed. Best effort: a full disk leaves it unwritten, and
    the study then reads as crashed."""
    me = st.process_identity()
    try:
        with held(paths.root):
            study = read_toml(paths.study)
            if study is None:
                return
            tables = [study.get("launch"), *(study.get("resumes") or [])]
            for table in reversed(tables):
                if (
                    isinstance(table, dict)
                    and table.get("pid") == me["pid"]
                    and table.get("pid_started") == me["pid_started"]
                ):
                    table["ended"] = datetime.now(timezone.utc).astimezone()
                    table["exit_code"] = int(code)
                    write_toml_atomic(paths.study, study, durable=True)
                    return
    except (OSError, TypeError) as exc:
        note(f"could not record the trainer's end in {paths.study}: {exc}")


def run_config(path: Path) -> RunConfig:
    """A run's config.toml, validated again (it may have been edited by hand)."""
    import pydantic

    data = read_toml(path)
    if data is None:
        raise ConfigError([Problem("missing or not valid TOML", source=str(path))])
    try:
        return RunConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [
            Problem(error["msg"], source=str(path), key=".".join(map(str, error["loc"])))
            for error in exc.errors()
        ]
        raise ConfigError(problems) from None


def resume_study(
    study: StudyRecord,
    run_name: str | None,
    events: TrainingEvents,
    device_spec: str | None = None,
    argv: Sequence[str] | None = None,
    data_dir: Path | None = None,
) -> StudyResult:
    """Continue the unfinished runs of `study` (or only `run_name`) from their last checkpoints,
    and start its runs that never started. Refuses (UnavailableError) when another trainer
    writes any of them, and (resume_preflight.check_resume) whatever would lose or invent
    history, before anything is written. `data_dir` replaces the runs' data.data_dir."""
    targets = resumable.plan(study, run_name)
    paths = study.paths
    allow_open_files(len(targets))
    with RunLocks() as locks:
        try:
            locks.acquire_all(target.run.paths.root for target in targets)
        except LockHeld as held:
            raise UnavailableError(
                f"{held.path}: another trainer is writing it; stop that one first"
            ) from None
        except OSError as exc:
            where = exc.filename or paths.root
            raise UnavailableError(f"cannot lock {where}: {exc.strerror}") from None
        # What the runs are now that no one else can write them: another trainer may have
        # started or finished one of them between the plan and the locks.
        study = read_study(paths.root)
        fresh = resumable.plan(study, run_name)
        if [t.name for t in fresh] != [t.name for t in targets]:
            raise UnavailableError(f"{study.id}: its runs changed while resuming; try again")
        specs = []
        for target in fresh:
            config = resume_data_config(target.name, run_config(target.run.paths.config), data_dir)
            values = dict(target.run.status.swept)
            # a queued run resumes too: if a trainer started it and died, its rows are cut
            specs.append((RunSpec(target.name, values, config), True))
        device = resolve_device(device_spec or specs[0][0].config.train.device)
        configure_device(device)
        data = DatasetCache()
        check_resume(fresh, [spec for spec, _ in specs], device, data)
        _record_resume(paths, [t.name for t in fresh], device, argv or sys.argv)
        before = {run.name: run.state for run in study.runs}
        return _train_runs(
            paths, specs, device, data, events, before=before, unlocked=locks.unsupported
        )


def _record_resume(
    paths: StudyPaths, names: list[str], device: torch.device, argv: Sequence[str]
) -> None:
    """Append this trainer to study.toml's `resumes`, so that readers (and the app's stop key)
    find the live trainer of the study."""
    try:
        with held(paths.root):  # two resumes of one study at once: both records kept
            _append_resume(paths, names, device, argv)
    except OSError as exc:
        where = exc.filename or paths.study
        raise UnavailableError(f"cannot write {where}: {exc.strerror}") from None
    # what a trainer killed while writing study.toml left (old enough to be no one's)
    sweep_temp_files(paths.root, older_than_s=STALE_TEMP_S)


def _append_resume(
    paths: StudyPaths, names: list[str], device: torch.device, argv: Sequence[str]
) -> None:
    study = read_toml(paths.study)
    if study is None:
        raise UnavailableError(f"{paths.study}: missing or not valid TOML")
    resumes = study.get("resumes")
    resumes = list(resumes) if isinstance(resumes, list) else []
    resumes.append(resume_record(names, device, argv).to_toml())
    study["resumes"] = resumes
    write_toml_atomic(paths.study, study, durable=True)


__all__ = ["StudyResult", "create_study", "resume_study", "run_study"]
