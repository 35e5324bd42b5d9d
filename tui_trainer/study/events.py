"""What the trainer tells whoever displays it. Implementations live in tui_trainer.console (a Rich
live display, plain log lines); the trainer only calls these methods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from tui_trainer.store.schema import RunSummary


class TrainingEvents(Protocol):
    def study_started(
        self, study_id: str, study_dir: Path, runs: Sequence[tuple[str, int]]
    ) -> None:
        """`runs`: (name, epochs) of every run, in order."""

    def run_started(self, name: str, epochs: int, steps_per_epoch: int, device: str) -> None: ...

    def step(
        self, name: str, epoch: int, step: int, loss: float | None, images_per_s: float | None
    ) -> None:
        """Called after every optimizer step; `loss` is given once per logging interval."""

    def epoch_ended(self, name: str, row: Mapping[str, Any]) -> None: ...

    def run_finished(
        self, name: str, state: str, summary: RunSummary | None, message: str
    ) -> None: ...

    def study_finished(self, states: Mapping[str, str]) -> None: ...

    def note(self, message: str, *, log_only: bool = False) -> None:
        """A line for the log; `log_only` lines (tracebacks) go to trainer.log, not the screen."""


class Broadcast:
    """Sends every event to several listeners."""

    def __init__(self, *listeners: TrainingEvents):
        self.listeners = listeners

    def __getattr__(self, name: str):
        def call(*args: Any, **kwargs: Any) -> None:
            for listener in self.listeners:
                getattr(listener, name)(*args, **kwargs)

        return call
