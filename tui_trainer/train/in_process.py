"""The in-process executor (`--jobs 1`, the fast path): the study's own process trains its runs
one after another, sharing one device set-up and one dataset cache between them, with no process
to start per run. What study/lifecycle.py drives when the CLI picks it.

Signals: the first SIGINT or SIGTERM asks the current run to stop after its current step (it
checkpoints there, the finished epochs stay on disk, the run reads `interrupted`); a second SIGINT
stops at once. A run the run source asks to stop early gets a stop request in its directory
(store/stop_request.py), read by its RunTrainer at the epoch's end or its next heartbeat.

Threads: each run records the CPU threads it trains with (status.toml `threads`), and a resume
trains it with those again: the thread count orders a CPU's sums, so another count would write
other rows (acceleration.training_threads).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from tui_trainer.config.load import LoadedStudy
from tui_trainer.errors import ConfigError, Problem
from tui_trainer.signals import StopSignals
from tui_trainer.store import status as st
from tui_trainer.store.layout import StudyPaths
from tui_trainer.store.lock import RunLocks
from tui_trainer.store.reader import StudyRecord
from tui_trainer.store.schema import read_status
from tui_trainer.store.stop_request import write_stop_request
from tui_trainer.store.study_files import DeviceRecord
from tui_trainer.study import lifecycle
from tui_trainer.study.events import TrainingEvents
from tui_trainer.study.executor import Prepared, ResumeRequest, StartRequest
from tui_trainer.study.result import StudyResult
from tui_trainer.study.source import RunSource
from tui_trainer.train.acceleration import configure_device, resolve_precision, training_threads
from tui_trainer.train.data import LOADING_FIELDS, DatasetCache, split_problems
from tui_trainer.train.device import device_name, resolve_device
from tui_trainer.train.loop import RunTrainer
from tui_trainer.train.models import build_model, ensure_weights, tracked_parameters
from tui_trainer.train.resume_preflight import check_resume


def study_device(device: torch.device) -> DeviceRecord:
    """The device as the study's records name it."""
    return DeviceRecord(str(device), device_name(device))


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


class InProcessExecutor:
    """Trains the runs in this process, one after another, on one device."""

    def __init__(self, device_spec: str | None = None):
        self.device_spec = device_spec
        self.device = torch.device("cpu")
        self.data = DatasetCache()

    def prepare(self, request: StartRequest | ResumeRequest) -> Prepared:
        if isinstance(request, StartRequest):
            self.device = resolve_device(self.device_spec or request.loaded.preset.train.device)
            configure_device(self.device)
            preflight(request.loaded, self.device, self.data)
        else:
            asked = self.device_spec or request.specs[0].config.train.device
            self.device = resolve_device(asked)
            configure_device(self.device)
            check_resume(request.targets, request.specs, self.device, self.data)
        return Prepared(study_device(self.device))

    def train(
        self,
        paths: StudyPaths,
        source: RunSource,
        events: TrainingEvents,
        stop: StopSignals,
        locks: RunLocks,
        states: dict[str, str],
    ) -> None:
        share = torch.get_num_threads()  # as configure_device chose: a new run's count
        told = _AskingSource(events, source, paths)
        current = None
        try:
            while not stop.event.is_set():
                run = source.next_run()
                if run is None:
                    break
                current = run.name
                run_paths = paths.run(run.name)
                recorded = read_status(run_paths.status) if run.resume else None
                threads = training_threads(recorded.threads if recorded else None, share)
                trainer = RunTrainer(
                    run.spec, run_paths, self.device, self.data, told, stop.event, run.resume
                )
                trainer.status.update(threads=threads)  # what a resume of it trains with
                states[run.name] = trainer.run().state
                source.run_ended(run.name, states[run.name])
        except KeyboardInterrupt:
            if current is not None:
                states.setdefault(current, st.INTERRUPTED)
            raise

    def close(self) -> None:
        return None


class _AskingSource:
    """The events, with each epoch row also told to the run source; a reason it gives back to
    stop that run becomes the run's stop request (read by its RunTrainer at the epoch's end)."""

    def __init__(self, events: TrainingEvents, source: RunSource, paths: StudyPaths):
        self._events = events
        self._source = source
        self._paths = paths

    def epoch_ended(self, name: str, row: Mapping[str, Any]) -> None:
        self._events.epoch_ended(name, row)
        reason = self._source.epoch_ended(name, row)
        if reason is not None:
            with contextlib.suppress(OSError):  # a full disk ends the run at its next write
                write_stop_request(self._paths.run(name).stop_request, reason)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._events, name)


def run_study(
    loaded: LoadedStudy,
    runs_dir: Path,
    events: TrainingEvents,
    device_spec: str | None = None,
    argv: Sequence[str] | None = None,
    into: Path | None = None,
    source: RunSource | None = None,
) -> StudyResult:
    """`run` of `loaded`, trained in this process (the lifecycle with this executor)."""
    executor = InProcessExecutor(device_spec)
    return lifecycle.start_study(loaded, runs_dir, executor, events, argv, into, source)


def resume_study(
    study: StudyRecord,
    run_name: str | None,
    events: TrainingEvents,
    device_spec: str | None = None,
    argv: Sequence[str] | None = None,
    data_dir: Path | None = None,
    parallel: Mapping[str, Any] | None = None,
) -> StudyResult:
    """`resume` of `study` (or its run `run_name`), trained in this process."""
    executor = InProcessExecutor(device_spec)
    return lifecycle.resume_study(
        study, run_name, executor, events, argv, data_dir=data_dir, parallel=parallel
    )


__all__ = ["InProcessExecutor", "preflight", "resume_study", "run_study", "study_device"]
