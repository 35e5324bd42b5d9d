"""The monitor: one study, live or finished, read through StudyFollower (the same code path
either way). Charts of every run overlaid, the runs table, the study's progress and ETA, the
device panel and the tail of trainer.log, refreshed at 4 Hz from files only."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Log, ProgressBar, Static

from tui_trainer.console.formats import STATE_STYLES, duration
from tui_trainer.store import status as st
from tui_trainer.store.follow import RunSeries, StudyFollower
from tui_trainer.ui.widgets.charts import MetricChart
from tui_trainer.ui.widgets.confirm import Confirm

REFRESH_S = 0.25
RUN_COLUMNS = ("run", "state", "epoch", "best val acc", "test acc", "ETA")
COLUMN_WIDTHS = {"state": 11, "epoch": 9, "ETA": 8}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def device_text(series: list[RunSeries]) -> Text:
    """GPU name, utilization and memory as the trainer reports them; CPU and RAM without a GPU."""
    live = [s for s in series if s.state == st.RUNNING] or series
    for run in live:
        figures = run.status.get("device_figures")
        if not isinstance(figures, dict):
            continue
        name = str(run.status.get("device_name", run.status.get("device", "")))
        text = Text.assemble((name, "bold"), "\n")
        if "gpu_mem_total_mb" in figures:
            util = figures.get("gpu_util_percent")
            used = figures.get("gpu_mem_used_mb", 0) / 1024
            total = figures.get("gpu_mem_total_mb", 0) / 1024
            util_text = "-" if util is None else f"{util:.0f}"
            text.append(f"GPU {util_text}%  mem {used:.1f}/{total:.1f} GiB\n")
        text.append(
            f"CPU {figures.get('cpu_percent', '-')}%  "
            f"trainer {figures.get('process_cpu_percent', '-')}%  "
            f"RSS {figures.get('rss_mb', 0):.0f} MB  RAM {figures.get('ram_percent', '-')}%"
        )
        return text
    return Text("no device figures yet", style="dim")


class MonitorScreen(Screen):
    BINDINGS = [
        ("s", "stop", "Stop"),
        ("g", "log_scale", "Log y"),
        ("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, study_dir: Path) -> None:
        super().__init__()
        self.follower = StudyFollower(study_dir)
        self._drawn = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="study-bar"):
            yield Static(id="study-title")
            yield ProgressBar(id="study-progress", show_eta=False)
            yield Static(id="study-eta")
        with Grid(id="charts"):
            yield MetricChart("loss (train -, val --)", id="chart-loss")
            yield MetricChart("accuracy", id="chart-acc")
            yield MetricChart("learning rate", id="chart-lr")
            yield MetricChart("step loss, current epoch", id="chart-steps")
        with Horizontal(id="bottom"):
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            yield Static(id="device")
        yield Log(id="log", max_lines=500)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        names = [run.name for run in self.follower.record.runs] or ["run"]
        widths = {**COLUMN_WIDTHS, "run": min(40, max(len(n) for n in names))}
        for column in RUN_COLUMNS:
            table.add_column(column, key=column, width=widths.get(column))
        self.refresh_from_files()
        self.set_interval(REFRESH_S, self.refresh_from_files)

    def refresh_from_files(self) -> None:
        self._update_log()
        if not self.follower.poll() and self._drawn:
            return
        self._drawn = True
        series = list(self.follower.runs.values())
        self._update_title(series)
        self._update_table(series)
        self._update_charts(series)
        self.query_one("#device", Static).update(device_text(series))

    def _update_title(self, series: list[RunSeries]) -> None:
        state = self.follower.state
        title = Text.assemble(
            (self.follower.paths.id, "bold"), "  ", (state, STATE_STYLES.get(state, ""))
        )
        self.query_one("#study-title", Static).update(title)
        total = sum(s.status.get("epochs", 0) or 0 for s in series)
        done = sum(s.status.get("epoch", 0) or 0 for s in series)
        self.query_one("#study-progress", ProgressBar).update(total=max(total, 1), progress=done)
        remaining = [s.figure("eta_s") for s in series if s.state == st.RUNNING]
        per_epoch = [
            s.figure("elapsed_s") / s.status["epoch"]
            for s in series
            if s.figure("elapsed_s")
            and isinstance(s.status.get("epoch"), int)
            and s.status["epoch"] > 0
        ]
        queued = sum(s.status.get("epochs", 0) or 0 for s in series if s.state == st.QUEUED)
        eta = None
        if remaining and remaining[0] is not None:
            eta = remaining[0] + (sum(per_epoch) / len(per_epoch) * queued if per_epoch else 0)
        self.query_one("#study-eta", Static).update(
            f"ETA {duration(eta)}" if eta is not None else ""
        )

    def _update_table(self, series: list[RunSeries]) -> None:
        table = self.query_one("#runs", DataTable)
        for run in series:
            cells = (
                run.name,
                Text(run.state, style=STATE_STYLES.get(run.state, "")),
                f"{run.status.get('epoch', 0)}/{run.status.get('epochs', '?')}",
                _fmt(run.figure("best_val_acc")),
                _fmt(run.figure("test_acc")),
                duration(run.figure("eta_s")) if run.state == st.RUNNING else "",
            )
            if run.name not in table.rows:
                table.add_row(*cells, key=run.name)
            else:
                for column, value in zip(RUN_COLUMNS, cells, strict=True):
                    table.update_cell(run.name, column, value)

    def _update_charts(self, series: list[RunSeries]) -> None:
        loss, acc, lr, steps = [], [], [], []
        for run in series:
            loss.append((f"{run.name} train", *run.column("train_loss")))
            loss.append((f"{run.name} val", *run.column("val_loss")))
            acc.append((f"{run.name} train", *run.column("train_acc")))
            acc.append((f"{run.name} val", *run.column("val_acc")))
            lr.append((run.name, *run.column("lr")))
            if run.state == st.RUNNING:
                steps.append((run.name, *run.current_epoch_steps()))
        self.query_one("#chart-loss", MetricChart).show(loss)
        self.query_one("#chart-acc", MetricChart).show(acc)
        self.query_one("#chart-lr", MetricChart).show(lr)
        self.query_one("#chart-steps", MetricChart).show(steps)

    def _update_log(self) -> None:
        lines = self.follower.new_log_lines()
        if lines:
            self.query_one("#log", Log).write_lines(lines)

    def action_log_scale(self) -> None:
        for chart in self.query(MetricChart):
            if chart.id in ("chart-loss", "chart-steps"):
                chart.toggle_log()

    def action_stop(self) -> None:
        from tui_trainer.launch import trainer_pid

        if trainer_pid(self.follower.paths.root) is None:
            self.notify("no live trainer for this study", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.app.stop_study(self.follower.paths.root)

        self.app.push_screen(
            Confirm(f"Stop {self.follower.paths.id}? Finished epochs are kept."), answer
        )
