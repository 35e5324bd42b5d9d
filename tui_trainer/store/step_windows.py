"""steps.csv read as logging windows, with one rule for the short ones: every place that shows
a run's latest pace or train loss (the runs table, the highlighted run's line, the step-loss
chart) takes it from here.

A row of steps.csv closes a window: the steps since the row before (every
train.log_every_steps, and the epoch's last step, which closes a short window: often the
partial last batch alone). That window's loss is the mean of a dozen images, and its images/s
the pace of one small batch and the epoch's end (2 or 158 img/s where the run's pace is 8 to
30). So a window shorter than half the usual one is folded into the window before it in the same
epoch: its loss weighted by its steps, its pace the images of both over their time. No textual,
no torch."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from tui_trainer.store.csvlog import Row

LATEST_ROWS = 20  # the rows the latest window is judged among (the usual size is theirs)


@dataclass(frozen=True)
class StepWindow:
    """One logging window (or a full one with the short one after it folded in)."""

    epoch: int
    step: int  # the global step that closed it
    steps: int  # how many optimizer steps it spans
    loss: float | None  # the mean train loss of its steps
    images_per_s: float | None
    seconds: float | None  # its duration, from elapsed_s (None for the first row read)


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _fold(before: StepWindow, short: StepWindow) -> StepWindow:
    """`short` folded into `before`: the loss weighted by steps, the pace by time (by steps
    where a duration is not known)."""
    steps = before.steps + short.steps
    loss = before.loss
    if before.loss is not None and short.loss is not None:
        loss = (before.loss * before.steps + short.loss * short.steps) / steps
    elif loss is None:
        loss = short.loss
    pace = before.images_per_s
    if pace is not None and short.images_per_s is not None:
        if before.seconds and short.seconds:
            images = pace * before.seconds + short.images_per_s * short.seconds
            pace = images / (before.seconds + short.seconds)
        else:
            pace = (pace * before.steps + short.images_per_s * short.steps) / steps
    seconds = None
    if before.seconds is not None and short.seconds is not None:
        seconds = before.seconds + short.seconds
    return StepWindow(short.epoch, short.step, steps, loss, pace, seconds)


def step_windows(rows: Sequence[Row], after: Row | None = None) -> list[StepWindow]:
    """The windows of `rows` (steps.csv rows, oldest first; `after`: the row just before them,
    when known), the short ones folded in. A row whose epoch or step is not a whole number, or
    whose step does not go forward, closes no window."""
    previous = after.get("step") if after is not None else 0
    previous = previous if isinstance(previous, int) else 0
    clock = _number(after.get("elapsed_s")) if after is not None else None
    windows: list[StepWindow] = []
    for row in rows:
        epoch, step = row.get("epoch"), row.get("step")
        if not (isinstance(epoch, int) and isinstance(step, int)) or step <= previous:
            continue
        elapsed = _number(row.get("elapsed_s"))
        seconds = elapsed - clock if elapsed is not None and clock is not None else None
        window = StepWindow(
            epoch,
            step,
            step - previous,
            _number(row.get("loss")),
            _number(row.get("images_per_s")),
            seconds if seconds is None or seconds >= 0 else None,
        )
        windows.append(window)
        previous, clock = step, elapsed
    usual = sorted(w.steps for w in windows)[len(windows) // 2] if windows else 0
    folded: list[StepWindow] = []
    for window in windows:
        if folded and 2 * window.steps < usual and folded[-1].epoch == window.epoch:
            folded[-1] = _fold(folded[-1], window)
        else:
            folded.append(window)
    return folded


def recent_windows(
    rows: Sequence[Row], count: int, up_to_step: float | None = None
) -> list[StepWindow]:
    """The last `count` windows of `rows` closed at or before `up_to_step` (None: all), read
    from the rows' tail alone: a window folds at most one short row into it, so 2 * count rows
    hold them, and the monitor's step chart costs the same at epoch 300 as at epoch 1."""
    end = len(rows)
    if up_to_step is not None:  # steps.csv's steps go forward: the cut by bisection
        end = bisect.bisect_right(rows, up_to_step, key=_step_of)
    start = max(0, end - 2 * count - 2)
    before = rows[start - 1] if start > 0 else None
    windows = step_windows(rows[start:end], before)
    return windows[-count:] if count > 0 else []


def _step_of(row: Row) -> float:
    step = row.get("step")
    return step if isinstance(step, int) else -math.inf


def latest_window(rows: Sequence[Row]) -> StepWindow | None:
    """The run's latest window as every display shows it: the last of the recent rows' windows,
    an epoch's short last window folded into the one before it. None before the first row."""
    recent = rows[-LATEST_ROWS:]
    before = rows[-LATEST_ROWS - 1] if len(rows) > LATEST_ROWS else None
    windows = step_windows(recent, before)
    return windows[-1] if windows else None
