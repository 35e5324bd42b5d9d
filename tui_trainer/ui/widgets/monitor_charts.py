"""The monitor's four charts: loss, two chosen metrics (accuracy and the learning rate at
first), and the step loss. Every run is overlaid in its colour; the runs table is the legend.

The screen sets two attributes: `epochs` (which runs are charted, up to which epoch of a replay,
which metrics, and a version that grows with the epoch rows) and `steps` (the same for the step
rows). The epoch charts are the costly part, so they redraw only when `epochs` changes; a new
step row or a heartbeat touches the step chart alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Grid
from textual.reactive import reactive

from tui_trainer.store import status as st
from tui_trainer.store.follow import RunSeries
from tui_trainer.store.schema import metric_words
from tui_trainer.ui.widgets.charts import DOTS, LINE, MetricChart, Series, run_colour

SKIPPED = {"epoch", "train_loss", "val_loss", "train_acc", "val_acc", "elapsed_s"}
LOG_Y_CHARTS = ("chart-loss", "chart-steps")  # what `g` puts on a log axis


class MonitorChart(MetricChart):
    """A monitor chart that `z` may maximise (Screen.maximize), focused or not."""

    ALLOW_MAXIMIZE = True


@dataclass(frozen=True)
class ChartView:
    """What the epoch charts draw; a new `version` means new epoch rows."""

    version: int = 0
    charted: tuple[str, ...] = ()
    replay_epoch: float | None = None
    metrics: tuple[str, str] = ("accuracy", "lr")


@dataclass(frozen=True)
class StepView:
    """What the step chart draws; a new `version` means new step rows or states."""

    version: int = 0
    charted: tuple[str, ...] = ()
    replay_epoch: float | None = None


def metric_series(run: RunSeries, metric: str, upto: float | None, colour: str) -> list[Series]:
    """'accuracy' as train (line) and validation (dots), any other column as a line."""
    if metric == "accuracy":
        return [
            (f"{run.name} train", *run.column("train_acc", upto), colour, LINE),
            (f"{run.name} val", *run.column("val_acc", upto), colour, DOTS),
        ]
    return [(f"{run.name} {metric}", *run.column(metric, upto), colour, LINE)]


def chart_title(metric: str) -> str:
    """A chosen chart's title in words (store.schema.metric_words), never a column's name."""
    if metric == "accuracy":
        return "accuracy: train line, validation dots"
    return metric_words(metric)


def metrics_available(runs: Mapping[str, RunSeries]) -> list[str]:
    """'accuracy' (train and validation), then every other numeric metrics.csv column."""
    columns: list[str] = []
    for run in runs.values():
        for column in run.epochs[0] if run.epochs else {}:
            if column not in SKIPPED and column not in columns:
                columns.append(column)
    return ["accuracy", *columns]


def step_points(run: RunSeries, upto: float | None) -> tuple[list[float], list[float]]:
    """The step chart's data of one run (its one call site), up to a replay's epoch."""
    return run.recent_steps(up_to=upto)


class MonitorCharts(Grid):
    """`#chart-loss`, `#chart-acc`, `#chart-lr` and `#chart-steps` of the runs in `runs`."""

    epochs: reactive[ChartView] = reactive(ChartView, init=False)
    steps: reactive[StepView] = reactive(StepView, init=False)

    def __init__(self, runs: Mapping[str, RunSeries], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.runs = runs  # the follower's: kept up to date by its polls

    def compose(self) -> ComposeResult:
        yield MonitorChart("loss: train line, validation dots", id="chart-loss")
        yield MonitorChart(chart_title("accuracy"), id="chart-acc")
        yield MonitorChart(chart_title("lr"), id="chart-lr")
        yield MonitorChart("step loss, recent steps", id="chart-steps")

    def watch_epochs(self, view: ChartView) -> None:
        loss, second, third = [], [], []
        upto, (metric2, metric3) = view.replay_epoch, view.metrics
        for index, run in enumerate(self.runs.values()):
            if run.name not in view.charted:
                continue
            colour = run_colour(index)
            loss.append((f"{run.name} train", *run.column("train_loss", upto), colour, LINE))
            loss.append((f"{run.name} val", *run.column("val_loss", upto), colour, DOTS))
            second += metric_series(run, metric2, upto, colour)
            third += metric_series(run, metric3, upto, colour)
        self.query_one("#chart-acc", MetricChart).title = chart_title(metric2)
        self.query_one("#chart-lr", MetricChart).title = chart_title(metric3)
        self.query_one("#chart-loss", MetricChart).show(loss)
        self.query_one("#chart-acc", MetricChart).show(second)
        self.query_one("#chart-lr", MetricChart).show(third)

    def watch_steps(self, view: StepView) -> None:
        """The running runs' recent steps; with none running (a finished, stopped or crashed
        study), the last windows of every charted run."""
        charted = [
            (index, run) for index, run in enumerate(self.runs.values()) if run.name in view.charted
        ]
        running = [(index, run) for index, run in charted if run.state == st.RUNNING]
        steps = [
            (run.name, *step_points(run, view.replay_epoch), run_colour(index), LINE)
            for index, run in (running or charted)
        ]
        self.query_one("#chart-steps", MetricChart).show(steps)

    def toggle_log(self) -> None:
        for chart in self.query(MetricChart):
            if chart.id in LOG_Y_CHARTS:
                chart.toggle_log()
