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

from tui_trainer.console.formats import STATE_STYLES, duration, number
from tui_trainer.store import status as st
from tui_trainer.store.follow import RunSeries, StudyFollower
from tui_trainer.ui.resuming import OFFERED_STATES
from tui_trainer.ui.study_progress import study_progress
from tui_trainer.ui.widgets.charts import DOTS, LINE, MetricChart, run_colour
from tui_trainer.ui.widgets.confirm import Confirm

REFRESH_S = 0.25
RUN_COLUMNS = ("run", "state", "epoch", "best val acc", "test acc", "ETA")
COLUMN_WIDTHS = {"state": 11, "epoch": 9, "ETA": 8}
# plotext colour names as Rich styles, so that a run's name in the table is its chart legend
PLOTEXT_TO_RICH = {"orange": "dark_orange", "white": "bright_white"}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else number(value, digits)


def device_text(series: list[RunSeries]) -> Text:
    """GPU name, utilization and memory as the trainer reports them; CPU and RAM without a GPU."""
    live = [s for s in series if s.state == st.RUNNING] or series
    for run in live:
        figures = run.status.device_figures
        if figures is None:
            continue
        name = run.status.device_name or run.status.device or ""
        text = Text.assemble((name, "bold"), "\n")
        if figures.gpu_mem_total_mb is not None:
            util = figures.gpu_util_percent
            used = (figures.gpu_mem_used_mb or 0) / 1024
            total = figures.gpu_mem_total_mb / 1024
            util_text = "-" if util is None else number(util, 0)
            text.append(f"GPU {util_text}%  mem {number(used, 1)}/{number(total, 1)} GiB\n")
        text.append(
            f"CPU {_percent(figures.cpu_percent)}%  "
            f"trainer {_percent(figures.process_cpu_percent)}%  "
            f"RSS {number(figures.rss_mb or 0, 0)} MB  RAM {_percent(figures.ram_percent)}%"
        )
        return text
    return Text("no device figures yet", style="dim")


def _percent(value: float | None) -> str:
    return "-" if value is None else str(value)


