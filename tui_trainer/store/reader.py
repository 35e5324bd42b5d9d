"""Tolerant readers of the run directory: studies and runs as the CLI and the TUI show them.

Nothing read from disk is trusted: a missing, garbled or non-regular file reads as absent, run
names that would leave the study directory are ignored (and one listed twice is read once, and
reported), every string is made printable, a study that cannot be read is listed as unreadable
with the reason (never silently left out), and liveness follows store.status.effective_state.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tui_trainer.did_you_mean import did_you_mean
from tui_trainer.errors import SeveralStudies, UsageError
from tui_trainer.printable import printable
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import Row, read_rows
from tui_trainer.store.layout import STATUS_FILE, STUDY_FILE, RunPaths, StudyPaths, is_safe_name
from tui_trainer.store.schema import (
    RunStatus,
    RunSummary,
    TrainerRecord,
    read_status,
    read_summary,
    trainer_records,
)


class Headlines:
    """A run's headline numbers, for tables: from summary.toml once the run has one, else the
    latest that status.toml holds. Mixed into RunRecord and follow.RunSeries."""

    status: RunStatus
    summary: RunSummary | None

    @property
    def best_val_acc(self) -> float | None:
        summary = self.summary.best_val_acc if self.summary is not None else None
        return summary if summary is not None else self.status.best_val_acc

    @property
    def test_acc(self) -> float | None:
        summary = self.summary.test_acc if self.summary is not None else None
        return summary if summary is not None else self.status.test_acc


@dataclass
class RunRecord(Headlines):
    """One run as read from disk. `config` and `metrics` are filled only by `read_run_details`."""

    study_id: str
    paths: RunPaths
    status: RunStatus
    state: str
    summary: RunSummary | None
    config: dict[str, Any] | None = None
    metrics: list[Row] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.paths.name

    @functools.cached_property
    def epoch(self) -> int:
        """The finished epochs: the newline-terminated rows of metrics.csv, which are what a
        resume keeps. Not status.toml's figure: a full disk can keep that from being written
        after the row was (a run stopped there must not read 0/3). That figure only where
        there is no metrics.csv at all. Read once, when asked (the monitor never asks).

        A completed run's status.toml written after metrics.csv last changed counts every
        row: its trainer wrote it last, after the last row and its own epoch figure. So a
        listing of thousands of finished runs parses no CSV. Not so in any other state: the
        heartbeat rewrites status.toml while the epoch's checkpoint is saved, after its row,
        with the figure from before it, and a trainer stopped there leaves it so."""
        if self.metrics:
            return len(self.metrics)
        if self.status.state == st.COMPLETED and _written_after(
            self.paths.status, self.paths.metrics
        ):
            return self.status.epoch
        rows = read_rows(self.paths.metrics)
        if rows or os.path.lexists(self.paths.metrics):
            return len(rows)
        return self.status.epoch

    @property
    def epochs(self) -> int | None:
        return self.status.epochs


def _written_after(later: Path, earlier: Path) -> bool:
    """Whether `later` was last modified strictly after `earlier` (both there, both files)."""
    try:
        return os.stat(later).st_mtime_ns > os.stat(earlier).st_mtime_ns
    except (OSError, ValueError):
        return False


@dataclass
class StudyRecord:
    """A study directory and its runs, in the order they were launched."""

    paths: StudyPaths
    study: dict[str, Any] | None
    runs: list[RunRecord]
    # what is wrong with the study's files, as a reader found it: study.toml unreadable, a run
    # listed twice. Shown beside the study; `resume` refuses a study with problems.
    problems: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.paths.id

    @property
    def launch(self) -> TrainerRecord:
        """The trainer that created the study, with its provenance."""
        launch = (self.study or {}).get("launch")
        return TrainerRecord.from_toml(launch if isinstance(launch, dict) else None)

    @property
    def trainers(self) -> list[TrainerRecord]:
        """Every trainer of the study, oldest first: the launch, then each resume."""
        return trainer_records(self.study)

    @property
    def name(self) -> str:
        study = (self.study or {}).get("study")
        name = study.get("name") if isinstance(study, dict) else None
        return printable(name) if isinstance(name, str) else self.id

    @property
    def description(self) -> str:
        study = (self.study or {}).get("study")
        text = study.get("description") if isinstance(study, dict) else None
        return printable(text) if isinstance(text, str) else ""

    @property
    def sweep_keys(self) -> list[str]:
        """The swept config keys, in file order."""
        sweep = (self.study or {}).get("sweep")
        return [printable(str(key)) for key in sweep] if isinstance(sweep, dict) else []

    @property
    def launched(self) -> datetime | None:
        return self.launch.time

    @property
    def best_run(self) -> RunRecord | None:
        """The run that stands for the study: the highest best validation accuracy (the first
        launched of equals), its test accuracy shown with it, never another run's; None before
        any run has finished an epoch."""
        scored = [run for run in self.runs if _finite(run.best_val_acc)]
        return max(scored, key=lambda run: run.best_val_acc) if scored else None

    @property
    def state(self) -> str:
        if self.study is None and self.problems:
            return UNREADABLE
        return study_state(
            [run.state for run in self.runs], st.trainer_end(self.trainers), self.uses_workers
        )

    @property
    def uses_workers(self) -> bool:
        """Whether the study's runs train in worker processes (its [parallel] section)."""
        parallel = (self.study or {}).get("parallel")
        if not isinstance(parallel, dict):
            return False
        jobs, gpus = parallel.get("jobs"), parallel.get("gpus")
        per_gpu = parallel.get("runs_per_gpu")
        return bool(
            parallel.get("cluster")
            or (isinstance(jobs, int) and jobs > 1)
            or (isinstance(gpus, list) and gpus)
            or (isinstance(per_gpu, int) and per_gpu > 1)
        )


