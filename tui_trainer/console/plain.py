"""Plain, timestamped log lines of a study: one per epoch, plus run and study boundaries.

Written to trainer.log always, and to stdout when it is not a terminal (nohup, Slurm, CI).
On stdout, an epoch of minutes would be minutes of silence that read as a hang, so the
headless display also prints a progress line every few seconds within an epoch (`run
--progress`): the step, the latest logged loss and images/s, and the run's ETA at the pace of
its steps so far. It is computed from what each step's event already carries, with one clock
read a step, so the loop pays nothing for it; trainer.log keeps one line an epoch.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from tui_trainer.console.formats import duration
from tui_trainer.store import status as st
from tui_trainer.store.files import open_for_append
from tui_trainer.store.layout import TRAINER_LOG
from tui_trainer.store.schema import RunSummary
from tui_trainer.study.events import Broadcast


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return "-" if value is None else str(value)


def study_end_line(states: Mapping[str, str], study_id: str = "") -> str:
    """The study's last line: `study finished: 3 completed` when every run ended, else
    `study stopped: 1 interrupted, 1 not started` and how to go on. A queued run of a stopped
    study is one that never started, not one waiting for a slot."""
    stopped = any(state in (st.INTERRUPTED, st.QUEUED) for state in states.values())
    counts: dict[str, int] = {}
    for state in states.values():
        word = "not started" if state == st.QUEUED else state
        counts[word] = counts.get(word, 0) + 1
    figures = ", ".join(f"{n} {word}" for word, n in counts.items())
    if not stopped:
        return f"study finished: {figures}"
    return f"study stopped: {figures}; `tui-trainer resume {study_id or 'STUDY'}` goes on"


def epoch_line(name: str, epochs: int | None, row: Mapping[str, Any]) -> str:
    parts = [f"{name} epoch {row.get('epoch')}/{epochs or '?'}"]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
        parts.append(f"{key} {_fmt(row.get(key))}")
    parts.append(f"lr {row.get('lr', 0):.4g}")
    parts.append(f"{_fmt(row.get('epoch_time_s'), 1)}s")
    parts.append(f"{_fmt(row.get('images_per_s'), 0)} img/s")
    return "  ".join(parts)


class PlainLog:
    """TrainingEvents as timestamped lines on one or more text streams.

    With `to_study_log`, it also opens the study's trainer.log once the study directory exists,
    unless `stdout_is_log` says stdout already is that file (a trainer launched by the TUI)."""

    def __init__(
        self,
        streams: Sequence[TextIO] = (),
        *,
        to_study_log: bool = True,
        progress_every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.streams = list(streams)
        self.to_study_log = to_study_log
        self._log_file: TextIO | None = None
        self._epochs: dict[str, int] = {}
        self._progress: dict[str, RunPace] | None = {} if progress_every else None
        self._progress_every = progress_every or 0.0
        self._clock = clock
        self._study_id = ""

    def _line(self, text: str) -> None:
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        for stream in [*self.streams, *([self._log_file] if self._log_file else [])]:
            with contextlib.suppress(
                OSError, ValueError
            ):  # a closed terminal must not stop training
                stream.write(f"{stamp} {text}\n")
                stream.flush()

    def study_started(
        self, study_id: str, study_dir: Path, runs: Sequence[tuple[str, int]]
    ) -> None:
        skipped = None
        if self.to_study_log and not _is_same_file(study_dir / TRAINER_LOG):
            try:
                self._log_file = open_for_append(study_dir / TRAINER_LOG)
            except OSError as exc:  # unwritable, a symlink, a FIFO, hard-linked: skipped
                skipped = f"{exc.filename or TRAINER_LOG}: {exc.strerror or exc}; not logging there"
        self._epochs = dict(runs)
        self._study_id = study_id
        self._line(f"study {study_id}: {len(runs)} run(s) in {study_dir}")
        if skipped is not None:
            self._line(skipped)

    def run_started(self, name: str, epochs: int, steps_per_epoch: int, device: str) -> None:
        self._epochs[name] = epochs  # (a worker's log is told of its one run only here)
        if self._progress is not None:
            self._progress[name] = RunPace(epochs, steps_per_epoch)
        self._line(f"{name} started: {epochs} epochs x {steps_per_epoch} steps on {device}")

    def step(
        self, name: str, epoch: int, step: int, loss: float | None, images_per_s: float | None
    ) -> None:
        pace = self._progress.get(name) if self._progress is not None else None
        if pace is None:
            return
        now = self._clock()
        if pace.take(now, epoch, step, loss, images_per_s, self._progress_every):
            self._line(pace.line(name, now))

    def epoch_ended(self, name: str, row: Mapping[str, Any]) -> None:
        self._line(epoch_line(name, self._epochs.get(name), row))

    def run_finished(self, name: str, state: str, summary: RunSummary | None, message: str) -> None:
        text = f"{name} {state}"
        if summary is not None:
            text += f": test_loss {_fmt(summary.test_loss)}"
            text += f"  test_acc {_fmt(summary.test_acc)}"
            text += f"  ({_fmt(summary.wall_time_s, 1)}s)"
        if message:
            text += f": {message}"
        self._line(text)

    def study_finished(self, states: Mapping[str, str]) -> None:
        self._line(study_end_line(states, self._study_id))
        self.close()

    def close(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def note(self, message: str, *, log_only: bool = False) -> None:
        if log_only and self._log_file is not None:
            with contextlib.suppress(OSError, ValueError):
                self._log_file.write(message.rstrip("\n") + "\n")
                self._log_file.flush()
        elif not log_only:
            self._line(message)


class RunPace:
    """What a run's progress line needs: the latest figures, and the clock and step count when
    its steps were first seen here and when its last line was printed."""

    def __init__(self, epochs: int, steps_per_epoch: int):
        self.epochs, self.steps_per_epoch = epochs, max(1, steps_per_epoch)
        self.epoch = self.step = 0
        self.loss: float | None = None
        self.images_per_s: float | None = None
        self.first: tuple[float, int] | None = None  # (clock, global step)
        self.printed = 0.0

    def _global(self) -> int:
        return (self.epoch - 1) * self.steps_per_epoch + self.step

    def take(
        self,
        now: float,
        epoch: int,
        step: int,
        loss: float | None,
        images_per_s: float | None,
        every: float,
    ) -> bool:
        """Note one step's figures; True when a line is due (`every` seconds since the last
        one, or since the first step seen)."""
        self.epoch, self.step = epoch, step
        if loss is not None:
            self.loss = loss
        if images_per_s is not None:
            self.images_per_s = images_per_s
        if self.first is None:
            self.first, self.printed = (now, self._global()), now
            return False
        if now - self.printed < every:
            return False
        self.printed = now
        return True

    def eta_s(self, now: float) -> float | None:
        """The rest of the run at the pace of its steps since the first seen (evaluation
        included, as it comes between them); None before a step's pace is known."""
        if self.first is None:
            return None
        started, first_step = self.first
        done = self._global() - first_step
        if done <= 0 or now <= started:
            return None
        left = self.epochs * self.steps_per_epoch - self._global()
        return max(0, left) * (now - started) / done

    def line(self, name: str, now: float) -> str:
        loss = "-" if self.loss is None else f"{self.loss:.4f}"
        speed = "-" if self.images_per_s is None else f"{self.images_per_s:.0f}"
        return (
            f"{name} epoch {self.epoch}/{self.epochs} step {self.step}/{self.steps_per_epoch}"
            f"  loss {loss}  {speed} img/s  ETA {duration(self.eta_s(now))}"
        )


def _is_same_file(path: Path) -> bool:
    """Whether stdout already writes to `path` (the TUI starts the trainer that way)."""
    import os
    import sys

    with contextlib.suppress(OSError, ValueError, AttributeError):
        return os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(path))
    return False


def with_study_log(display: Any) -> Broadcast:
    """`display` (TrainingEvents), and the study's trainer.log, which gets the plain lines
    whatever the display is: what a study's lifecycle is told (the CLI composes it)."""
    return Broadcast(display, PlainLog(to_study_log=True))
