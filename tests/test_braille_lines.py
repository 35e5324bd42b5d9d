"""The braille lines worked out in ui/widgets/braille_lines.py draw exactly what plotext's own
braille lines draw: the same characters in the same colours, cell for cell."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as hs
from textual_plotext.plot import Plot

from tui_trainer.ui.widgets import chart_draw
from tui_trainer.ui.widgets.braille_lines import Canvas, braille_cells
from tui_trainer.ui.widgets.chart_draw import DOTS, LINE, draw


def built(series, width, height, *, log_y=False, no_color=False, cursor=None, fast=True):
    original = chart_draw._plot_line
    if not fast:
        chart_draw._plot_line = lambda plt, canvas, xs, ys, colour: plt.plot(
            xs, ys, marker=LINE, color=colour
        )
    plot = Plot()  # as the chart widget draws: textual-plotext's figure, sized exactly
    try:
        draw(plot, series, "loss", log_y, width, height, cursor=cursor, no_color=no_color)
    finally:
        chart_draw._plot_line = original
    plot.plotsize(width, height)
    plot._set_size(width, height)
    return plot.build()


values = hs.floats(-1e6, 1e6, allow_nan=False)
a_series = hs.lists(hs.tuples(hs.integers(1, 400), values), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(
    hs.lists(a_series, min_size=1, max_size=6),
    hs.integers(12, 130),
    hs.integers(6, 30),
    hs.booleans(),
    hs.booleans(),
)
def test_random_series_are_drawn_as_plotext_draws_them(runs, width, height, dots, no_color):
    series = []
    for index, points in enumerate(runs):
        points = sorted(dict(points).items())
        xs, ys = [float(x) for x, _ in points], [y for _, y in points]
        colour = chart_draw.RUN_COLOURS[index % len(chart_draw.RUN_COLOURS)]
        series.append((f"r{index}", xs, ys, colour, DOTS if dots and index % 2 else LINE))
    fast = built(series, width, height, no_color=no_color)
    slow = built(series, width, height, no_color=no_color, fast=False)
    assert fast == slow


def test_a_log_axis_a_cursor_and_clipped_outliers_are_drawn_as_plotext_draws_them():
    xs = [float(x) for x in range(1, 41)]
    series = [
        ("a", xs, [2.5 * 0.9**x for x in xs], "cyan", LINE),
        ("b", xs, [1313.0] + [1.0 / x for x in xs[1:]], "orange", LINE),  # an outlier on top
        ("c", xs, [0.5 + 0.01 * x for x in xs], "green", DOTS),
    ]
    for log_y in (False, True):
        fast = built(series, 59, 12, log_y=log_y, cursor=17.0)
        assert fast == built(series, 59, 12, log_y=log_y, cursor=17.0, fast=False)


def test_a_cell_holds_every_dot_of_the_line_that_crosses_it():
    # 2 x 2 cells are 4 x 8 dots; a line from the first dot to the last steps 8 times up and
    # 3 across: dots (0,0) (0,1) (0,2) (1,3) in the bottom left cell, (1,4) in the top left
    # one, (2,5) (2,6) (3,7) in the top right one (rows count from the bottom)
    canvas = Canvas(cols=2, rows=2, x_lo=0.0, x_hi=3.0, y_lo=0.0, y_hi=7.0)
    xs, ys, chars = braille_cells([0.0, 3.0], [0.0, 7.0], canvas)
    cells = dict(zip(zip(xs, ys, strict=True), chars, strict=True))
    assert cells == {(0.0, 0.0): "\u284e", (0.0, 7.0): "\u2880", (3.0, 7.0): "\u280e"}
    assert set(braille_cells([0.0, 3.0], [0.0, 7.0], canvas, joined=False)[2]) == {
        "\u2840",
        "\u2808",
    }
