"""Axis ranges and ticks shared by the app's charts and the PNGs of `export --plots`.

One outlier must not flatten a chart: a validation loss of 457 among values of 0.02 to 2.7 puts
every other point on the bottom row. So the y range is the *bulk* of the values: a few points
(at most a tenth of them) that sit further from the rest than OUTLIER_GAP times the rest's own
span are left outside it, and each chart marks them on its edge (the app with ▲/▼ and the value
in the title, the PNGs with a triangle and the value). This is TensorBoard's "ignore outliers in
chart scaling", with a rule that never clips an ordinary curve: the steep start of a loss curve
is clipped only when it alone would squeeze the rest of the run into under a quarter of the
height. Log scale stays one key away (`g`) rather than the default: on a log axis a decaying
loss is readable, but a spike still takes decades of the height, and accuracy and learning-rate
charts share the rule.

Y ticks are round, 1-2-5 steps (0.05, 0.1, 0.2, 0.5, 1, 2 ...), each the same whole number of
rows from the next (labels evenly spaced on a terminal), and the axis is the tightest such one
around the bulk: the points use the chart's height, whatever it is. A point is off scale only
when it is an outlier, never because the axis' end rounds a hair below it.
Epoch axes get whole-epoch ticks only. Pure functions, no plotting library: unit-tested alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

OUTLIER_GAP = 3.0  # clipped: points further from the rest than 3x the rest's span
OUTLIER_SHARE = 0.1  # ... and at most this share of the points (always 1 may go)
ROWS_PER_TICK = 3  # about one y label every three rows
NICE = (1.0, 2.0, 5.0)


@dataclass(frozen=True)
class YAxis:
    """A y axis: its ends, its ticks and their labels, in the values' units (decades of them
    on a log axis: ticks and ends are then log10 of the values). Values outside [lo, hi] are
    the clipped ones; the bulk of the values always lies inside."""

    lo: float
    hi: float
    ticks: tuple[float, ...]
    labels: tuple[str, ...]
    log: bool = False

    def clip(self, value: float) -> float:
        return min(max(value, self.lo), self.hi)

    def above(self, value: float) -> bool:
        """Off the top: beyond the floats' rounding of the axis' end (0.1 is on a 0.09-0.1
        axis whose end computes as 0.09999999999999999)."""
        return value > self.hi + (self.hi - self.lo) * 1e-9

    def below(self, value: float) -> bool:
        return value < self.lo - (self.hi - self.lo) * 1e-9


def bulk_range(values: Sequence[float]) -> tuple[float, float]:
    """(lowest, highest) of the values once the outliers are set aside: the largest group of
    top (then bottom) values, at most OUTLIER_SHARE of them (at least one), whose gap to the
    rest exceeds OUTLIER_GAP times the rest's span. All-equal rests clip nothing."""
    ordered = sorted(v for v in values if math.isfinite(v))
    if not ordered:
        return 0.0, 1.0
    count = len(ordered)
    limit = max(1, int(count * OUTLIER_SHARE)) if count >= 3 else 0
    first, last = 0, count - 1
    for k in range(limit, 0, -1):  # the most top values that are outliers
        span = ordered[last - k] - ordered[first]
        if span > 0 and ordered[last - k + 1] - ordered[last - k] > OUTLIER_GAP * span:
            last -= k
            break
    for k in range(limit, 0, -1):  # then the bottom ones, judged against what is kept
        span = ordered[last] - ordered[first + k]
        if span > 0 and ordered[first + k] - ordered[first + k - 1] > OUTLIER_GAP * span:
            first += k
            break
    return ordered[first], ordered[last]


def nice_step(raw: float) -> float:
    """The smallest 1-2-5 step (…, 0.1, 0.2, 0.5, 1, 2, 5, 10, …) of at least `raw` (> 0)."""
    exponent = math.floor(math.log10(raw))
    for factor in (*NICE, 10.0):
        step = factor * 10.0**exponent
        if step >= raw * (1 - 1e-9):
            return step
    return 10.0 ** (exponent + 1)  # unreachable: 10 * 10**exponent > raw