_STUDY_ID_RE = re.compile(r"^[0-9]{8}-[0-9]{6}-")  # layout.study_id_for
UNREADABLE = "unreadable"  # a study directory whose study.toml cannot be read (its permissions)


def study_state(run_states: list[str], trainer: st.TrainerEnd, workers: bool = False) -> str:
    """One word for a study: running, stalled, crashed, interrupted, failed, queued or
    completed. `trainer` is how its newest trainer stands (store.status.trainer_end).

    Diverged runs are an outcome of a sweep, not a failure of the study. A study trained by
    `workers` (a parallel study) whose driver died without a word (SIGKILL) crashed, even where
    its runs stopped cleanly: its workers checkpoint and stop when their driver is gone."""
    states = set(run_states)
    if not states:
        return st.UNKNOWN
    for state in (st.RUNNING, st.STALLED, st.CRASHED):
        if state in states:
            return state
    if workers and st.INTERRUPTED in states and trainer is st.TrainerEnd.GONE:
        return st.CRASHED
    for state in (st.INTERRUPTED, st.FAILED):
        if state in states:
            return state
    if st.QUEUED in states or st.UNKNOWN in states:
        # Between two runs the trainer is alive with nothing running. Gone without a word, it
        # crashed there; stopped by a signal (or an error it reported), the study was
        # interrupted there and its queued runs wait for `resume`.
        if trainer is st.TrainerEnd.GONE:
            return st.CRASHED
        if trainer is st.TrainerEnd.STOPPED:
            return st.INTERRUPTED
        if states <= {st.QUEUED}:
            return st.QUEUED
        if st.UNKNOWN in states and trainer is not st.TrainerEnd.ALIVE:
            return st.UNKNOWN  # a status that cannot be read is no sign of life
        return st.RUNNING
    return st.COMPLETED


def _run_names(
    paths: StudyPaths, study: Mapping[str, Any] | None, problems: list[str]
) -> list[str]:
    """The study's runs in launch order (study.toml's [launch] runs), each once; without a
    launch record, the directories that hold a status.toml. A name that is not a plain
    directory name, or that is listed twice, is reported in `problems`."""
    launch = (study or {}).get("launch")
    names = TrainerRecord.from_toml(launch if isinstance(launch, dict) else None).runs
    if names is None:
        try:
            names = sorted(
                p.name
                for p in paths.root.iterdir()
                if p.is_dir() and not p.is_symlink() and (p / STATUS_FILE).exists()
            )
        except OSError:
            return []
    kept: list[str] = []
    for name in names:
        if not is_safe_name(name):
            problems.append(f"a run named {printable(name)!r} is not a plain directory name")
        elif name in kept:
            problems.append(f"study.toml lists run {name!r} more than once")
        else:
            kept.append(name)
    return kept


def read_run(
    study_id: str, paths: RunPaths, now: datetime | None = None, summary: bool = True
) -> RunRecord:
    """A run's status and (unless `summary` is False) its summary.toml."""
    status = read_status(paths.status)
    return RunRecord(
        study_id=study_id,
        paths=paths,
        status=status or RunStatus(),
        state=st.effective_state(status, now, paths.root),
        summary=read_summary(paths.summary) if summary else None,
    )


def read_run_details(run: RunRecord) -> RunRecord:
    """Add the run's config and every complete metrics row."""
    run.config = read_toml(run.paths.config)
    run.metrics = read_rows(run.paths.metrics)
    return run


