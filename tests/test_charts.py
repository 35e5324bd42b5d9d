"""Charts a person can read: the y range of the bulk with the outliers marked on the edge,
round evenly spaced y labels, whole-epoch x ticks, a step-loss chart of recent windows across
epochs, a cursor that reads exact values off a focused chart, per-run markers under NO_COLOR,
and the same range rule in `export --plots`."""

from __future__ import annotations

import itertools
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as hs
from textual.app import App, ComposeResult
from textual.widgets import DataTable
from textual_plotext.plot import Plot

from tests.ui_pilot import run
from tui_trainer.console.chart_scale import bulk_range, epoch_ticks, nice_step, y_axis
from tui_trainer.store.csvlog import read_rows
from tui_trainer.store.follow import RunSeries
from tui_trainer.store.schema import RunStatus
from tui_trainer.ui.widgets.chart_draw import canvas_rows
from tui_trainer.ui.widgets.charts import DOTS, LINE, MetricChart, draw, run_colour, run_marker

ANSI = re.compile(r"\x1b\[[0-9;]*m")
BRAILLE = re.compile("[\u2801-\u28ff]")

# A quickstart run before the retune (lr 0.1, seed 0, measured here): validation loss 457 at
# epoch 2 and 102 at epoch 3, every other value of either curve between 0.018 and 2.68.
EPOCHS = [float(e) for e in range(1, 21)]
TRAIN_LOSS = [
    2.3352, 1.7191, 0.9174, 0.5122, 0.4505, 0.2585, 0.1811, 0.1604, 0.1325, 0.0794,
    0.0950, 0.0466, 0.0448, 0.0305, 0.0326, 0.0275, 0.0380, 0.0294, 0.0213, 0.0259,
]  # fmt: skip
VAL_LOSS = [
    2.6756, 456.9765, 101.6873, 1.7435, 0.3316, 0.2623, 0.1289, 0.2953, 0.0895, 0.0231,
    0.0505, 0.0180, 0.0481, 0.0247, 0.0282, 0.0707, 0.0319, 0.0326, 0.0276, 0.0414,
]  # fmt: skip
LOSS = [
    ("run train", EPOCHS, TRAIN_LOSS, "cyan", LINE),
    ("run val", EPOCHS, VAL_LOSS, "cyan", DOTS),
]


def plot_text(
    series, width=60, height=16, log_y=False, title="loss", **options
) -> tuple[list[str], object]:
    plot = Plot()
    drawn = draw(plot, series, title, log_y, width, height, **options)
    plot.plotsize(width, height)
    plot._set_size(width, height)
    return ANSI.sub("", plot.build()).splitlines(), drawn


# -- the y range --------------------------------------------------------------------------------


def test_a_spike_is_left_out_of_the_y_range_and_marked_on_the_top_edge():
    assert bulk_range(TRAIN_LOSS + VAL_LOSS) == (0.018, 2.6756)
    lines, drawn = plot_text(LOSS)
    assert drawn.axis.lo == 0.0 and drawn.axis.labels == ("0", "1", "2", "3")
    assert drawn.above == [(2.0, 456.9765), (3.0, 101.6873)] and drawn.below == []
    assert lines[0].strip() == "loss  off scale ▲457"
    canvas = lines[2 : 2 + canvas_rows(16)]
    assert canvas[0].count("▲") == 2  # the top row, at epochs 2 and 3
    assert all("▲" not in line for line in canvas[1:])
    # the bulk fills the height: epoch 1's 2.68 is drawn on the upper rows, not the bottom one
    assert drawn.axis.hi < 3.5


def test_a_narrow_chart_shortens_its_title_and_keeps_the_clipped_value():
    full = "loss: train line, validation dots"
    assert plot_text(LOSS, width=60, title=full)[0][0].strip() == full + "  off scale ▲457"
    assert plot_text(LOSS, width=40, title=full)[0][0].strip() == "loss  off scale ▲457"
    assert plot_text(LOSS, width=16, title=full)[0][0].strip() == "loss  ▲457"


