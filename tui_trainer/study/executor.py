"""What trains a study's runs, beneath the lifecycle: an executor. Two exist: in-process
(train/in_process.py, `--jobs 1`: one run after another in the trainer's own process, torch
imported there) and workers (parallel/workers.py: one `worker-run` process per run, on this
machine or as Ray tasks). The CLI picks one; the lifecycle (study/lifecycle.py) only calls it,
so that starting, resuming and ending a study is written once.

The lifecycle calls `prepare` before it writes anything (the checks that can refuse the study:
preflight, or worker-check), then `train` once inside the study's locks and stop signals, then
`close` whatever happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tui_trainer.config.sweep import RunSpec
from tui_trainer.store.study_files import DeviceRecord

if TYPE_CHECKING:
    from tui_trainer.config.load import LoadedStudy
    from tui_trainer.signals import StopSignals
    from tui_trainer.store.layout import StudyPaths
    from tui_trainer.store.lock import RunLocks
    from tui_trainer.store.reader import StudyRecord
    from tui_trainer.store.resumable import ResumeTarget
    from tui_trainer.study.events import TrainingEvents
    from tui_trainer.study.source import RunSource


@dataclass(frozen=True)
class StartRequest:
    """`run`: a new study, from its loaded preset, under `runs_dir`."""

    loaded: LoadedStudy
    runs_dir: Path


@dataclass(frozen=True)
class ResumeRequest:
    """`resume`: the runs `targets` of `study` (their locks held), each with the spec it trains
    with (its config.toml, data.data_dir replaced as `resume --data-dir` asks)."""

    study: StudyRecord
    targets: list[ResumeTarget]
    specs: list[RunSpec]


@dataclass(frozen=True)
class Prepared:
    """What an executor found in its checks: the device as the study's records name it, and
    how many runs it trains at once."""

    device: DeviceRecord
    jobs: int = 1


class Executor(Protocol):
    def prepare(self, request: StartRequest | ResumeRequest) -> Prepared:
        """Every check that can refuse the study, before anything is written (raises the
        error to report)."""

    def train(
        self,
        paths: StudyPaths,
        source: RunSource,
        events: TrainingEvents,
        stop: StopSignals,
        locks: RunLocks,
        states: dict[str, str],
    ) -> None:
        """Train the runs `source` hands out until it has none and none trains, or `stop` is
        set (each training run checkpoints and stops). Writes each run's state into `states`
        as it ends (so that they are there when a second Ctrl-C raises KeyboardInterrupt).
        Raises StorageError when the runs directory cannot be written."""

    def close(self) -> None:
        """Let go of what prepare took (worker processes, a cluster connection)."""


__all__ = ["Executor", "Prepared", "ResumeRequest", "StartRequest"]
