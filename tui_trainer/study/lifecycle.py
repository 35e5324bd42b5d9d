"""The one place that starts, resumes and ends a study, whatever trains its runs (an executor:
study/executor.py). Written once so that the in-process trainer and a parallel study's workers
cannot drift apart again: both check before they write (`Executor.prepare`), lock every run
directory they will write (store/lock.py) and say when the file system cannot, record the study
(create_study) or the resume (record_resume, with the parallel settings it goes on with), take
SIGINT/SIGTERM the same way (signals.py), give the runs never reached their state from before
(else queued), record a runs directory that cannot be written as the study's end (exit 3), and
record the end before the display's last word (record_end, then study_finished).

The display and trainer.log's lines come composed from the CLI as one `events`; nothing here
imports torch or a display.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_trainer.config.run_file import resume_data_config, run_config
from tui_trainer.config.sweep import RunSpec
from tui_trainer.errors import ExitCode, UnavailableError
from tui_trainer.signals import StopSignals
from tui_trainer.store import resumable
from tui_trainer.store import status as st
from tui_trainer.store.layout import StudyPaths
from tui_trainer.store.lock import RunLocks, allow_open_files
from tui_trainer.store.study_files import (
    NewRun,
    NewStudy,
    create_study,
    record_end,
    record_resume,
)
from tui_trainer.study.executor import Executor, Prepared, ResumeRequest, StartRequest
from tui_trainer.study.result import StudyResult
from tui_trainer.study.source import GridSource, RunSource, SourceRun

if TYPE_CHECKING:
    from tui_trainer.config.load import LoadedStudy
    from tui_trainer.store.reader import StudyRecord
    from tui_trainer.study.events import TrainingEvents


def new_study(loaded: LoadedStudy) -> NewStudy:
    """What the study directory and study.toml are made of, as plain data."""
    return NewStudy(
        name=loaded.preset.study.name,
        preset=loaded.preset.model_dump(),
        source=str(loaded.source),
        overrides=[o.text for o in loaded.overrides],
        runs=[
            NewRun(r.name, r.config.model_dump(), r.config.train.epochs, dict(r.values))
            for r in loaded.runs
        ],
    )


def start_study(
    loaded: LoadedStudy,
    runs_dir: Path,
    executor: Executor,
    events: TrainingEvents,
    argv: Sequence[str] | None = None,
    into: Path | None = None,
    source: RunSource | None = None,
) -> StudyResult:
    """`tui-trainer run`: check the study, make its directory, train its runs (the grid, unless
    a `source` is given) to their ends or a stop, and record how it ended."""
    try:
        prepared = executor.prepare(StartRequest(loaded, Path(runs_dir)))
        allow_open_files(len(loaded.runs))
        with RunLocks() as locks:
            argv = argv if argv is not None else sys.argv
            paths = create_study(new_study(loaded), runs_dir, prepared.device, argv, into, locks)
            if source is None:
                source = GridSource([SourceRun(run) for run in loaded.runs])
            return _train(paths, source, executor, events, locks)
    finally:
        executor.close()


def resume_study(
    study: StudyRecord,
    run_name: str | None,
    executor: Executor,
    events: TrainingEvents,
    argv: Sequence[str] | None = None,
    data_dir: Path | None = None,
    parallel: Mapping[str, Any] | None = None,
) -> StudyResult:
    """`tui-trainer resume`: continue the unfinished runs of `study` (or only `run_name`) from
    their last checkpoints, and start its runs that never started. Refuses (UnavailableError)
    when another trainer writes any of them, and whatever would lose or invent history, before
    anything is written. `data_dir` replaces the runs' data.data_dir; `parallel` (the settings
    the study goes on with) replaces study.toml's [parallel]."""
    paths = study.paths
    try:
        with RunLocks() as locks:
            study, targets = resumable.lock_targets(study, run_name, locks)
            specs = resume_specs(targets, data_dir)
            prepared: Prepared = executor.prepare(ResumeRequest(study, targets, specs))
            names = [t.name for t in targets]
            argv = argv or sys.argv
            record_resume(paths, names, prepared.device, argv, dict(parallel or {}) or None)
            before = {run.name: run.state for run in study.runs}
            source = GridSource([SourceRun(spec, resume=True) for spec in specs])
            return _train(paths, source, executor, events, locks, before)
    finally:
        executor.close()


def resume_specs(targets: Sequence[resumable.ResumeTarget], data_dir: Path | None) -> list[RunSpec]:
    """What each resumed run trains with: its config.toml (a located error when it does not
    load), data.data_dir as resume_data_config says."""
    specs = []
    for target in targets:
        config = resume_data_config(target.name, run_config(target.run.paths.config), data_dir)
        # a queued run resumes too: if a trainer started it and died, its rows are cut
        specs.append(RunSpec(target.name, dict(target.run.status.swept), config))
    return specs


def _train(
    paths: StudyPaths,
    source: RunSource,
    executor: Executor,
    events: TrainingEvents,
    locks: RunLocks,
    before: Mapping[str, str] | None = None,
) -> StudyResult:
    """Train what `source` hands out under the stop signals. The result holds the state of
    each run the source knows; one never reached keeps its state from `before` (else queued)."""
    result = StudyResult(study_dir=paths.root)
    source.begin(paths, locks)
    events.study_started(paths.id, paths.root, [(r.name, r.epochs) for r in source.known()])
    if locks.unsupported:
        events.note(
            f"this file system cannot lock run directories ({locks.unsupported[0]}): a second "
            "trainer is kept off a live run only by its heartbeat"
        )
    stop = StopSignals()
    with stop.installed():
        try:
            executor.train(paths, source, events, stop, locks, result.states)
        except KeyboardInterrupt:
            result.signal_number = int(signal.SIGINT)
        except UnavailableError:  # the runs directory cannot be written: the study stops
            record_end(paths, ExitCode.UNAVAILABLE, events.note)
            raise
        else:
            result.signal_number = stop.signal_number
    for run in source.known():
        result.states.setdefault(run.name, (before or {}).get(run.name, st.QUEUED))
    record_end(paths, result.exit_code, events.note)  # before study_finished closes the log
    events.study_finished(result.states)
    return result


__all__ = ["new_study", "resume_specs", "resume_study", "start_study"]
