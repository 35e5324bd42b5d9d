"""Line charts of runs overlaid, drawn with plotext inside Textual (textual-plotext)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from tui_trainer.console.formats import plottable

# (label, xs, ys, colour, marker); the label is for tests and tools, the runs table is the legend
Series = tuple[str, Sequence[float], Sequence[float], str, str]

# One colour per run, in order; the monitor's runs table shows each run's name in its colour.
RUN_COLOURS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "white")
LINE, DOTS = "braille", "dot"


# One marker per run, in order: what tells overlaid runs apart without colour (NO_COLOR), drawn
# by the charts and shown beside each run's name wherever a table is a chart's legend.
RUN_MARKERS = ("•", "+", "x", "o", "*", "#", "@", "%")


def run_colour(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def run_marker(index: int) -> str:
    return RUN_MARKERS[index % len(RUN_MARKERS)]


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


class MetricChart(PlotextPlot):
    """A chart of several labelled series; `show` replaces them and redraws once.

    The plot is built only when it is drawn and its data, size or theme changed since the last
    build (Textual may render a widget several times per frame), and each series is first
    decimated to the chart's width in braille dots, so a 300-epoch, 12-run chart costs about
    what a short one does.
    """

    DEFAULT_CSS = """
    MetricChart { height: 1fr; min-height: 8; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.series: list[Series] = []
        self.log_y = False
        self._version = 0
        self._built: tuple[tuple, Text] | None = None

    def show(self, series: list[Series]) -> None:
        if series == self.series:
            return  # nothing new to draw
        self.series = series
        self.replot()

    def toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.replot()

    def replot(self) -> None:
        self._version += 1
        self.refresh()

    def render(self) -> RenderResult:
        key = (self._version, self.title, self.size.width, self.size.height, self.app.theme)
        if self._built is None or self._built[0] != key:
            self._draw()
            self._built = (key, super().render())
        return self._built[1]

    def _draw(self) -> None:
        draw(self.plt, self.series, self.title, self.log_y, self.size.width)


def draw(plt: Any, series: Sequence[Series], title: str, log_y: bool, width: int) -> None:
    """Plot `series` on a plotext figure (`plt`: plotext, or textual-plotext's Plot) `width`
    columns wide. Only plottable points reach plotext (console.formats.plottable): it fails on
    infinities and on values near the float range's ends."""
    plt.clear_data()
    plt.clear_figure()
    plt.title(title + ("  (log y)" if log_y else ""))
    plt.xlabel("epoch")
    # at most about one point per column (braille has two dots per column): finer detail would
    # not show, and plotext's cost grows with the points
    buckets = max(8, width // 2)
    drawn = False
    for _label, xs, ys, colour, marker in series:
        xs_, ys_ = plottable(xs, ys, log_y=log_y)
        if xs_:
            xs_, ys_ = decimate(xs_, ys_, buckets)
            plt.plot(xs_, ys_, marker=marker, color=colour)
            drawn = True
    if log_y and drawn:
        plt.yscale("log")
