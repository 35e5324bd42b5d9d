"""Drawing a chart's series on a plotext figure: the y range of the bulk with round, evenly
spaced ticks and the clipped points marked on the edge (console/chart_scale.py says why),
whole-epoch x ticks, a cursor line, and per-run markers when there is no colour.

Kept apart from the widget so that it can be drawn and read without Textual (the hostile-input
property tests draw on a bare plotext figure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tui_trainer.console.chart_scale import (
    YAxis,
    epoch_ticks,
    value_label,
    y_axis,
)
from tui_trainer.console.formats import plottable
from tui_trainer.ui.widgets.braille_lines import Canvas, braille_cells

# (label, xs, ys, colour, marker); the label is for tests and tools, the runs table is the legend
Series = tuple[str, Sequence[float], Sequence[float], str, str]

# One colour per run, in order; the monitor's runs table shows each run's name in its colour.
RUN_COLOURS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "white")
LINE, DOTS = "braille", "dot"

# One marker per run, in order: what tells overlaid runs apart without colour (NO_COLOR), drawn
# by the charts and shown beside each run's name wherever a table is a chart's legend. Distinct
# shapes that read apart at one character a cell (• and o, or x and + side by side, do too).
RUN_MARKERS = ("•", "+", "x", "o", "*", "#", "@", "%")
ABOVE, BELOW = "▲", "▼"  # a point off the chart's top or bottom, drawn on that edge
CURSOR_COLOUR = "gray"

# what plotext puts around the plotting area: title, x tick labels, x label, frame top and bottom
FRAME_ROWS = 5


def run_colour(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def run_marker(index: int) -> str:
    return RUN_MARKERS[index % len(RUN_MARKERS)]


def marker_of_colour(colour: str) -> str:
    """The run marker that goes with a run colour (the charts get series by colour)."""
    return RUN_MARKERS[RUN_COLOURS.index(colour)] if colour in RUN_COLOURS else RUN_MARKERS[0]


def decimate(
    xs: Sequence[float], ys: Sequence[float], buckets: int
) -> tuple[Sequence[float], Sequence[float]]:
    """At most about 2 * `buckets` points that draw the same line at that many columns: each of
    `buckets` equal runs of points keeps its lowest and its highest point (in x order), so spikes
    survive; the first and last points are always kept. Short series are returned as they are."""
    count = min(len(xs), len(ys))
    if buckets < 1 or count <= 2 * buckets + 2:
        return xs, ys
    keep = {0, count - 1}
    for bucket in range(buckets):
        start = 1 + bucket * (count - 2) // buckets
        stop = 1 + (bucket + 1) * (count - 2) // buckets
        if start >= stop:
            continue
        chunk = range(start, stop)
        keep.add(min(chunk, key=ys.__getitem__))
        keep.add(max(chunk, key=ys.__getitem__))
    order = sorted(keep)
    return [xs[i] for i in order], [ys[i] for i in order]


@dataclass
class Drawn:
    """What a drawing put on the chart, for the widget's title and for tests."""

    axis: YAxis | None = None
    x_ends: tuple[float, float] | None = None
    x_ticks: list[int] = field(default_factory=list)
    above: list[tuple[float, float]] = field(default_factory=list)  # clipped (x, value)
    below: list[tuple[float, float]] = field(default_factory=list)

    def clipped_note(self) -> str:
        """'▲457' (the highest value off the top), '▼0.001' (the lowest off the bottom)."""
        parts = []
        if self.above:
            parts.append(ABOVE + value_label(max(v for _, v in self.above)))
        if self.below:
            parts.append(BELOW + value_label(min(v for _, v in self.below)))
        return "  off scale " + " ".join(parts) if parts else ""


def canvas_rows(height: int) -> int:
    """Rows of a plotext figure `height` rows high that plot data."""
    return max(2, height - FRAME_ROWS)


def plot_columns(width: int, axis: YAxis) -> int:
    """Columns of a plotext figure `width` wide that plot data: less the frame's two sides
    and the y tick labels (as wide as the longest, as plotext pads them)."""
    return width - 2 - max((len(label) for label in axis.labels), default=0)