def test_an_ordinary_curve_keeps_every_point_in_range():
    accuracy = [0.10, 0.35, 0.62, 0.80, 0.88, 0.92, 0.95, 0.96, 0.97, 0.975]
    assert bulk_range(accuracy) == (0.10, 0.975)
    step_schedule = [0.1] * 10 + [0.01] * 10 + [0.001] * 10  # clusters are not outliers
    assert bulk_range(step_schedule) == (0.001, 0.1)
    assert bulk_range([0.1] * 19 + [0.05]) == (0.05, 0.1)  # an all-equal rest clips nothing
    _, drawn = plot_text([("acc", list(range(1, 11)), accuracy, "cyan", LINE)])
    assert drawn.above == drawn.below == [] and "off scale" not in drawn.clipped_note()


def test_a_log_axis_has_whole_decades_and_keeps_the_spike():
    lines, drawn = plot_text(LOSS, log_y=True)
    assert drawn.axis.labels == ("0.01", "1", "100")  # 457 is under 1000: no decade above
    assert drawn.above == [] and lines[0].strip() == "loss  (log y)"


# losses of a quickstart sweep's first epochs, train and validation: 0.78 to 2.57
FIRST_EPOCHS_LOSS = [2.57, 1.8, 1.2, 0.9, 0.78, 2.3, 1.5, 1.1, 0.95, 0.85]


@pytest.mark.parametrize(
    ("rows", "ends", "labels"),
    [
        (6, (0.5, 3.0), ("1", "2", "3")),  # a monitor chart at 120x40 (it was 0-5: '0', '5')
        (8, (0.667, 3.0), ("1", "2", "3")),  # (it was 0-4.67: '0', '2', '4')
        (15, (0.667, 3.0), ("1.0", "1.5", "2.0", "2.5", "3.0")),  # (it was 0-3.5)
    ],
)
def test_an_axis_uses_the_height_it_has_with_ticks_a_person_can_read_off(rows, ends, labels):
    axis = y_axis(FIRST_EPOCHS_LOSS, rows)
    assert (round(axis.lo, 3), round(axis.hi, 3)) == ends and axis.labels == labels
    assert axis.lo <= min(FIRST_EPOCHS_LOSS) and max(FIRST_EPOCHS_LOSS) <= axis.hi


@pytest.mark.parametrize("height", range(8, 19))
def test_the_quickstarts_peak_learning_rate_is_never_off_scale(height):
    """Cosine from 0.1 after a warm-up epoch: 0.1 sits on the axis' end, which computes as
    0.09999999999999999 (0.09 + 0.01); it was marked 'off scale ▲0.1'."""
    lr = [0.1, 0.0993, 0.0973, 0.094]
    series = [("lr", [1.0, 2.0, 3.0, 4.0], lr, "cyan", LINE)]
    lines, drawn = plot_text(series, height=height, title="learning rate")
    assert drawn.above == drawn.below == [] and lines[0].strip() == "learning rate"


def test_hostile_magnitudes_give_an_axis_of_some_width():
    axis = y_axis([1e17, 1e17 + 16.0], 10)  # a span below the floats' resolution there
    assert axis.hi > axis.lo and axis.lo <= 1e17 <= axis.hi
    lo, hi, ticks = epoch_ticks(-6.8351566568960664e16, -6.8351566568960664e16, 60)
    assert hi > lo and ticks and all(lo <= t <= hi for t in ticks)
    lines, _ = plot_text([("a", [-6.8351566568960664e16], [1e300], "cyan", LINE)])
    assert lines[0].strip() == "loss"


# -- ticks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "rows", "labels"),
    [
        ([0.018, 2.6756], 11, ("0", "1", "2", "3")),
        ([0.018, 2.6756], 19, ("0.0", "0.5", "1.0", "1.5", "2.0", "2.5", "3.0")),
        ([0.905, 0.987], 11, ("0.90", "0.95", "1.00")),
        ([0.0, 0.1], 7, ("0.00", "0.05", "0.10")),
        ([1.2e-5, 4.9e-5], 13, ("1e-05", "2e-05", "3e-05", "4e-05", "5e-05")),
        ([120.0, 1730.0], 11, ("0", "1000", "2000")),
    ],
)
def test_y_labels_are_round_1_2_5_steps_on_evenly_spaced_rows(values, rows, labels):
    axis = y_axis(values, rows)
    assert axis.labels == labels
    steps = {round(b - a, 12) for a, b in itertools.pairwise(axis.ticks)}
    (step,) = steps  # one step between all labels...
    assert step == nice_step(step) and round(step / 10 ** math.floor(math.log10(step)), 9) in (
        1,
        2,
        5,
    )
    # ...that is the same whole number of rows (plotext's row of y: floor(0.5 + (rows-1)*f))
    placed = [
        math.floor(0.5 + (rows - 1) * (t - axis.lo) / (axis.hi - axis.lo)) for t in axis.ticks
    ]
    assert len({b - a for a, b in itertools.pairwise(placed)}) == 1
    assert axis.lo <= min(values) and axis.hi >= max(values)


