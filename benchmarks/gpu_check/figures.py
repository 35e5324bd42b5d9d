"""Judging a run from its rows: finite and falling loss, steady images/s, compile time, and how
closely a resumed run's rows follow an uninterrupted one. Pure functions over the rows the
trainer wrote, so that the verdicts are tested without training anything."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Row = Mapping[str, Any]

# README ("Crashes, stops and resume"): on the CPU a resumed run writes the very rows of an
# uninterrupted one; on a GPU "the rows agree to rounding", because cuDNN's autotuned kernels are
# not bit-reproducible. The check reads that as: losses within 2% of each other, accuracies
# within 0.02 (one image in fifty), the learning rate exact.
GPU_RELATIVE_LOSS = 0.02
GPU_ACCURACY = 0.02
COMPARED = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")


def numbers(rows: Sequence[Row], column: str) -> list[float]:
    """The column's values that are numbers (a reader leaves a bad cell as text or absent)."""
    return [float(r[column]) for r in rows if isinstance(r.get(column), (int, float))]


@dataclass
class LossTrend:
    finite: bool
    first: float  # mean of the first logging windows
    last: float  # mean of the last ones

    @property
    def falling(self) -> bool:
        return self.finite and self.last < self.first


def loss_trend(losses: Sequence[float], windows: int = 3) -> LossTrend:
    """Compares the mean loss of the first `windows` logged windows with the last ones (fewer
    when the run logged fewer than 2 x windows rows), so one noisy window decides nothing."""
    if len(losses) < 2:
        return LossTrend(all(map(math.isfinite, losses)), math.nan, math.nan)
    n = max(1, min(windows, len(losses) // 2))
    return LossTrend(
        all(map(math.isfinite, losses)),
        statistics.fmean(losses[:n]),
        statistics.fmean(losses[-n:]),
    )


def steady_rate(rows: Sequence[Row], skip: int) -> float:
    """Median images/s of the step rows after the first `skip` (warm-up, compilation)."""
    rates = numbers(rows[skip:], "images_per_s")
    return statistics.median(rates) if rates else math.nan


def compile_seconds(eager_rows: Sequence[Row], compiled_rows: Sequence[Row]) -> float:
    """The time compilation added: how much later the compiled run logged its first window than
    the eager run did (both count from the run's start, over the same steps)."""
    eager = numbers(eager_rows[:1], "elapsed_s")
    compiled = numbers(compiled_rows[:1], "elapsed_s")
    if not eager or not compiled:
        return math.nan
    return compiled[0] - eager[0]


@dataclass
class Agreement:
    agree: bool
    compared_rows: int
    largest: dict[str, float]  # column -> largest difference (relative for losses)
    problem: str = ""


def rows_agree(reference: Sequence[Row], resumed: Sequence[Row], exact: bool) -> Agreement:
    """Whether a resumed run's metrics.csv rows match an uninterrupted run's: bit for bit when
    `exact` (the CPU), else within the GPU tolerances above. The same epochs must be there."""
    largest = {column: 0.0 for column in COMPARED}
    ref_epochs = [r.get("epoch") for r in reference]
    got_epochs = [r.get("epoch") for r in resumed]
    if ref_epochs != got_epochs:
        return Agreement(False, 0, largest, f"epochs {got_epochs} against {ref_epochs}")
    problems = []
    for want, got in zip(reference, resumed, strict=True):
        for column in COMPARED:
            a, b = want.get(column), got.get(column)
            if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
                problems.append(f"epoch {want.get('epoch')} {column}: {b!r} against {a!r}")
                continue
            diff = abs(a - b)
            if column.endswith("loss"):
                diff /= max(abs(a), 1e-12)
            largest[column] = max(largest[column], diff)
            if exact:
                ok = a == b
            elif column.endswith("loss"):
                ok = diff <= GPU_RELATIVE_LOSS
            elif column.endswith("acc"):
                ok = diff <= GPU_ACCURACY
            else:
                ok = math.isclose(a, b, rel_tol=1e-9)
            if not ok:
                problems.append(f"epoch {want.get('epoch')} {column}: {b!r} against {a!r}")
    return Agreement(not problems, len(reference), largest, "; ".join(problems[:3]))