def y_axis(values: Sequence[float], rows: int, *, log: bool = False) -> YAxis:
    """The axis of a chart whose plotting area is `rows` rows high (the plotting library puts
    row i at floor(0.5 + (rows - 1) * (y - lo) / (hi - lo))). `values` are the points' y (for a
    log axis, positive ones: ticks then fall on whole decades).

    Each row is worth the same `unit`, a tick every `per` rows is a round 1-2-5 `step`
    (unit = step / per), and the axis starts on a whole unit: of every (step, per) whose axis
    holds the bulk and shows two ticks or more, the one with the smallest unit, so that the
    points use the height there is (losses of 0.78-2.57 on 8 rows: 0.67-3.0, ticks 1, 2, 3,
    not 0-4.7 with ticks 0, 2, 4)."""
    rows = max(2, rows)
    data = [math.log10(v) for v in values if v > 0] if log else list(values)
    low, high = bulk_range(data)
    if high - low <= max(abs(low), abs(high)) * 1e-9:  # one value, or all (nearly) equal
        # a band around them, wide enough to be told apart from them in floating point
        pad = 0.5 if log else (abs(low) * 0.1 or 1.0)
        low, high = low - pad, high + pad
    gaps = rows - 1  # row intervals
    # rows from one label to the next: ROWS_PER_TICK to twice that, fewer on a short chart
    fewest = ROWS_PER_TICK if gaps >= 2 * ROWS_PER_TICK else min(2, gaps)
    step = nice_step((high - low) / gaps)
    step = max(1.0, step) if log else step
    best: tuple[float, int, float, int] | None = None  # unit, per, step, first row's index
    for _ in range(16):  # coarser steps, up to one that fits with a tick a row
        for per in range(min(gaps, 2 * ROWS_PER_TICK), fewest - 1, -1):  # finest unit first
            unit = step / per
            first = math.floor(low / unit + 1e-9)
            if (first + gaps) * unit < high - abs(high) * 1e-9:
                continue
            if (first + gaps) // per - -(-first // per) < 1:  # fewer than two ticks
                continue
            if best is None or unit < best[0] * (1 - 1e-9):
                best = (unit, per, step, first)
            break
        if best is not None and step * 1e-9 > best[0]:
            break
        step = nice_step(step * 1.5)  # the next 1-2-5 step
    if best is None:  # two rows astride zero (-1..1): no axis starts on a whole unit
        return _widened_axis(low, high, rows, log)
    unit, per, step, first = best
    ticks = tuple(k * step for k in range(-(-first // per), (first + gaps) // per + 1))
    labels = tuple(decade_label(t) if log else tick_label(t, step) for t in ticks)
    return YAxis(first * unit, (first + gaps) * unit, ticks, labels, log)


def _widened_axis(low: float, high: float, rows: int, log: bool) -> YAxis:
    """The axis from the lowest tick under `low`, its top widened until each step spans the
    same whole number of rows: what a very short chart gets when no tighter axis fits."""
    most = max(1, (rows - 1) // ROWS_PER_TICK)  # intervals that leave room between labels
    step = max(1.0, nice_step((high - low) / most)) if log else nice_step((high - low) / most)
    while True:
        start, end = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
        if end - start <= most:
            break
        step = nice_step(step * 1.5)  # the next 1-2-5 step
    per = (rows - 1) // max(1, end - start)  # rows between two labels
    ticks = tuple((start + i) * step for i in range((rows - 1) // per + 1))
    labels = tuple(decade_label(t) if log else tick_label(t, step) for t in ticks)
    return YAxis(start * step, start * step + step * (rows - 1) / per, ticks, labels, log)


def tick_label(value: float, step: float) -> str:
    """A tick's value with as many decimals as its step needs: 0.05 -> '0.05', 2 -> '2'."""
    if abs(value) < step * 1e-6:
        value = 0.0
    if step >= 1e-4 and abs(value) < 1e6:
        decimals = max(0, -math.floor(math.log10(step) + 1e-9))
        return f"{value:.{decimals}f}"
    return f"{value:.3g}"


def decade_label(exponent: float) -> str:
    """10**exponent for a log axis' tick: '0.01', '1', '100', '1e+06'."""
    power = round(exponent)
    if -4 <= power <= 5:
        return f"{10.0**power:.{max(0, -power)}f}"
    return f"1e{power:+03d}"


def epoch_ticks(first: float, last: float, columns: int) -> tuple[float, float, list[int]]:
    """(left end, right end, ticks) of an epoch axis `columns` wide: ends on whole epochs
    around [first, last] (at least one epoch apart), ticks on whole epochs only, in 1-2-5
    steps, as many as fit with room for their labels."""
    lo = math.floor(first + 1e-9)
    # at least an epoch wide, and more where an epoch is below the floats' resolution
    hi = max(math.ceil(last - 1e-9), lo + max(1, math.ceil(abs(lo) * 1e-9)))
    most = max(2, columns // (len(str(hi)) + 3))
    step = 1
    while hi // step - math.ceil(lo / step) + 1 > most:
        step = int(nice_step(step * 1.5))
    return float(lo), float(hi), [t for t in range(math.ceil(lo / step) * step, hi + 1, step)]


def value_label(value: float) -> str:
    """A value read off a chart's cursor: four significant digits, 0.05231, 457, 5e-05."""
    return f"{value:.4g}"