class MonitorScreen(Screen):
    BINDINGS = [
        ("s", "stop", "Stop"),
        ("r", "resume", "Resume"),
        ("g", "log_scale", "Log y"),
        ("m", "next_metric('chart-acc')", "Chart 2"),
        ("n", "next_metric('chart-lr')", "Chart 3"),
        ("f", "focus_run", "Focus run"),
        ("h", "hide_run", "Hide run"),
        ("p", "replay", "Replay"),
        ("space", "pause", "Pause"),
        ("left", "scrub(-1)", "-1 epoch"),
        ("right", "scrub(1)", "+1 epoch"),
        ("plus", "speed(2.0)", "Faster"),
        ("minus", "speed(0.5)", "Slower"),
        ("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, study_dir: Path) -> None:
        super().__init__()
        self.follower = StudyFollower(study_dir)
        self._drawn = False
        # Replay: show epochs up to `replay_epoch` only (None: everything there is).
        self.replay_epoch: float | None = None
        self.replay_speed = 2.0  # epochs per second
        self.replay_paused = False
        self.hidden: set[str] = set()  # runs left out of the charts
        self.focused_run: str | None = None  # the only run charted, when set
        # what the second and third charts show: 'accuracy' (train and validation) or a column
        self.metrics = {"chart-acc": "accuracy", "chart-lr": "lr"}
        self._cells: dict[tuple[str, str], object] = {}  # what the runs table shows
        self._shown: dict[str, object] = {}  # what the title, ETA, progress and device show
        self._state: str | None = None  # the study's state when last drawn

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="study-bar"):
            yield Static(id="study-title")
            yield ProgressBar(id="study-progress", show_eta=False)
            yield Static(id="study-eta")
        with Grid(id="charts"):
            yield MetricChart("loss: train line, validation dots", id="chart-loss")
            yield MetricChart("accuracy: train line, validation dots", id="chart-acc")
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
        advanced = self._advance_replay()
        if not self.follower.poll() and self._drawn and not advanced:
            return
        # The epoch charts are the costly part: they redraw when epoch rows arrive or the view
        # changed; a new step row or a heartbeat only touches the step chart and the text.
        everything = not self._drawn or advanced or self.follower.epochs_changed
        self._drawn = True
        series = list(self.follower.runs.values())
        self._note_state(self.current_state())
        self._update_title(series)
        self._update_table(series)
        if everything:
            self._update_charts(series)
        else:
            self._update_step_chart(series)
        self._show("#device", device_text(series))

    def _advance_replay(self) -> bool:
        if self.replay_epoch is None or self.replay_paused:
            return False
        self.replay_epoch += self.replay_speed * REFRESH_S
        if self.replay_epoch >= self._last_epoch():
            self.replay_epoch = None
            self.notify("replay finished")
        return True

    def _last_epoch(self) -> int:
        return max((s.last_epoch for s in self.follower.runs.values()), default=0)

    def current_state(self) -> str:
        return self.follower.state

    def _note_state(self, state: str) -> None:
        """Say so when a study watched here crashes or is interrupted: `r` resumes it."""
        before, self._state = self._state, state
        if before is not None and state != before and state == st.STALLED:
            self.app.tell(
                f"{self.follower.paths.id} stalled: no heartbeat for "
                f"{st.HEARTBEAT_STALE_S:.0f} s, yet its trainer holds the run (paused with "
                "SIGSTOP or Ctrl-Z? kill -CONT PID lets it go on)",
                "warning",
                timeout=10,
            )
        if before is not None and state != before and state in (st.CRASHED, st.INTERRUPTED):
            self.app.tell(
                f"{self.follower.paths.id} {state}: press r to resume it from its last checkpoints",
                "warning",
                timeout=10,
            )

    def _update_title(self, series: list[RunSeries]) -> None:
        state = self._state or self.current_state()
        title = Text.assemble(
            (self.follower.paths.id, "bold"), "  ", (state, STATE_STYLES.get(state, ""))
        )
        if state in OFFERED_STATES and self.replay_epoch is None:
            title.append("  r resumes", "bold")
        if self.replay_epoch is not None:
            shown = min(int(self.replay_epoch), self._last_epoch())
            paused = "  paused" if self.replay_paused else ""
            title.append(
                f"  replay epoch {shown}/{self._last_epoch()} x{self.replay_speed:g}{paused}",
                "cyan",
            )
        self._show("#study-title", title)
        total, done, eta = study_progress(series)
        if self._shown.get("#study-progress") != (total, done):
            self._shown["#study-progress"] = (total, done)
            self.query_one("#study-progress", ProgressBar).update(
                total=max(total, 1), progress=done
            )
        self._show("#study-eta", f"ETA {duration(eta)}" if eta is not None else "")

    def _show(self, selector: str, content: Text | str) -> None:
        """Update a Static only when its content changed: every update re-renders it."""
        key = (
            (content.plain, content.spans, str(content.style))
            if isinstance(content, Text)
            else content
        )
        if self._shown.get(selector) != key:
            self._shown[selector] = key
            self.query_one(selector, Static).update(content)

    def _update_table(self, series: list[RunSeries]) -> None:
        table = self.query_one("#runs", DataTable)
        limit = self.replay_epoch
        for index, run in enumerate(series):
            if limit is None:
                state, epoch = run.state, run.status.epoch
                best, test = run.best_val_acc, run.test_acc
            else:  # what the study looked like at that epoch
                _, val = run.column("val_acc", up_to=limit)
                epoch = len(val)
                state = run.state if epoch >= run.last_epoch else "replay"
                best = max(val) if val else None
                test = run.test_acc if state == run.state else None
            cells = (
                Text(
                    run.name,
                    style=f"bold {PLOTEXT_TO_RICH.get(run_colour(index), run_colour(index))}"
                    if self.charted(run.name)
                    else "dim",
                ),
                Text(state, style=STATE_STYLES.get(state, "cyan")),
                f"{epoch}/{run.status.epochs if run.status.epochs is not None else '?'}",
                _fmt(best),
                _fmt(test),
                duration(run.status.eta_s) if run.state == st.RUNNING else "",
            )
            if run.name not in table.rows:
                table.add_row(*cells, key=run.name)
            else:  # only what changed: each update re-renders the table
                for column, value in zip(RUN_COLUMNS, cells, strict=True):
                    shown = (value.plain, str(value.style)) if isinstance(value, Text) else value
                    if self._cells.get((run.name, column)) != shown:
                        table.update_cell(run.name, column, value)
                    self._cells[run.name, column] = shown

    def _update_charts(self, series: list[RunSeries]) -> None:
        loss, acc, lr = [], [], []
        upto = self.replay_epoch
        self.query_one("#chart-acc", MetricChart).title = self.metrics["chart-acc"]
        self.query_one("#chart-lr", MetricChart).title = self.metrics["chart-lr"]
        for index, run in enumerate(series):
            if not self.charted(run.name):
                continue
            colour = run_colour(index)
            loss.append((f"{run.name} train", *run.column("train_loss", upto), colour, LINE))
            loss.append((f"{run.name} val", *run.column("val_loss", upto), colour, DOTS))
            acc += self._metric_series(run, self.metrics["chart-acc"], upto, colour)
            lr += self._metric_series(run, self.metrics["chart-lr"], upto, colour)
        self.query_one("#chart-loss", MetricChart).show(loss)
        self.query_one("#chart-acc", MetricChart).show(acc)
        self.query_one("#chart-lr", MetricChart).show(lr)
        self._update_step_chart(series)

    def _update_step_chart(self, series: list[RunSeries]) -> None:
        steps = [
            (run.name, *run.current_epoch_steps(), run_colour(index), LINE)
            for index, run in enumerate(series)
            if self.charted(run.name) and run.state == st.RUNNING
        ]
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

    def action_resume(self) -> None:
        self.app.ask_resume(self.follower.paths.root)

    def action_replay(self) -> None:
        if self.current_state() == st.RUNNING:
            self.notify("the study is still running: replay it when it has finished")
            return
        if self._last_epoch() == 0:
            self.notify("no finished epoch to replay")
            return
        self.replay_epoch, self.replay_paused = 1.0, False
        self._drawn = False

    def action_pause(self) -> None:
        if self.replay_epoch is not None:
            self.replay_paused = not self.replay_paused
            self._drawn = False

    def action_scrub(self, step: int) -> None:
        if self.replay_epoch is None:
            if step > 0 or self._last_epoch() == 0:
                return
            self.replay_epoch = float(self._last_epoch())  # scrubbing back starts a paused replay
        self.replay_paused = True
        self.replay_epoch = min(max(1.0, int(self.replay_epoch) + step), float(self._last_epoch()))
        self._drawn = False

    def action_speed(self, factor: float) -> None:
        self.replay_speed = min(64.0, max(0.25, self.replay_speed * factor))
        self._drawn = False

    # -- which runs and metrics the charts show ----------------------------------------------

    def charted(self, name: str) -> bool:
        return name == self.focused_run if self.focused_run is not None else name not in self.hidden

    def metrics_available(self) -> list[str]:
        """'accuracy' (train and validation), then every other numeric metrics.csv column."""
        skip = {"epoch", "train_loss", "val_loss", "train_acc", "val_acc", "elapsed_s"}
        columns: list[str] = []
        for run in self.follower.runs.values():
            for column in run.epochs[0] if run.epochs else {}:
                if column not in skip and column not in columns:
                    columns.append(column)
        return ["accuracy", *columns]

    @staticmethod
    def _metric_series(run: RunSeries, metric: str, upto: float | None, colour: str) -> list:
        if metric == "accuracy":
            return [
                (f"{run.name} train", *run.column("train_acc", upto), colour, LINE),
                (f"{run.name} val", *run.column("val_acc", upto), colour, DOTS),
            ]
        return [(f"{run.name} {metric}", *run.column(metric, upto), colour, LINE)]

    def _highlighted_run(self) -> str | None:
        table = self.query_one("#runs", DataTable)
        names = list(self.follower.runs)
        return names[table.cursor_row] if names and 0 <= table.cursor_row < len(names) else None

    def action_next_metric(self, chart: str) -> None:
        metrics = self.metrics_available()
        current = self.metrics[chart]
        self.metrics[chart] = (
            metrics[(metrics.index(current) + 1) % len(metrics)]
            if current in metrics
            else "accuracy"
        )
        self._drawn = False

    def action_focus_run(self) -> None:
        name = self._highlighted_run()
        self.focused_run = None if self.focused_run == name else name
        self._drawn = False

    def action_hide_run(self) -> None:
        name = self._highlighted_run()
        if name is not None:
            self.hidden ^= {name}
            self._drawn = False
