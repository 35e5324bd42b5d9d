"""The study's progress bar and ETA, and each run's progress inside its epoch, from its runs'
status.toml and steps.csv (no textual, no torch).

A run's ETA counts down between epochs: the trainer writes one as each epoch ends (its pace
with validation included), and the step rows logged since say how far into the next epoch it
is. Before the first epoch ends there is no such figure, so the pace of the logged steps gives
one from the first few steps on (training only: validation time joins it when epoch 1 ends),
as the headless display does.

A parallel study trains several runs at once, so its end is not the sum of what is left: the
runs running now are lanes that free up at their own ETAs, and each queued run starts on the
lane that frees first (greedy list scheduling, what the study's driver does with its jobs).
Queued runs take their epochs at the mean pace of the epochs finished so far. The parallelism
counted is what runs now, not what the preset asks for: a study with jobs = 4 whose GPUs fit
only two runs ends as two lanes would have it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tui_trainer.store import status as st
from tui_trainer.store.follow import RunSeries

MAX_EPOCHS = 100_000  # train.epochs' upper bound
PACE_ROWS = 20  # the step rows the pace is taken over: the recent ones, past the warm-up
STARTING = st.STARTING  # a display state (store/status.py); `queued` waits for a free slot


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
    running = [run_eta(s) for s in series if s.state == st.RUNNING]
    paces = []
    for run in series:
        elapsed, epoch = seconds(run.status.elapsed_s), epoch_count(run.status.epoch)
        if elapsed and epoch > 0:
            paces.append(elapsed / epoch)
    if not paces:  # no epoch finished yet: the running runs' step pace, an epoch's worth
        for run in series:
            per_step, per_epoch = step_pace(run), run.status.steps_per_epoch
            if run.state == st.RUNNING and per_step is not None and per_epoch and per_epoch > 0:
                paces.append(per_step * per_epoch)
    pace = sum(paces) / len(paces) if paces else None
    queued = [epoch_count(s.status.epochs) for s in series if s.state == st.QUEUED]
    eta = None
    if running and all(remaining is not None for remaining in running):
        eta = lanes_finish([r for r in running if r is not None], queued, pace)
    return total, min(done, total), seconds(eta)


def step_pace(run: RunSeries) -> float | None:
    """Seconds per optimizer step over the run's recent step rows (global step and elapsed
    seconds); from its first row alone, its elapsed time over its steps (the time since the
    run's training began: the first steps' warm-up included, an estimate on the long side that
    the next rows correct). None without a usable row."""
    rows = []
    for row in run.steps[-PACE_ROWS:]:
        step, elapsed = row.get("step"), row.get("elapsed_s")
        if isinstance(step, int) and isinstance(elapsed, (int, float)) and math.isfinite(elapsed):
            rows.append((step, float(elapsed)))
    if len(rows) == 1 and rows[0][0] > 0 and rows[0][1] > 0:
        return rows[0][1] / rows[0][0]
    if len(rows) < 2 or rows[-1][0] <= rows[0][0] or rows[-1][1] < rows[0][1]:
        return None
    return (rows[-1][1] - rows[0][1]) / (rows[-1][0] - rows[0][0])


def run_eta(run: RunSeries) -> float | None:
    """Seconds to the run's last epoch: the trainer's figure from the last epoch's end less the
    time its step rows say has gone by since; before epoch 1 ends, the steps left at the pace of
    the logged steps. None when neither is known."""
    status = run.status
    last = run.steps[-1] if run.steps else {}
    since = last.get("elapsed_s")
    eta = seconds(status.eta_s)
    if eta is not None:
        ended = seconds(status.elapsed_s)
        in_next_epoch = last.get("epoch") == epoch_count(status.epoch) + 1
        if ended is not None and in_next_epoch and isinstance(since, (int, float)):
            return max(0.0, eta - max(0.0, float(since) - ended))
        return eta
    pace, per_epoch = step_pace(run), status.steps_per_epoch
    epochs = epoch_count(status.epochs)
    if pace is None or not per_epoch or per_epoch <= 0 or not epochs:
        return None
    done = epoch_count(status.epoch) * per_epoch + max(0, status.step)
    return seconds(pace * max(0, epochs * per_epoch - done))


@dataclass(frozen=True)
class RunProgress:
    """Where a run is: finished epochs, the step of the epoch in progress, its speed and ETA."""

    epoch: int
    epochs: int | None
    step: int = 0
    steps_per_epoch: int | None = None
    images_per_s: float | None = None
    eta_s: float | None = None

    @property
    def epoch_fraction(self) -> float | None:
        """How far into the epoch in progress (0..1); None when the run is not inside one."""
        if not self.steps_per_epoch or self.steps_per_epoch <= 0 or self.step <= 0:
            return None
        return min(1.0, self.step / self.steps_per_epoch)

    def epoch_cell(self) -> str:
        """'3/8', or inside an epoch '3/8 45%' (the 4th epoch is 45% done)."""
        text = f"{self.epoch}/{self.epochs if self.epochs is not None else '?'}"
        fraction = self.epoch_fraction
        return f"{text} {fraction:.0%}" if fraction is not None else text


def run_progress(run: RunSeries, state: str) -> RunProgress:
    """The progress of `run` shown in the state `state` (step, speed and ETA only while it
    trains)."""
    status = run.status
    live = state == st.RUNNING
    speed = seconds(latest_pace(run)) if live else None
    return RunProgress(
        epoch=epoch_count(status.epoch),
        epochs=status.epochs,
        step=max(0, status.step) if live else 0,
        steps_per_epoch=status.steps_per_epoch,
        images_per_s=speed,
        eta_s=run_eta(run) if live else None,
    )


def latest_pace(run: RunSeries) -> float | None:
    """Images/s of the run's latest logging window, an epoch's short last one folded in
    (store/step_windows.py); status.toml's figure before the first step row."""
    window = run.latest_window()
    if window is not None and window.images_per_s is not None:
        return window.images_per_s
    return run.status.images_per_s


def latest_train_loss(run: RunSeries) -> float | None:
    """The mean train loss of the run's latest logging window, by the same rule as its pace."""
    window = run.latest_window()
    if window is not None and window.loss is not None:
        return window.loss
    return run.status.train_loss_running


def shown_state(run: RunSeries) -> str:
    """The state a monitor shows: the reader's, except `starting` for a run written running
    that has not finished a step yet (its trainer loads torch, the data and the model), and for
    a queued run whose driver is starting its worker (what it waits for is `starting`)."""
    status = run.status
    if run.state == st.RUNNING and not status.epoch and not status.step and not run.steps:
        return STARTING
    if run.state == st.QUEUED and status.waiting == STARTING:
        return STARTING
    return run.state