def test_the_drawn_y_labels_sit_on_evenly_spaced_rows():
    lines, drawn = plot_text(LOSS, height=24)
    labelled = [i for i, line in enumerate(lines) if re.match(r"^\s*[0-9.]+┤", line)]
    assert [lines[i].split("┤")[0].strip() for i in labelled] == list(reversed(drawn.axis.labels))
    assert len({b - a for a, b in itertools.pairwise(labelled)}) == 1


def test_epoch_axes_have_whole_epoch_ticks_only():
    assert epoch_ticks(1.0, 20.0, 52) == (1.0, 20.0, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20])
    assert epoch_ticks(1.0, 300.0, 52) == (1.0, 300.0, [50, 100, 150, 200, 250, 300])
    assert epoch_ticks(0.476, 1.0, 52) == (0.0, 1.0, [0, 1])  # steps inside epoch 1
    assert epoch_ticks(2.0, 2.0, 52) == (2.0, 3.0, [2, 3])  # one epoch so far
    lines, _ = plot_text([("a", [1.0, 2.0, 3.0], [0.3, 0.2, 0.1], "cyan", LINE)])
    assert lines[-2].split() == ["1", "2", "3"]  # not 1.5, 2.5


# -- the step-loss chart ------------------------------------------------------------------------


def quickstart_steps() -> RunSeries:
    """The first three epochs of the quickstart's steps.csv (21 steps an epoch, a row every 10
    steps and at the epoch's last step: that one a window of the partial batch alone)."""
    rows = [
        (1, 10, 2.3302), (1, 20, 2.3217), (1, 21, 3.1261),
        (2, 31, 2.1617), (2, 41, 1.2851), (2, 42, 1.3465),
        (3, 52, 1.1974), (3, 62, 0.6397), (3, 63, 0.8218),
    ]  # fmt: skip
    series = RunSeries("run", status=RunStatus(steps_per_epoch=21))
    series.steps = [{"epoch": e, "step": s, "loss": loss} for e, s, loss in rows]
    return series


def test_recent_steps_cross_epoch_boundaries_and_fold_in_the_partial_batch():
    xs, ys = quickstart_steps().recent_steps()
    assert [round(x, 3) for x in xs] == [0.476, 1.0, 1.476, 2.0, 2.476, 3.0]
    # the partial batch's window (1 step, loss 3.126) is weighted 1:10 into the one before
    assert [round(y, 4) for y in ys] == [2.3302, 2.3948, 2.1617, 1.2907, 1.1974, 0.6563]
    assert max(ys[1:]) < ys[0] + 0.1  # no spike at the epochs' ends
    xs, _ = quickstart_steps().recent_steps(points=3)
    assert [round(x, 3) for x in xs] == [2.0, 2.476, 3.0]


def test_recent_steps_of_a_csv_with_a_gap_or_bad_cells():
    series = RunSeries("run", status=RunStatus(steps_per_epoch=20))
    series.steps = [
        {"epoch": 1, "step": 10, "loss": 2.0},
        {"epoch": 1, "step": 10, "loss": 9.0},  # a repeated step: not a window
        {"epoch": 1, "step": 20, "loss": float("nan")},
        {"epoch": 2, "step": 30, "loss": "x"},
        {"epoch": 2, "step": 40, "loss": 1.0},
    ]
    assert series.recent_steps() == ([0.5, 2.0], [2.0, 1.0])
    assert RunSeries("run").recent_steps() == ([], [])  # steps per epoch not known yet