def read_study(root: Path, now: datetime | None = None, summaries: bool = True) -> StudyRecord:
    """A study directory as it is now: study.toml and each run's status (and summary)."""
    paths = StudyPaths(Path(root))
    study = read_toml(paths.study)
    problems: list[str] = []
    if study is None and (problem := _unreadable(paths.study)) is not None:
        problems.append(problem)
    runs = []
    for name in _run_names(paths, study, problems):
        run_paths = paths.run(name)
        if run_paths.root.is_symlink() or not run_paths.root.is_dir():
            continue
        runs.append(read_run(paths.id, run_paths, now, summaries))
    return StudyRecord(paths=paths, study=study, runs=runs, problems=problems)


def _unreadable(path: Path) -> str | None:
    """Why a TOML file of the study could not be read, in a few words; None when it is not
    there yet (a study the app reserved, whose trainer is still loading its data)."""
    from tui_trainer.store.files import MAX_TOML_BYTES, read_limited

    try:
        read_limited(path, MAX_TOML_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot read {path.name}: {exc.strerror or exc}"
    return f"{path.name} is not valid TOML"


def study_dirs(runs_dir: Path) -> list[Path]:
    """Study directories under `runs_dir`, newest first (ids start with the launch time): each
    directory that holds a study.toml, or whose study.toml cannot even be looked for (a study
    this user may not read is listed as unreadable, not left out)."""
    try:
        candidates = [p for p in Path(runs_dir).iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    entries = []
    for path in candidates:
        try:
            os.lstat(path / STUDY_FILE)
        except FileNotFoundError:
            continue  # not a study (exports/, a directory being reserved)
        except OSError:  # no permission to look inside: a study that cannot be read
            if not _STUDY_ID_RE.match(path.name):
                continue
        entries.append(path)
    return sorted(entries, key=lambda p: p.name, reverse=True)


def list_studies(runs_dir: Path, summaries: bool = True) -> list[StudyRecord]:
    """Every study under `runs_dir`, newest first. With `summaries` False the runs' summary.toml
    files are not read: status.toml has the headline figures (best validation and test
    accuracy), and a list of hundreds of studies opens in half the time."""
    return [read_study(path, summaries=summaries) for path in study_dirs(runs_dir)]


def resolve(runs_dir: Path, ident: str) -> tuple[StudyRecord, RunRecord | None]:
    """Find a study, or one run of it, from what a user typed.

    Accepted: `latest`; a study id, a unique prefix or a unique part of one; any of those followed
    by `/RUN`; a path to a study or run directory.
    """
    path = Path(ident)
    if _looks_like_path(ident) or _is_dir(path):
        if _is_file(path / STUDY_FILE):
            return read_study(path), None
        if _is_file(path / STATUS_FILE) and _is_file(path.parent / STUDY_FILE):
            return _pick_run(read_study(path.parent), path.name)
        raise UsageError(f"{ident} is not a study or run directory")
    study_part, _, run_part = ident.partition("/")
    study = _find_study(Path(runs_dir), study_part)
    return _pick_run(study, run_part) if run_part else (study, None)


def _looks_like_path(ident: str) -> bool:
    return ident.startswith(("/", "./", "../", "~")) or ident in (".", "..")


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _pick_run(study: StudyRecord, name: str) -> tuple[StudyRecord, RunRecord]:
    for run in study.runs:
        if run.name == name:
            return study, run
    names = ", ".join(run.name for run in study.runs) or "none"
    raise UsageError(f"study {study.id} has no run {name!r} (its runs: {names})")


def _find_study(runs_dir: Path, ident: str) -> StudyRecord:
    dirs = study_dirs(runs_dir)
    if not dirs:
        raise UsageError(f"no studies under {runs_dir}/ yet (start one with `tui-trainer run`)")
    if ident in ("latest", ""):
        return read_study(dirs[0])
    for matcher in (
        lambda name: name == ident,
        lambda name: name.startswith(ident),
        lambda name: ident in name,
    ):
        found = [d for d in dirs if matcher(d.name)]
        if len(found) == 1:
            return read_study(found[0])
        if len(found) > 1:
            shown = ", ".join(d.name for d in found[:5])
            more = f" and {len(found) - 5} more" if len(found) > 5 else ""
            raise SeveralStudies(
                f"{ident!r} matches several studies: {shown}{more}; be more specific",
                [d.name for d in found],
            )
    names = [_STUDY_ID_RE.sub("", d.name) for d in dirs] + [d.name for d in dirs]
    hint = did_you_mean(ident, names) or "see `tui-trainer runs`"
    raise UsageError(f"no study matches {ident!r} under {runs_dir}/ ({hint})")


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
