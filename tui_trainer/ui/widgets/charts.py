"""Line charts of runs overlaid, drawn with plotext inside Textual (textual-plotext)."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

# (label, xs, ys, colour, marker); the label is for tests and tools, the runs table is the legend
Series = tuple[str, Sequence[float], Sequence[float], str, str]

# One colour per run, in order; the monitor's runs table shows each run's name in its colour.
RUN_COLOURS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "white")
LINE, DOTS = "braille", "dot"


def run_colour(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


class MetricChart(PlotextPlot):
    """A chart of several labelled series; `show` replaces them and redraws once."""

    DEFAULT_CSS = """
    MetricChart { height: 1fr; min-height: 8; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.series: list[Series] = []
        self.log_y = False

    def show(self, series: list[Series]) -> None:
        self.series = series
        self.replot()

    def toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title + ("  (log y)" if self.log_y else ""))
        plt.xlabel("epoch")
        drawn = False
        for _label, xs, ys, colour, marker in self.series:
            points = [(x, y) for x, y in zip(xs, ys, strict=False) if not self.log_y or y > 0]
            if points:
                xs_, ys_ = [p[0] for p in points], [p[1] for p in points]
                plt.plot(xs_, ys_, marker=marker, color=colour)
                drawn = True
        if self.log_y and drawn:
            plt.yscale("log")
        self.refresh()
