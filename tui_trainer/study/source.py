"""Where a study's runs come from. An executor does not get a list: it PULLS the next run from a
run source whenever a slot frees, tells the source each epoch row as it lands and each run's end,
and the source may answer a row with a reason to stop that run early. A grid (today's studies) is
a fixed source: its runs in order, never a stop. A search (a sampler) is a source that grows: it
makes a new trial's run directory when asked for one, and prunes a trial from its rows. The
executors need not know which they drive.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tui_trainer.config.sweep import RunSpec

if TYPE_CHECKING:
    from tui_trainer.store.layout import StudyPaths
    from tui_trainer.store.lock import RunLocks


@dataclass(frozen=True)
class SourceRun:
    """A run to train: its spec (name, swept values, resolved config) and whether it resumes
    from its run directory (`resume`) or starts in a fresh one."""

    spec: RunSpec
    resume: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def epochs(self) -> int:
        return self.spec.config.train.epochs


class RunSource(Protocol):
    def begin(self, paths: StudyPaths, locks: RunLocks) -> None:
        """The study's directory and run locks, before the first run is asked for: a source
        that grows makes each new run's directory there (store.study_files.add_run), locked
        into `locks` as the study's first runs are."""

    def known(self) -> list[SourceRun]:
        """Every run handed out or still to hand out, in order (the display's list, and the
        runs whose state the study's result reports)."""

    def queued(self) -> list[str]:
        """The runs next_run will hand out, in order: they wait for a slot."""

    def next_run(self) -> SourceRun | None:
        """The next run to train, taken off the source; None when there is none now (the
        study ends once nothing trains and this is still None)."""

    def epoch_ended(self, name: str, row: Mapping[str, Any]) -> str | None:
        """A run's epoch row landed: None to go on, or a reason to stop that run early (it is
        checkpointed and ends `pruned`, the reason as its message)."""

    def run_ended(self, name: str, state: str) -> None:
        """A run reached its end for this study (its state), and will not be retried."""


class GridSource:
    """A fixed list of runs, handed out in order; never stops one early."""

    def __init__(self, runs: Sequence[SourceRun]):
        self._known = list(runs)
        self._queue = deque(self._known)

    def begin(self, paths: StudyPaths, locks: RunLocks) -> None:
        return None

    def known(self) -> list[SourceRun]:
        return list(self._known)

    def queued(self) -> list[str]:
        return [run.name for run in self._queue]

    def next_run(self) -> SourceRun | None:
        return self._queue.popleft() if self._queue else None

    def epoch_ended(self, name: str, row: Mapping[str, Any]) -> str | None:
        return None

    def run_ended(self, name: str, state: str) -> None:
        return None

    def add(self, run: SourceRun) -> None:
        """One more run at the end of the queue (a source that grows builds on this)."""
        self._known.append(run)
        self._queue.append(run)


__all__ = ["GridSource", "RunSource", "SourceRun"]
