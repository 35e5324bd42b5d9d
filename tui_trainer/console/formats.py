"""How states and durations look, wherever they are shown (CLI tables, live display, the app)."""

from __future__ import annotations

import math
from collections.abc import Sequence

STATE_STYLES = {
    "running": "bold cyan",
    "stalled": "bold yellow",
    "completed": "green",
    "failed": "red",
    "crashed": "bold red",
    "diverged": "magenta",
    "pruned": "blue",
    "interrupted": "yellow",
    "queued": "dim",
    "starting": "italic cyan",
    "unknown": "dim",
    "unreadable": "bold red",
}


# The comparison table's seconds columns, printed as seconds wherever the table goes (`show`,
# `export`): a column named "time (s)" never reads 3:29 in one place and 209.2 in another.
SECONDS_COLUMNS = frozenset({"time (s)"})
SECONDS_DECIMALS = {"markdown": 1, "csv": 3}


def duration(seconds: float | None) -> str:
    """m:ss, or h:mm:ss from an hour on; '-' when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def number(value: float, digits: int = 4) -> str:
    """A figure with `digits` decimals; one too large for that (a hand-edited 1e308) in
    scientific notation instead of three hundred digits."""
    if math.isfinite(value) and abs(value) >= 1e9:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


def setting(value: object) -> str:
    """A config value as a person wrote it: 0.05, 5e-05, 0.3 (never 0.30000000000000004, the
    sum of 0.1 and 0.2), true, crop+flip for a list; '-' when the run has none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, (list, tuple)):
        return "+".join(setting(item) for item in value) or "none"
    return str(value)


# Charts draw values between these magnitudes: no loss, accuracy, rate or epoch lives outside
# them, and the plotting libraries fail there (plotext's and matplotlib's axis arithmetic
# overflows near 1e308, and a log axis underflows near 5e-324).
PLOT_LIMIT = 1e100
PLOT_FLOOR = 1e-100


def plottable(
    xs: Sequence[float], ys: Sequence[float], *, log_y: bool = False
) -> tuple[list[float], list[float]]:
    """The points of a series a chart can draw: both coordinates finite numbers within
    ±PLOT_LIMIT, and, on a log axis, y of at least PLOT_FLOOR. A NaN, an infinity or a
    hand-edited 1e308 is left out of the picture, never passed to the plotting library; a
    magnitude under PLOT_FLOOR (5e-324) is drawn as the 0 it looks like on a linear axis."""
    keep_x, keep_y = [], []
    for x, y in zip(xs, ys, strict=False):
        if isinstance(x, bool) or isinstance(y, bool):
            continue
        if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            continue
        if not (abs(x) <= PLOT_LIMIT and abs(y) <= PLOT_LIMIT):  # False for NaN too
            continue
        if log_y and not y >= PLOT_FLOOR:
            continue
        keep_x.append(float(x) if abs(x) >= PLOT_FLOOR else 0.0)
        keep_y.append(float(y) if abs(y) >= PLOT_FLOOR else 0.0)
    return keep_x, keep_y
