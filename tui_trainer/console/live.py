"""A live Rich display of a study on a terminal: one bar for the study, one per run (epoch and
step, loss, accuracy, images/s, ETA)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tui_trainer.console.formats import STATE_STYLES
from tui_trainer.store.schema import RunSummary


class LiveDisplay:
    """TrainingEvents drawn as Rich progress bars. Call `close()` if training ends abnormally."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}", table_column=None),
            BarColumn(bar_width=28),
            TextColumn("{task.percentage:>5.1f}%"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            refresh_per_second=4,
            speed_estimate_period=60,
        )
        self._study: TaskID | None = None
        self._runs: dict[str, TaskID] = {}
        self._epochs: dict[str, int] = {}
        self._steps: dict[str, int] = {}
        self._last: dict[str, dict[str, Any]] = {}
        self._done = 0
        self._started = False

    def study_started(
        self, study_id: str, study_dir: Path, runs: Sequence[tuple[str, int]]
    ) -> None:
        self.console.print(f"[bold]{study_id}[/]  {len(runs)} run(s) -> {study_dir}")
        self._epochs = dict(runs)
        total = sum(epochs for _, epochs in runs)
        self._study = self.progress.add_task(f"[bold]study[/] 0/{len(runs)}", total=total, info="")
        for name, epochs in runs:
            self._runs[name] = self.progress.add_task(
                f"  {name}", total=epochs, info="[dim]queued[/]", start=False
            )
        self.progress.start()
        self._started = True

    def run_started(self, name: str, epochs: int, steps_per_epoch: int, device: str) -> None:
        self._steps[name] = max(1, steps_per_epoch)
        self._last[name] = {}
        self.progress.start_task(self._runs[name])
        self.progress.update(self._runs[name], info=f"[dim]starting on {device}[/]")

    def step(
        self, name: str, epoch: int, step: int, loss: float | None, images_per_s: float | None
    ) -> None:
        fraction = 1.0 / self._steps.get(name, 1)
        last = self._last.setdefault(name, {})
        if loss is not None:
            last["loss"] = loss
            last["images_per_s"] = images_per_s
        info = (
            f"epoch {epoch}/{self._epochs.get(name, '?')} step {step}/{self._steps.get(name, '?')}"
        )
        if "loss" in last:
            info += f"  loss {last['loss']:.4f}"
        if "val_acc" in last:
            info += f"  acc {last['train_acc']:.3f}  val {last['val_acc']:.3f}"
        if last.get("images_per_s"):
            info += f"  {last['images_per_s']:.0f} img/s"
        self.progress.update(self._runs[name], advance=fraction, info=info)
        if self._study is not None:
            self.progress.update(self._study, advance=fraction)

    def epoch_ended(self, name: str, row: Mapping[str, Any]) -> None:
        last = self._last.setdefault(name, {})
        last.update(train_acc=row.get("train_acc"), val_acc=row.get("val_acc"))
        # Whole epochs, whatever the per-step fractions added up to.
        completed = float(row.get("epoch", 0))
        self.progress.update(self._runs[name], completed=completed)

    def run_finished(self, name: str, state: str, summary: RunSummary | None, message: str) -> None:
        style = STATE_STYLES.get(state, "")
        info = f"[{style}]{state}[/]" if style else state
        if summary is not None and summary.test_acc is not None:
            best = summary.best_val_acc or 0.0
            info += f"  test acc {summary.test_acc:.4f}  best val {best:.4f}"
        if message:
            info += f"  [dim]{message}[/]"
        task = self._runs[name]
        if state == "completed":
            self.progress.update(task, completed=self._epochs.get(name, 0))
        self.progress.update(task, info=info)
        self.progress.stop_task(task)
        self._done += 1
        if self._study is not None:
            self._sync_study()

    def _sync_study(self) -> None:
        assert self._study is not None
        done = sum(self.progress.tasks[i].completed for i in self._runs.values())
        self.progress.update(
            self._study,
            completed=done,
            description=f"[bold]study[/] {self._done}/{len(self._runs)}",
        )

    def study_finished(self, states: Mapping[str, str]) -> None:
        self.close()

    def note(self, message: str, *, log_only: bool = False) -> None:
        if not log_only:
            self.console.print(message, markup=False, highlight=False)

    def close(self) -> None:
        if self._started:
            with contextlib.suppress(Exception):
                self.progress.stop()
            self._started = False