def draw(
    plt: Any,
    series: Sequence[Series],
    title: str,
    log_y: bool,
    width: int,
    height: int = 20,
    *,
    cursor: float | None = None,
    no_color: bool = False,
) -> Drawn:
    """Plot `series` on a plotext figure (`plt`: plotext, or textual-plotext's Plot) of
    `width` x `height` cells. Only plottable points reach plotext (console.formats.plottable):
    it fails on infinities and on values near the float range's ends. A log axis is drawn as
    log10 of the values on a linear one, so that its ticks are whole decades we label."""
    plt.clear_data()
    plt.clear_figure()
    plt.xlabel("epoch")
    drawn = Drawn()
    points = []
    for label, xs, ys, colour, marker in series:
        xs_, ys_ = plottable(xs, ys, log_y=log_y)
        if xs_:
            points.append((label, xs_, ys_, colour, marker))
    if points:
        axis = y_axis([y for p in points for y in p[2]], canvas_rows(height), log=log_y)
        first = min(min(p[1]) for p in points)
        last = max(max(p[1]) for p in points)
        lo, hi, ticks = epoch_ticks(first, last, max(8, width - 8))
        drawn.axis, drawn.x_ends, drawn.x_ticks = axis, (lo, hi), ticks
        plt.ylim(axis.lo, axis.hi)
        plt.yticks(list(axis.ticks), list(axis.labels))
        plt.xlim(lo, hi)
        plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])
        if cursor is not None:
            plt.vline(cursor, CURSOR_COLOUR)
        # at most about one point per column (braille has two dots per column): finer detail
        # would not show, and plotext's cost grows with the points
        buckets = max(8, width // 2)
        canvas = Canvas(plot_columns(width, axis), height - FRAME_ROWS, lo, hi, axis.lo, axis.hi)
        for _label, xs_, ys_, colour, marker in points:
            if log_y:  # plotted as decades on a linear axis
                ys_ = [math.log10(y) for y in ys_]
            xs_, ys_ = decimate(xs_, ys_, buckets)
            _plot_clipped(plt, drawn, axis, canvas, xs_, ys_, colour, marker, no_color)
    plt.title(fitted_title(title, log_y, drawn, width))
    return drawn


def fitted_title(title: str, log_y: bool, drawn: Drawn, width: int) -> str:
    """The title with its notes, shortened to fit `width` (plotext leaves out a title that is
    too long): first the legend after the colon goes, then the words of the clipped-value
    note; the values themselves (`▲457`) stay as long as they fit."""
    log = "  (log y)" if log_y else ""
    note = drawn.clipped_note()
    name = title.split(":", 1)[0]
    short_note = note.replace("  off scale ", "  ")
    for candidate in (title + log + note, name + log + note, name + log + short_note):
        if len(candidate) <= width:
            return candidate
    return name


def _plot_clipped(
    plt: Any,
    drawn: Drawn,
    axis: YAxis,
    canvas: Canvas,
    xs: Sequence[float],
    ys: Sequence[float],
    colour: str,
    marker: str,
    no_color: bool,
) -> None:
    """One series, its points beyond the axis drawn on the edge and marked there."""
    shown = [axis.clip(y) for y in ys]
    value = (lambda y: 10.0**y) if axis.log else (lambda y: y)
    for x, y in zip(xs, ys, strict=True):
        if axis.above(y):
            drawn.above.append((x, value(y)))
        elif axis.below(y):
            drawn.below.append((x, value(y)))
    if no_color:
        # the run's own marker on each point tells the runs apart; a line through the markers
        # is training, markers alone validation (as matplotlib's "-o" and "o")
        if marker != DOTS:
            _plot_line(plt, canvas, xs, shown, colour)
        plt.scatter(xs, shown, marker=marker_of_colour(colour), color=colour)
    elif marker == LINE:
        _plot_line(plt, canvas, xs, shown, colour)
    else:
        plt.plot(xs, shown, marker=marker, color=colour)
    above = [x for x, y in zip(xs, ys, strict=True) if axis.above(y)]
    below = [x for x, y in zip(xs, ys, strict=True) if axis.below(y)]
    for off, edge, symbol in ((above, axis.hi, ABOVE), (below, axis.lo, BELOW)):
        if off:
            plt.scatter(off, [edge] * len(off), marker=symbol, color=colour)


def _plot_line(
    plt: Any, canvas: Canvas, xs: Sequence[float], ys: Sequence[float], colour: str
) -> None:
    """A braille line, its cells worked out here (braille_lines.py: plotext's own way is ten
    times slower), or by plotext on a canvas too small to place cells on."""
    if not canvas.usable:
        plt.plot(xs, ys, marker=LINE, color=colour)
        return
    cx, cy, chars = braille_cells(xs, ys, canvas)
    if chars:
        plt.scatter(cx, cy, marker=chars, color=colour)


def cursor_positions(series: Sequence[Series]) -> list[float]:
    """The x of every plottable point of the series, once each, in order: where a cursor
    stops."""
    seen: set[float] = set()
    for _label, xs, ys, _colour, _marker in series:
        seen.update(plottable(xs, ys)[0])
    return sorted(seen)


def values_at(series: Sequence[Series], x: float) -> list[tuple[str, float, str]]:
    """(label, value, colour) of each series that has a point at `x`."""
    found = []
    for label, xs, ys, colour, _marker in series:
        for px, py in zip(*plottable(xs, ys), strict=True):
            if px == x:
                found.append((label, py, colour))
                break
    return found