def test_recent_steps_of_a_real_steps_csv(tmp_path):
    path = tmp_path / "steps.csv"
    path.write_text(
        "epoch,step,loss,acc,lr,images_per_s,device_util,elapsed_s\n"
        "1,10,2.33,0.09,0.05,72.7,95.9,8.8\n1,20,2.32,0.14,0.1,43.5,95.2,23.5\n"
        "1,21,3.13,0.07,0.1,36.2,94.7,23.9\n2,31,2.16,0.26,0.1,74.5,98.2,33.2\n"
    )
    series = RunSeries("run", status=RunStatus(steps_per_epoch=21))
    series.steps = read_rows(path)
    assert [round(y, 4) for y in series.recent_steps()[1]] == [2.33, 2.3936, 2.16]


# -- the cursor ---------------------------------------------------------------------------------


class ChartApp(App):
    def compose(self) -> ComposeResult:
        yield MetricChart("loss: train line, validation dots", id="chart")


def test_a_focused_chart_has_a_cursor_whose_line_gives_exact_values():
    async def scenario():
        app = ChartApp()
        async with app.run_test(size=(80, 20)) as pilot:
            chart = app.query_one(MetricChart)
            chart.show(LOSS)
            await pilot.pause()
            assert chart.has_focus  # the only focusable widget
            rendered = str(chart.render()).splitlines()
            assert len(rendered) == chart.size.height == 20  # the values line is the last row
            assert rendered[-1] == "epoch 20  run train 0.0259  run val 0.0414"
            await pilot.press("left", "left")
            assert chart.values_line().plain == "epoch 18  run train 0.0294  run val 0.0326"
            await pilot.press("home", "right")
            assert chart.values_line().plain == "epoch 2  run train 1.719  run val 457"
            assert chart.drawn is not None
            await pilot.pause()
            assert "│" in str(chart.render()).splitlines()[3]  # the cursor's line
            await pilot.press("end")
            assert chart.cursor_x is None and chart.cursor() == 20.0
            chart.blur()
            await pilot.pause()
            assert not str(chart.render()).splitlines()[-1].startswith("epoch 20")

    run(scenario())


class ScreenApp(App):
    """A chart before a table, as on the monitor and compare screens."""

    def compose(self) -> ComposeResult:
        yield MetricChart("loss", id="chart")
        yield DataTable(id="table")


def test_a_chart_takes_focus_from_another_widget_not_as_the_screens_first():
    async def scenario():
        app = ScreenApp()
        async with app.run_test(size=(80, 30)) as pilot:
            chart = app.query_one(MetricChart)
            chart.show(LOSS)
            await pilot.pause()
            assert app.focused is app.query_one(DataTable)
            await pilot.press("tab")
            assert app.focused is chart
            await pilot.press("left")
            assert chart.values_line().plain == "epoch 19  run train 0.0213  run val 0.0276"

    run(scenario())


def test_the_cursor_follows_new_points_at_the_end_and_stays_put_elsewhere():
    async def scenario():
        app = ChartApp()
        async with app.run_test(size=(80, 20)) as pilot:
            chart = app.query_one(MetricChart)
            chart.show([("a", [1.0, 2.0], [0.5, 0.4], "cyan", LINE)])
            await pilot.pause()
            chart.show([("a", [1.0, 2.0, 3.0], [0.5, 0.4, 0.3], "cyan", LINE)])
            assert chart.values_line().plain == "epoch 3  a 0.3"
            await pilot.press("left")
            chart.show([("a", [1.0, 2.0, 3.0, 4.0], [0.5, 0.4, 0.3, 0.2], "cyan", LINE)])
            assert chart.values_line().plain == "epoch 2  a 0.4"
            chart.show([("a", [1.0], [0.5], "cyan", LINE)])  # replay went back
            assert chart.values_line().plain == "epoch 1  a 0.5"
            chart.show([])
            assert chart.values_line().plain == "no data"
            await pilot.press("left", "right", "home", "end")  # nothing to move over

    run(scenario())


# -- monochrome ---------------------------------------------------------------------------------


def two_runs():
    return [
        (f"r{i} {kind}", EPOCHS[:5], [v + i for v in VAL_LOSS[5:10]], run_colour(i), marker)
        for i in range(2)
        for kind, marker in (("train", LINE), ("val", DOTS))
    ]


def canvas_of(lines: list[str]) -> str:
    return "".join(re.sub(r"^[^┤│]*[┤│]|│$", "", line) for line in lines[2:-3])


