"""Following a study directory as it grows: the one code path for watching a live study and
replaying a finished one (DESIGN.md). Each `poll()` reads only what was appended since the last
one, so a monitor can poll a few times a second at no cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tui_trainer.printable import printable
from tui_trainer.store import status as st
from tui_trainer.store.csvlog import CsvFollower, Row
from tui_trainer.store.layout import StudyPaths
from tui_trainer.store.lines import LineFollower
from tui_trainer.store.reader import Headlines, StudyRecord, read_study, study_state
from tui_trainer.store.schema import RunStatus, RunSummary, read_status, read_summary
from tui_trainer.store.step_windows import StepWindow, latest_window, recent_windows

LOG_TAIL_BYTES = 64 * 1024  # how much of trainer.log a monitor shows when it opens
# the step-loss chart: this many recent logging windows (the whole quickstart; about an epoch
# and a half of CIFAR at batch 128, logged every 10 steps)
RECENT_STEP_POINTS = 60
# a run over when first seen: its step chart needs only steps.csv's end (60 windows of a
# quickstart are about 6 KB of rows)
STEPS_TAIL_BYTES = 64 * 1024


@dataclass
class RunSeries(Headlines):
    """Everything a monitor shows of one run, kept up to date by StudyFollower.poll()."""

    name: str
    status: RunStatus = field(default_factory=RunStatus)
    state: str = st.UNKNOWN
    summary: RunSummary | None = None
    epochs: list[Row] = field(default_factory=list)  # metrics.csv rows
    steps: list[Row] = field(default_factory=list)  # steps.csv rows (not of a run seen over)

    def column(self, name: str, up_to: float | None = None) -> tuple[list[float], list[float]]:
        """(epochs, values) of a metrics column (up to an epoch, for replay), skipping blank and
        non-numeric cells."""
        xs, ys = [], []
        for row in self.epochs:
            x, y = row.get("epoch"), row.get(name)
            if up_to is not None and isinstance(x, (int, float)) and x > up_to:
                break
            if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                xs.append(float(x))
                ys.append(float(y))
        return xs, ys

    def recent_steps(
        self, points: int = RECENT_STEP_POINTS, up_to: float | None = None
    ) -> tuple[list[float], list[float]]:
        """(fractional epoch, mean loss) of the latest `points` logging windows of steps.csv,
        across epoch boundaries: epoch e's steps lie in (e - 1, e], as its epoch row at e. An
        epoch's short last window is folded into the one before it (store/step_windows.py), so
        every point is the mean of about as many steps. `up_to`: the latest windows up to that
        epoch (a replay's)."""
        per_epoch = self.status.steps_per_epoch
        if per_epoch is None or per_epoch <= 0:
            return [], []
        limit = None if up_to is None else up_to * per_epoch
        recent = [(w.step, w.loss) for w in recent_windows(self.steps, points, limit)]
        recent = [(step, loss) for step, loss in recent if loss is not None]
        return [step / per_epoch for step, _ in recent], [loss for _, loss in recent]

    def latest_window(self) -> StepWindow | None:
        """The latest logging window, as the table and the run's line show its pace and loss."""
        return latest_window(self.steps)

    @property
    def last_epoch(self) -> int:
        epoch = self.epochs[-1].get("epoch") if self.epochs else 0
        return epoch if isinstance(epoch, int) else 0


class StudyFollower:
    """Incremental reader of one study directory."""

    def __init__(self, root: Path):
        self.paths = StudyPaths(Path(root))
        self.record: StudyRecord = read_study(self.paths.root)
        self.runs: dict[str, RunSeries] = {}
        self._metrics: dict[str, CsvFollower] = {}
        self._steps: dict[str, CsvFollower] = {}
        self._status_seen: dict[str, tuple[int, int, int]] = {}
        self._study_seen = _identity(self.paths.study)
        self._log = LineFollower(self.paths.log, tail_bytes=LOG_TAIL_BYTES)
        self.epochs_changed = False

    @property
    def state(self) -> str:
        """The study's state, its trainer judged by the latest one in study.toml: the launch's,
        or after `tui-trainer resume` the resumed one's."""
        if self.record.study is None and self.record.problems and not self.runs:
            return self.record.state  # unreadable
        return study_state(
            [r.state for r in self.runs.values()],
            st.trainer_end(self.record.trainers),
            self.record.uses_workers,
        )

    def poll(self) -> bool:
        """Read what changed; True when anything did. `epochs_changed` then says whether epoch
        rows (or the set of runs) changed, which is what the epoch charts draw; the rest is status
        and step rows."""
        changed = False
        self.epochs_changed = False
        study_seen = _identity(self.paths.study)
        if not self.record.runs or self.record.study is None or study_seen != self._study_seen:
            # study.toml appears, or is rewritten by `tui-trainer resume`: one stat per poll
            self._study_seen = study_seen
            self.record = read_study(self.paths.root, summaries=False)
            changed = True
        for run in self.record.runs:
            series = self.runs.get(run.name)
            if series is None:
                series = self.runs[run.name] = RunSeries(run.name)
                self._metrics[run.name] = CsvFollower(run.paths.metrics)
                changed = self.epochs_changed = True
            status = self._read_status(run.name, run.paths.status, series.status)
            if status != series.status:
                series.status = status
                changed = True
            state = st.effective_state(status, run_dir=run.paths.root)
            if run.name not in self._steps:
                # a run over when first seen needs only the end of its (long) steps.csv
                tail = STEPS_TAIL_BYTES if state in st.FINAL_STATES else None
                self._steps[run.name] = CsvFollower(run.paths.steps, tail_bytes=tail)
            if state != series.state:
                series.state = state
                changed = True
            if series.summary is None and state in st.FINAL_STATES:
                series.summary = read_summary(run.paths.summary)
                changed = changed or series.summary is not None
            if self._extend(series.epochs, self._metrics[run.name]):
                changed = self.epochs_changed = True
            changed |= self._extend(series.steps, self._steps[run.name])
        return changed

    def _read_status(self, name: str, path: Path, last: RunStatus) -> RunStatus:
        """status.toml, parsed again only when its file changed (it is replaced atomically, so
        a new inode, size or mtime means new content). Missing or unreadable: an empty status,
        whose state reads as unknown."""
        identity = _identity(path)
        if identity is None:
            return RunStatus()
        if self._status_seen.get(name) == identity:
            return last
        self._status_seen[name] = identity
        return read_status(path) or RunStatus()

    @staticmethod
    def _extend(rows: list[Row], follower: CsvFollower) -> bool:
        new = follower.poll()
        if follower.reset:
            rows.clear()
        rows.extend(new)
        return bool(new) or follower.reset

    def new_log_lines(self) -> list[str]:
        """Complete lines appended to trainer.log since the last call, made printable (the
        first call returns the end of the file, at most LOG_TAIL_BYTES)."""
        return [
            printable(line.decode("utf-8", errors="replace").rstrip("\r"))
            for line in self._log.poll()
            if line is not None
        ]


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is replaced or rewritten: inode, size, mtime."""
    try:
        stat = path.lstat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)
