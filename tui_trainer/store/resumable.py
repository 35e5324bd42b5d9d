"""Which runs of a study `tui-trainer resume` continues, and the checks that keep it inside the
study directory. No torch: the app uses this to decide whether to offer resume.

A run is resumed when it was interrupted, crashed (its trainer died), failed, or never started
(queued). Completed runs have nothing left to do, a pruned run was stopped on purpose by its
study, and a diverged run would diverge again from the same checkpoint: they are left alone. A
run whose trainer is alive is never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui_trainer.errors import UnavailableError, UsageError
from tui_trainer.printable import printable
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import parse_cell, split_fields
from tui_trainer.store.files import open_regular, regular_or_missing
from tui_trainer.store.layout import (
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    CONFUSION_FILE,
    METRICS_FILE,
    STATUS_FILE,
    STEPS_FILE,
    STUDY_FILE,
    SUMMARY_FILE,
    TRAINER_LOG,
    WORKER_LOG,
    is_safe_name,
)
from tui_trainer.store.lines import MAX_LINE_BYTES
from tui_trainer.store.lock import LOCK_FILE, LockHeld, RunLocks, allow_open_files
from tui_trainer.store.reader import RunRecord, StudyRecord, read_study
from tui_trainer.store.schema import STEP_COLUMNS, TOP5_MIN_CLASSES, metric_columns, read_status

RESUMABLE = (st.INTERRUPTED, st.CRASHED, st.FAILED, st.QUEUED, st.UNKNOWN)

# The files a resumed run writes: none of them may be a symlink, which could point outside.
WRITTEN_FILES = (STATUS_FILE, METRICS_FILE, STEPS_FILE, SUMMARY_FILE, CONFUSION_FILE)
# The files written in place (appended to): nor may they be hard links to a file elsewhere. The
# others are replaced by a rename, which leaves any other link of the old file as it was.
APPENDED = (METRICS_FILE, STEPS_FILE, TRAINER_LOG, WORKER_LOG)


@dataclass(frozen=True)
class ResumeTarget:
    run: RunRecord
    from_checkpoint: bool  # False: the run never started, it starts at epoch 1

    @property
    def name(self) -> str:
        return self.run.name


def is_resumable(state: str) -> bool:
    return state in RESUMABLE


LIVE = (st.RUNNING, st.STALLED)  # a trainer holds the run: never resumed


def plan(study: StudyRecord, run_name: str | None = None) -> list[ResumeTarget]:
    """The runs to resume, in study order: the named one, or every resumable run of the study.
    UsageError when there is nothing to resume or the study's files are not what a resume can
    safely continue; UnavailableError when a run is live."""
    if study.problems:
        raise UsageError(f"refusing to resume {study.id}: {'; '.join(study.problems)}")
    live = [run for run in study.runs if run.state in LIVE]
    if run_name is not None:
        chosen = [run for run in study.runs if run.name == run_name]
        if not chosen:
            names = ", ".join(run.name for run in study.runs) or "none"
            raise UsageError(f"study {study.id} has no run {run_name!r} (its runs: {names})")
        run = chosen[0]
        if run.state in LIVE:
            raise _live(study, [run])
        if run.state == st.COMPLETED:
            raise UsageError(f"{study.id}/{run.name} is completed: nothing to resume")
        if run.state == st.DIVERGED:
            raise UsageError(
                f"{study.id}/{run.name} diverged; resuming would diverge again: run it anew "
                "with a lower learning rate"
            )
        if run.state == st.PRUNED:
            raise UsageError(
                f"{study.id}/{run.name} was pruned (stopped early by its study, "
                f"{run.status.message or 'no reason given'}): it is not resumed"
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
    for target in targets:
        check_history(target.run.paths.root, possible_metric_headers(target.run.paths.config))
    return targets


def lock_targets(
    study: StudyRecord, run_name: str | None, locks: RunLocks
) -> tuple[StudyRecord, list[ResumeTarget]]:
    """The runs to resume (as `plan`), locked into `locks`, and the study as it is once they
    are: another trainer may have started or finished one of them between the plan and the
    locks, and then nothing is taken (UnavailableError: try again)."""
    study = _settle_other_hosts(study)
    targets = plan(study, run_name)
    allow_open_files(len(targets))
    try:
        locks.acquire_all(target.run.paths.root for target in targets)
    except LockHeld as lock:
        raise UnavailableError(
            f"{lock.path}: another trainer is writing it; stop that one first"
        ) from None
    except OSError as exc:
        where = exc.filename or study.paths.root
        raise UnavailableError(f"cannot lock {where}: {exc.strerror}") from None
    study = read_study(study.paths.root)
    fresh = plan(study, run_name)
    if [t.name for t in fresh] != [t.name for t in targets]:
        locks.release()
        raise UnavailableError(f"{study.id}: its runs changed while resuming; try again")
    return study, fresh


def _settle_other_hosts(study: StudyRecord) -> StudyRecord:
    """The study, once its runs last written by another machine (written as running) have been
    watched long enough to tell a live one (its heartbeat changes) from a dead one."""
    remote = [
        run
        for run in study.runs
        if run.state == st.RUNNING and run.status is not None and st.is_other_host(run.status)
    ]
    if not remote:
        return study
    st.watch_other_hosts(
        [(run.paths.root, lambda path=run.paths.status: read_status(path)) for run in remote],
        st.OTHER_HOST_WATCH_S,
    )
    return read_study(study.paths.root)


def possible_metric_headers(config: Path) -> list[list[str]]:
    """The headers metrics.csv can have for the run whose config.toml is `config`: with and
    without val_top5 (which needs the dataset's class count to choose; the trainer checks the
    exact one), with a column per tracked gradient norm. UsageError when config.toml cannot
    be read."""
    data = read_toml(config)
    train = data.get("train") if isinstance(data, dict) else None
    if not isinstance(train, dict):
        raise UsageError(f"refusing to resume {printable(str(config))}: missing or not valid TOML")
    tracked = train.get("track_grad_norm", [])
    tracked = [str(name) for name in tracked] if isinstance(tracked, list) else []
    return [metric_columns(TOP5_MIN_CLASSES, tracked), metric_columns(2, tracked)]


def _live(study: StudyRecord, runs: list[RunRecord]) -> UnavailableError:
    described = ", ".join(f"{run.name} (pid {run.status.pid or '?'})" for run in runs)
    if any(run.state == st.STALLED for run in runs):
        return UnavailableError(
            f"{study.id}: a trainer still holds {described} but has written no heartbeat for "
            f"over {st.HEARTBEAT_STALE_S:.0f} s (stopped with SIGSTOP or Ctrl-Z? `kill -CONT PID` "
            "lets it go on; `kill -TERM PID`, then resume, to stop it)"
        )
    return UnavailableError(
        f"{study.id}: a trainer is still writing {described}; stop it first (s in the app, "
        "or kill -TERM PID)"
    )


def check_inside(study: StudyRecord, targets: Iterable[ResumeTarget]) -> None:
    """Refuse a run whose directory or files would lead outside the study directory or could
    not be opened safely: a run named so that it leaves the study, a symlinked directory, or a
    file of the run or the study that is a symlink, a FIFO, a device (anything but a regular
    file). Checked by lstat, before anything is opened or written."""
    root = study.paths.root.resolve()
    for name in (STUDY_FILE, TRAINER_LOG, LOCK_FILE):
        problem = regular_or_missing(study.paths.root / name, single_link=name in APPENDED)
        if problem is not None:
            raise UsageError(f"refusing to resume {study.paths.root}: {name} {problem}")
    for target in targets:
        run_dir = target.run.paths.root
        problem = None
        if not is_safe_name(run_dir.name):
            problem = "its name is not a plain directory name"
        elif run_dir.is_symlink() or run_dir.resolve().parent != root:
            problem = "its directory is a symlink out of the study"
        else:
            problem = run_file_problem(run_dir)
        if problem:
            raise UsageError(f"refusing to resume {run_dir}: {problem}")


def run_file_problem(run_dir: Path) -> str | None:
    """What makes a run's files unsafe to write (a symlink, a FIFO, a hard-linked log, a
    checkpoint that is not a regular file), or None."""
    for name in (CONFIG_FILE, *WRITTEN_FILES, WORKER_LOG, LOCK_FILE):
        problem = regular_or_missing(run_dir / name, single_link=name in APPENDED)
        if problem is not None:
            return f"{name} {problem}"
    checkpoints = run_dir / CHECKPOINTS_DIR
    if checkpoints.is_symlink():
        return f"{CHECKPOINTS_DIR} is a symlink"
    if not checkpoints.exists():
        return None
    if not checkpoints.is_dir():
        return f"{CHECKPOINTS_DIR} is not a directory"
    try:
        entries = sorted(checkpoints.iterdir())
    except OSError as exc:
        return f"cannot read {CHECKPOINTS_DIR}: {exc.strerror}"
    for entry in entries:
        problem = regular_or_missing(entry)
        if problem is not None:
            return f"{CHECKPOINTS_DIR}/{printable(entry.name)} {problem}"
    return None


# -- the history a resumed run continues -----------------------------------------------------------


@dataclass(frozen=True)
class History:
    """What metrics.csv holds of a run about to be resumed: its finished epochs, 1..epochs."""

    epochs: int


def check_history(
    run_dir: Path, metric_headers: Sequence[Sequence[str]], resumed_by: str = "resume"
) -> History:
    """Check, before anything is changed, that a run's logs are the ones tui-trainer writes and
    a resume can continue: metrics.csv's header is one of `metric_headers` (the header this
    run's config gives) and its rows are epochs 1, 2, ... n, each whole; steps.csv's header is
    STEP_COLUMNS and its rows are whole. A resume cuts rows written after its checkpoint, so a
    file it would misread (a spreadsheet's byte-order mark, a renamed column, a damaged or
    missing row) would lose rows: it is refused with the reason, and nothing is touched
    (UsageError)."""
    epochs: list[int] = []
    for name, column, headers in (
        (METRICS_FILE, "epoch", [list(header) for header in metric_headers]),
        (STEPS_FILE, "step", [list(STEP_COLUMNS)]),
    ):
        header, values, problem = _scan(run_dir / name, column)
        if problem is None and header is not None and header not in headers:
            problem = _header_problem(header, headers[0])
        if problem is None and name == METRICS_FILE:
            epochs = values
            if epochs != list(range(1, len(epochs) + 1)):
                problem = f"its epochs are {_numbers(epochs)}, not 1 to {len(epochs)} in order"
        if problem is not None:
            raise UsageError(
                f"refusing to {resumed_by} {printable(run_dir.name)}: {name} {problem}; "
                "nothing was changed"
            )
    return History(epochs=len(epochs))


def _scan(path: Path, column: str) -> tuple[list[str] | None, list[int], str | None]:
    """(header, the `column` value of each complete row, a problem) of a CSV log as written,
    read a line at a time; a missing or empty file has no header and no rows. The torn last
    line a killed writer leaves is not a row (a resume cuts it)."""
    try:
        handle = open_regular(path)
    except FileNotFoundError:
        return None, [], None
    except OSError as exc:
        return None, [], f"cannot be read ({exc.strerror or exc})"
    header: list[str] | None = None
    index = 0
    values: list[int] = []
    with handle:
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), 1):
            if not raw.endswith(b"\n"):
                if len(raw) > MAX_LINE_BYTES:
                    return header, values, f"line {number} is not a whole row (too long)"
                break  # the torn tail
            fields = split_fields(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            if header is None:
                if not fields:
                    return None, [], "has no header line"
                header = fields
                if column not in header:
                    return header, [], None  # the header check says what is wrong
                index = header.index(column)
                continue
            value = parse_cell(fields[index]) if fields and len(fields) > index else None
            if fields is None or len(fields) != len(header) or not isinstance(value, int):
                return header, values, f"line {number} is not a whole row"
            values.append(value)
    return header, values, None


def _header_problem(header: Sequence[str], expected: Sequence[str]) -> str:
    written = ",".join(header)
    why = ""
    if written.startswith("\ufeff"):
        why = " (it starts with a byte-order mark: saved by a spreadsheet?)"
    return (
        f"has the header {printable(written, limit=120)!r}{why}, not the one this run writes "
        f"({','.join(expected)!r}); restore it"
    )


def _numbers(values: Sequence[int]) -> str:
    shown = " ".join(map(str, values[:12]))
    return shown + (" ..." if len(values) > 12 else "")
