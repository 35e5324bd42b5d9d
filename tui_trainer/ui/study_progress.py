"""The study's progress bar and ETA, from its runs' status.toml alone (no textual, no torch).

A parallel study trains several runs at once, so its end is not the sum of what is left: the
runs running now are lanes that free up at their own ETAs, and each queued run starts on the
lane that frees first (greedy list scheduling, what the study's driver does with its jobs).
Queued runs take their epochs at the mean pace of the epochs finished so far. The parallelism
counted is what runs now, not what the preset asks for: a study with jobs = 4 whose GPUs fit
only two runs ends as two lanes would have it."""

from __future__ import annotations

import math

from tui_trainer.store import status as st
from tui_trainer.store.follow import RunSeries

MAX_EPOCHS = 100_000  # train.epochs' upper bound


def epoch_count(value: int | None) -> int:
    """An epoch count as status.toml gives it, within what a study can have (a hand-edited
    -5 or 2**62 is not a count)."""
    return value if value is not None and 0 <= value <= MAX_EPOCHS else 0


def seconds(value: float | None) -> float | None:
    """A duration as status.toml gives it; None when it is not one (negative, NaN, inf)."""
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def lanes_finish(lanes: list[float], queued_epochs: list[int], pace: float | None) -> float:
    """When the last of `lanes` finishes (each lane's running run ends at its value, in seconds
    from now) after the queued runs, in order, each went to the lane that frees first (the
    lowest-numbered on a tie) and took its epochs × `pace` seconds. Without a pace the queued
    runs count as nothing, as for one lane before.

    Each lane's end is computed as start + pace × its epochs (not a running sum), so that one
    lane gives exactly start + pace × all queued epochs."""
    if not lanes:
        raise ValueError("no lane: nothing runs")
    assigned = [0] * len(lanes)

    def end(lane: int) -> float:
        return lanes[lane] + (pace * assigned[lane] if pace else 0)

    for epochs in queued_epochs:
        earliest = min(range(len(lanes)), key=end)
        assigned[earliest] += epochs
    return max(end(lane) for lane in range(len(lanes)))


def study_progress(series: list[RunSeries]) -> tuple[int, int, float | None]:
    """(epochs of every run, epochs finished, seconds to the study's end or None): the
    progress bar and ETA of the monitor. The ETA needs every running run's own ETA; queued
    runs are spread over as many lanes as runs are running (`lanes_finish`). Nothing running
    (between two runs, or stopped): no ETA."""
    total = sum(epoch_count(s.status.epochs) for s in series)
    done = sum(
        min(epoch_count(s.status.epoch), epoch_count(s.status.epochs) or MAX_EPOCHS) for s in series
    )
    running = [seconds(s.status.eta_s) for s in series if s.state == st.RUNNING]
    paces = []
    for run in series:
        elapsed, epoch = seconds(run.status.elapsed_s), epoch_count(run.status.epoch)
        if elapsed and epoch > 0:
            paces.append(elapsed / epoch)
    pace = sum(paces) / len(paces) if paces else None
    queued = [epoch_count(s.status.epochs) for s in series if s.state == st.QUEUED]
    eta = None
    if running and all(remaining is not None for remaining in running):
        eta = lanes_finish([r for r in running if r is not None], queued, pace)
    return total, min(done, total), seconds(eta)
