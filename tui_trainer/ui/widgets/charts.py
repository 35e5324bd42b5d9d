"""Line charts of runs overlaid, drawn with plotext inside Textual (textual-plotext).

A chart can take focus: a cursor then stands on one x (left/right/home/end move it), drawn as
a vertical line, and a line under the plot gives each series' exact value there, for what a
chart's few rows cannot show. How the series are drawn (range, ticks, clipped points, markers
without colour) is chart_draw's.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.binding import Binding
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from tui_trainer.console.chart_scale import value_label
from tui_trainer.ui.widgets.chart_draw import (
    DOTS,
    LINE,
    RUN_COLOURS,
    RUN_MARKERS,
    Drawn,
    Series,
    cursor_positions,
    decimate,
    draw,
    marker_of_colour,
    run_colour,
    run_marker,
    values_at,
)

__all__ = [
    "DOTS",
    "LINE",
    "RUN_COLOURS",
    "RUN_MARKERS",
    "MetricChart",
    "Series",
    "decimate",
    "draw",
    "run_colour",
    "run_marker",
]

# plotext colour names as Rich styles, for the values line
RICH = {"orange": "dark_orange", "white": "bright_white", "gray": "grey50"}


class MetricChart(PlotextPlot):
    """A chart of several labelled series; `show` replaces them and redraws once.

    The plot is built only when it is drawn and its data, size, theme or cursor changed since
    the last build (Textual may render a widget several times per frame), and each series is
    first decimated to the chart's width in braille dots, so a 300-epoch, 12-run chart costs
    about what a short one does.
    """

    DEFAULT_CSS = """
    MetricChart { height: 1fr; min-height: 8; }
    """

    can_focus = True
    BINDINGS = [
        Binding("left", "cursor(-1)", "◀ x", show=False),
        Binding("right", "cursor(1)", "x ▶", show=False),
        Binding("home", "cursor_home", "First x", show=False),
        Binding("end", "cursor_end", "Last x", show=False),
    ]

    # the x the cursor stands on while the chart has focus; None: the last one, following it
    cursor_x: reactive[float | None] = reactive(None)

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.series: list[Series] = []
        self.log_y = False
        self.drawn = Drawn()  # what the last build put on the chart
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

    def allow_focus(self) -> bool:
        """A chart is focused from another widget (tab, a screen's key, a click), never as the
        first focus of a screen that has other focusable widgets: AUTO_FOCUS takes the first
        focusable one in the DOM, the charts come first on the monitor and compare screens,
        and their left/right would then shadow the screen's own keys."""
        if not self.can_focus:
            return False
        if not self.is_attached or self.screen.focused is not None:
            return True
        return not any(
            widget.can_focus and not isinstance(widget, MetricChart)
            for widget in self.screen.walk_children()
        )

    # -- the cursor ------------------------------------------------------------------------------

    def cursor(self) -> float | None:
        """Where the cursor stands: `cursor_x`, or the nearest x before it once the data
        changed (replay went back), or the last x; None with no data."""
        positions = cursor_positions(self.series)
        if not positions:
            return None
        if self.cursor_x is None:
            return positions[-1]
        before = [x for x in positions if x <= self.cursor_x]
        return before[-1] if before else positions[0]

    def action_cursor(self, delta: int) -> None:
        positions = cursor_positions(self.series)
        here = self.cursor()
        if here is None:
            return
        index = min(max(positions.index(here) + delta, 0), len(positions) - 1)
        self.cursor_x = None if index == len(positions) - 1 else positions[index]

    def action_cursor_home(self) -> None:
        positions = cursor_positions(self.series)
        if positions:
            self.cursor_x = positions[0]

    def action_cursor_end(self) -> None:
        self.cursor_x = None

    def values_line(self) -> Text:
        """'epoch 7  lr=0.1 train 0.1234  lr=0.1 val 0.2345': each series' value at the
        cursor, in its colour (after its run's marker when there is no colour)."""
        here = self.cursor()
        if here is None:
            return Text("no data", style="dim")
        where = f"{here:g}" if here == int(here) else f"{here:.2f}"
        line = Text(f"epoch {where}", style="bold")
        no_color = self.app.no_color if self.is_attached else False
        for label, value, colour in values_at(self.series, here):
            line.append("  ")
            if no_color:
                line.append(marker_of_colour(colour) + " ")
            line.append(f"{label} {value_label(value)}", style=RICH.get(colour, colour))
        return line

    def _on_focus(self, event: events.Focus) -> None:
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self.refresh()

    # -- drawing ---------------------------------------------------------------------------------

    def render(self) -> RenderResult:
        focused = self.has_focus
        key = (
            self._version,
            self.title,
            self.size.width,
            self.size.height,
            self.app.theme,
            self.app.no_color,
            self.cursor() if focused else None,
        )
        if self._built is None or self._built[0] != key:
            self._built = (key, self._draw())
        return self._built[1]

    def _draw(self) -> Text:
        """Build the plot (one row shorter while focused: the values line goes under it)."""
        focused = self.has_focus
        width, height = self.size.width, max(1, self.size.height - (1 if focused else 0))
        self.drawn = draw(
            self.plt,
            self.series,
            self.title,
            self.log_y,
            width,
            height,
            cursor=self.cursor() if focused else None,
            no_color=self.app.no_color,
        )
        self.plt.plotsize(width, height)
        self.plt._set_size(width, height)  # as PlotextPlot.render does (textual-plotext#5)
        self.plt.theme(self._get_plotext_theme_name(self.app.theme))
        built = self.plt.build()
        text = Text.from_ansi(built[:-1] if built.endswith("\n") else built)
        if focused:
            text.append("\n")
            text.append_text(self.values_line())
        return text