def test_without_colour_each_run_is_drawn_with_its_marker(monkeypatch):
    assert (run_marker(0), run_marker(1)) == ("•", "+")
    coloured = canvas_of(plot_text(two_runs())[0])
    assert BRAILLE.search(coloured) and "+" not in coloured  # colour tells the runs apart
    # no colour: each run's points carry its marker; training is a line through them...
    train = canvas_of(plot_text(two_runs()[::2], no_color=True)[0])
    assert BRAILLE.search(train) and train.count("•") == 5 and train.count("+") == 5
    # ...validation the markers alone
    val = canvas_of(plot_text(two_runs()[1::2], no_color=True)[0])
    assert not BRAILLE.search(val) and val.count("•") == 5 and val.count("+") == 5

    monkeypatch.setenv("NO_COLOR", "1")

    async def scenario():
        app = ChartApp()
        async with app.run_test(size=(80, 20)) as pilot:
            chart = app.query_one(MetricChart)
            chart.show(two_runs())
            await pilot.pause()
            assert app.no_color and "+" in str(chart.render())
            assert chart.values_line().plain == (
                "epoch 5  • r0 train 0.0231  • r0 val 0.0231  + r1 train 1.023  + r1 val 1.023"
            )

    run(scenario())


# -- export --plots -----------------------------------------------------------------------------


def test_exported_loss_figure_keeps_the_bulk_in_range_and_names_the_spike(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from tui_trainer.console import export
    from tui_trainer.store.layout import RunPaths
    from tui_trainer.store.reader import RunRecord

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # kept open, to be read
    rows = [
        {"epoch": int(e), "train_loss": t, "val_loss": v, "lr": 0.1}
        for e, t, v in zip(EPOCHS, TRAIN_LOSS, VAL_LOSS, strict=True)
    ]
    record = RunRecord("study", RunPaths(tmp_path / "run"), RunStatus(), "completed", None)
    record.metrics = rows
    export.write_plots([record], tmp_path, "study")
    axes = figures[0].axes[0]
    bottom, top = axes.get_ylim()
    assert 2.6756 < top < 3.0 and -0.2 < bottom < 0.018
    assert axes.get_title().splitlines() == [
        "study: loss (train solid, validation dashed)",
        "off scale (▲▼ on the edge): 457 at epoch 2, 101.7 at epoch 3",
    ]
    ticks = [t for t in axes.get_yticks() if bottom <= t <= top]
    assert ticks == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert [t for t in axes.get_xticks() if 1 <= t <= 20] == [5.0, 10.0, 15.0, 20.0]


def test_every_metrics_csv_column_has_one_set_of_words_that_every_chart_title_uses():
    from tui_trainer.store.schema import metric_columns, metric_words
    from tui_trainer.ui.widgets.monitor_charts import chart_title

    columns = metric_columns(100, tracked=["features.0"])
    assert [metric_words(column) for column in columns] == [
        "epoch",
        "train loss",
        "train accuracy",
        "validation loss",
        "validation accuracy",
        "validation top-5 accuracy",
        "learning rate",
        "epoch time (s)",
        "images per second",
        "elapsed time (s)",
        "gradient 2-norm of features.0",
    ]
    assert [chart_title(m) for m in ("accuracy", "lr", "val_top5", "epoch_time_s")] == [
        "accuracy: train line, validation dots",
        "learning rate",
        "validation top-5 accuracy",
        "epoch time (s)",
    ]


@given(
    values=hs.lists(hs.floats(-1e12, 1e12, allow_nan=False), min_size=1, max_size=30),
    rows=hs.integers(2, 60),
    log=hs.booleans(),
)
def test_any_axis_holds_its_bulk_with_two_or_more_evenly_spaced_ticks(values, rows, log):
    axis = y_axis(values, rows, log=log)
    data = [math.log10(v) for v in values if v > 0] if log else values
    low, high = bulk_range(data)
    assert not axis.below(low) and not axis.above(high)  # within a hair of the span
    assert len(axis.ticks) >= 2
    placed = [round((rows - 1) * (t - axis.lo) / (axis.hi - axis.lo), 6) for t in axis.ticks]
    assert all(p == round(p) for p in placed)  # on a row each
    assert len({b - a for a, b in itertools.pairwise(placed)}) == 1
