"""Which runs of a study `tui-trainer resume` continues, and the checks that keep it inside the
study directory. No torch: the app uses this to decide whether to offer resume.

A run is resumed when it was interrupted, crashed (its trainer died), failed, or never started
(queued). Completed runs have nothing left to do; a diverged run would diverge again from the same
checkpoint, so it is left alone. A run whose trainer is alive is never touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tui_trainer.errors import UnavailableError, UsageError
from tui_trainer.store import status as st
from tui_trainer.store.layout import (
    CHECKPOINTS_DIR,
    CONFUSION_FILE,
    METRICS_FILE,
    STATUS_FILE,
    STEPS_FILE,
    STUDY_FILE,
    SUMMARY_FILE,
    TRAINER_LOG,
    is_safe_name,
)
from tui_trainer.store.lock import LOCK_FILE
from tui_trainer.store.reader import RunRecord, StudyRecord

RESUMABLE = (st.INTERRUPTED, st.CRASHED, st.FAILED, st.QUEUED, st.UNKNOWN)

# The files a resumed run writes: none of them may be a symlink, which could point outside.
WRITTEN_FILES = (STATUS_FILE, METRICS_FILE, STEPS_FILE, SUMMARY_FILE, CONFUSION_FILE)


@dataclass(frozen=True)
class ResumeTarget:
    run: RunRecord
    from_checkpoint: bool  # False: the run never started, it starts at epoch 1

    @property
    def name(self) -> str:
        return self.run.name


def is_resumable(state: str) -> bool:
    return state in RESUMABLE


def study_resumable(study: StudyRecord) -> bool:
    """Whether `tui-trainer resume STUDY` has something to do (and nothing of it is live)."""
    states = [run.state for run in study.runs]
    return st.RUNNING not in states and any(is_resumable(s) for s in states)


def plan(study: StudyRecord, run_name: str | None = None) -> list[ResumeTarget]:
    """The runs to resume, in study order: the named one, or every resumable run of the study.
    UsageError when there is nothing to resume; UnavailableError when a run is live."""
    live = [run for run in study.runs if run.state == st.RUNNING]
    if run_name is not None:
        chosen = [run for run in study.runs if run.name == run_name]
        if not chosen:
            names = ", ".join(run.name for run in study.runs) or "none"
            raise UsageError(f"study {study.id} has no run {run_name!r} (its runs: {names})")
        run = chosen[0]
        if run.state == st.RUNNING:
            raise _live(study, [run])
        if run.state == st.COMPLETED:
            raise UsageError(f"{study.id}/{run.name} is completed: nothing to resume")
        if run.state == st.DIVERGED:
            raise UsageError(
                f"{study.id}/{run.name} diverged; resuming would diverge again: run it anew "
                "with a lower learning rate"
            )
        runs = [run]
    else:
        if live:
            raise _live(study, live)
        runs = [run for run in study.runs if is_resumable(run.state)]
        if not runs:
            raise UsageError(f"{study.id}: nothing to resume (every run is completed or diverged)")
    targets = [ResumeTarget(run, run.state != st.QUEUED) for run in runs]
    check_inside(study, targets)
    return targets


def _live(study: StudyRecord, runs: list[RunRecord]) -> UnavailableError:
    described = ", ".join(f"{run.name} (pid {run.status.pid or '?'})" for run in runs)
    return UnavailableError(
        f"{study.id}: a trainer is still writing {described}; stop it first (s in the app, "
        "or kill -TERM PID)"
    )


def check_inside(study: StudyRecord, targets: Iterable[ResumeTarget]) -> None:
    """Refuse a run whose directory or written files are symlinks or named so that they would
    lead outside the study directory (a hand-edited or hostile study.toml)."""
    root = study.paths.root.resolve()
    for name in (STUDY_FILE, TRAINER_LOG, LOCK_FILE):
        if (study.paths.root / name).is_symlink():
            raise UsageError(f"refusing to resume {study.paths.root}: {name} is a symlink")
    for target in targets:
        run_dir = target.run.paths.root
        problem = None
        if not is_safe_name(run_dir.name):
            problem = "its name is not a plain directory name"
        elif run_dir.is_symlink() or run_dir.resolve().parent != root:
            problem = "its directory is a symlink out of the study"
        else:
            for name in (*WRITTEN_FILES, CHECKPOINTS_DIR, LOCK_FILE):
                if (run_dir / name).is_symlink():
                    problem = f"{name} is a symlink"
                    break
            checkpoints = run_dir / CHECKPOINTS_DIR
            if problem is None and checkpoints.is_dir():
                try:
                    entries = list(checkpoints.iterdir())
                except OSError as exc:
                    raise UsageError(f"cannot read {checkpoints}: {exc.strerror}") from None
                for entry in entries:
                    if entry.is_symlink():
                        problem = f"{CHECKPOINTS_DIR}/{entry.name} is a symlink"
                        break
        if problem:
            raise UsageError(f"refusing to resume {run_dir}: {problem}")
