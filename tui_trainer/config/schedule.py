"""The learning rate at any step, as a pure function of the config.

Pure Python so that the trainer (through LambdaLR) and a schedule preview in the TUI compute the
same curve without the TUI importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tui_trainer.config.schema import ScheduleSection


def lr_at(
    schedule: ScheduleSection, base_lr: float, epochs: int, step: int, steps_per_epoch: int
) -> float:
    """Learning rate of optimizer step `step` (0-based, counted over the whole run).

    cosine and step change once per epoch, as the reports' per-epoch schedulers do; the warm-up
    ramps linearly per step on top of them.
    """
    steps_per_epoch = max(1, steps_per_epoch)
    epoch = step // steps_per_epoch
    if schedule.name == "onecycle":
        return _onecycle(schedule, base_lr, epochs * steps_per_epoch, step)
    if schedule.name == "cosine":
        progress = min(epoch, epochs) / max(1, epochs)
        lr = schedule.min_lr + (base_lr - schedule.min_lr) * 0.5 * (
            1.0 + math.cos(math.pi * progress)
        )
    elif schedule.name == "step":
        lr = base_lr * schedule.gamma ** (epoch // schedule.step_size)
    else:
        lr = base_lr
    warmup_steps = schedule.warmup_epochs * steps_per_epoch
    if warmup_steps > 0 and step < warmup_steps:
        lr *= (step + 1) / warmup_steps
    return lr


def _cosine(start: float, end: float, fraction: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1.0)


def _onecycle(schedule: ScheduleSection, base_lr: float, total_steps: int, step: int) -> float:
    """torch.optim.lr_scheduler.OneCycleLR (two phases, cosine), step by step."""
    initial = base_lr / schedule.div_factor
    final = initial / schedule.final_div_factor
    rise_end = float(schedule.pct_start * total_steps) - 1.0
    fall_end = float(total_steps - 1)
    if step <= rise_end:
        return _cosine(initial, base_lr, step / rise_end if rise_end > 0 else 1.0)
    span = fall_end - rise_end
    return _cosine(base_lr, final, min(1.0, (step - rise_end) / span) if span > 0 else 1.0)


def lr_curve(
    schedule: ScheduleSection, base_lr: float, epochs: int, steps_per_epoch: int = 1
) -> list[float]:
    """The learning rate at the start of each epoch (for previews and tests)."""
    return [
        lr_at(schedule, base_lr, epochs, e * steps_per_epoch, steps_per_epoch)
        for e in range(epochs)
    ]


def lr_preview(
    schedule: ScheduleSection, base_lr: float, epochs: int, max_points: int = 600
) -> tuple[list[float], list[float]]:
    """(x in epochs, learning rate) step by step, for a preview: the warm-up's ramp and a
    onecycle's curve show as the trainer follows them. A step is drawn where it ends, so epoch e
    ends at x = e, as on the monitor's charts (an epoch's row at its number). The real steps
    per epoch depend on the dataset (unknown without loading it); up to 50 steps per epoch,
    fewer when that would pass `max_points`, draw the same shape."""
    epochs = max(1, epochs)
    per_epoch = max(1, min(50, max_points // epochs))
    steps = range(epochs * per_epoch)
    xs = [(step + 1) / per_epoch for step in steps]
    return xs, [lr_at(schedule, base_lr, epochs, step, per_epoch) for step in steps]


@dataclass(frozen=True)
class PreviewCurve:
    """One learning-rate curve of a study's preview and the runs that follow it, in order."""

    runs: tuple[str, ...]
    xs: list[float]
    lrs: list[float]


def preview_curves(runs: Sequence[Any]) -> list[PreviewCurve]:
    """A curve per distinct schedule among `runs` (items with `name` and `config`), in run
    order: a swept rate (or schedule, or epoch count) shows each of its curves, however many
    other axes multiply the runs; runs that differ only elsewhere (seeds) share one."""
    curves: dict[tuple, PreviewCurve] = {}
    for run in runs:
        cfg = run.config
        key = (cfg.schedule.model_dump_json(), cfg.optim.lr, cfg.train.epochs)
        known = curves.get(key)
        if known is None:
            xs, lrs = lr_preview(cfg.schedule, cfg.optim.lr, cfg.train.epochs)
            curves[key] = PreviewCurve((run.name,), xs, lrs)
        else:
            curves[key] = PreviewCurve((*known.runs, run.name), known.xs, known.lrs)
    return list(curves.values())
