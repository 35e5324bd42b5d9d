"""Run a whole study: create its directory, record provenance, train each run in turn; or resume
the unfinished runs of one.

Signals: the first SIGINT or SIGTERM asks the current run to stop after its current step (it
checkpoints there, the finished epochs stay on disk, the run reads `interrupted`); a second SIGINT
stops at once. A trainer holds a flock on every run directory it writes (store/lock.py).

Threads: each run records the CPU threads it trains with (status.toml `threads`), and a resume
trains it with those again: the thread count orders a CPU's sums, so another count would write
other rows (acceleration.training_threads).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from tui_trainer.config.load import LoadedStudy
from tui_trainer.config.messages import describe_error, render_key
from tui_trainer.config.schema import SECTION_MODELS, RunConfig
from tui_trainer.config.sweep import RunSpec
from tui_trainer.console.plain import PlainLog
from tui_trainer.errors import ConfigError, ExitCode, Problem, UnavailableError
from tui_trainer.signals import StopSignals
from tui_trainer.store import resumable
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.layout import StudyPaths
from tui_trainer.store.lock import RunLocks, allow_open_files
from tui_trainer.store.reader import StudyRecord
from tui_trainer.store.schema import read_status
from tui_trainer.store.study_files import Device, create_study, record_end, record_resume
from tui_trainer.study_result import StudyResult
from tui_trainer.train.acceleration import configure_device, resolve_precision, training_threads
from tui_trainer.train.data import LOADING_FIELDS, DatasetCache, split_problems
from tui_trainer.train.device import device_name, resolve_device
from tui_trainer.train.events import Broadcast, TrainingEvents
from tui_trainer.train.loop import RunTrainer
from tui_trainer.train.models import build_model, ensure_weights, tracked_parameters
from tui_trainer.train.resume_preflight import check_resume, resume_data_config


def study_device(device: torch.device) -> Device:
    """The device as the study's records name it."""
    return Device(str(device), device_name(device))


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
        paths = create_study(loaded, runs_dir, study_device(device), argv, into, locks)
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
    share = torch.get_num_threads()  # as configure_device chose: a new run's count
    with stop.installed():
        current = None
        try:
            for run, resume in runs:
                if stop.event.is_set():
                    break
                current = run.name
                run_paths = paths.run(run.name)
                recorded = read_status(run_paths.status) if resume else None
                threads = training_threads(recorded.threads if recorded else None, share)
                trainer = RunTrainer(
                    run, run_paths, device, data, events, stop.event, resume=resume
                )
                trainer.status.update(threads=threads)  # what a resume of it trains with
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


def run_config(path: Path) -> RunConfig:
    """A run's config.toml, validated again (it may have been edited by hand)."""
    import pydantic

    data = read_toml(path)
    if data is None:
        raise ConfigError([Problem("missing or not valid TOML", source=str(path))])
    try:
        return RunConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = []
        for error in exc.errors():  # worded and keyed as the same key's error in a preset
            loc, message = describe_error(error, SECTION_MODELS)
            problems.append(Problem(message, source=str(path), key=render_key(loc)))
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
    paths = study.paths
    with RunLocks() as locks:
        study, targets = resumable.lock_targets(study, run_name, locks)
        specs, device = resume_specs(targets, device_spec, data_dir)
        configure_device(device)
        data = DatasetCache()
        check_resume(targets, specs, device, data)
        record_resume(paths, [t.name for t in targets], study_device(device), argv or sys.argv)
        before = {run.name: run.state for run in study.runs}
        return _train_runs(
            paths,
            [(spec, True) for spec in specs],
            device,
            data,
            events,
            before=before,
            unlocked=locks.unsupported,
        )


def resume_specs(
    targets: Sequence[resumable.ResumeTarget], device_spec: str | None, data_dir: Path | None
) -> tuple[list[RunSpec], torch.device]:
    """What each resumed run trains with (its config.toml, data.data_dir as resume_data_config
    says), and the device: `device_spec`, else the first run's train.device."""
    specs = []
    for target in targets:
        config = resume_data_config(target.name, run_config(target.run.paths.config), data_dir)
        # a queued run resumes too: if a trainer started it and died, its rows are cut
        specs.append(RunSpec(target.name, dict(target.run.status.swept), config))
    return specs, resolve_device(device_spec or specs[0].config.train.device)


__all__ = ["StudyResult", "resume_study", "run_study"]
