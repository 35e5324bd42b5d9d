"""The monitor: one study, live or finished, read through StudyFollower (the same code path
either way). Charts of every run overlaid, the runs table with a line on the highlighted run,
the study's progress and ETA, the device panel (a block per host in use) and the tail of
trainer.log or of the highlighted run's worker.log, refreshed at 4 Hz from files only."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, ProgressBar, Static

from tui_trainer.console.formats import STATE_STYLES, duration
from tui_trainer.store import status as st
from tui_trainer.store.follow import RunSeries, StudyFollower
from tui_trainer.ui.resuming import OFFERED_STATES
from tui_trainer.ui.study_progress import study_progress
from tui_trainer.ui.widgets.charts import DOTS, LINE, MetricChart, run_colour
from tui_trainer.ui.widgets.confirm import Confirm
from tui_trainer.ui.widgets.device_panel import DevicePanel
from tui_trainer.ui.widgets.log_pane import LogPane
from tui_trainer.ui.widgets.run_table import RunTable, run_line

REFRESH_S = 0.25
# fewer rows than this (80x24): app.tcss keeps two charts, so that the runs and the log fit
SHORT_ROWS = 32


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
        ("w", "toggle_worker_log", "Worker log"),
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
            with Vertical(id="runs-side"):
                yield RunTable(id="runs")
                yield Static(id="run-line")
            yield DevicePanel(id="device")
        yield LogPane(self.follower, id="log-pane")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_from_files()
        self.set_interval(REFRESH_S, self.refresh_from_files)

    # Textual's VERTICAL_BREAKPOINTS are applied on a resize only, never to a screen pushed
    # later: the class is set here, as the screen shows and as the terminal changes size.
    def on_screen_resume(self) -> None:
        self.set_class(self.app.size.height < SHORT_ROWS, "-short")

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < SHORT_ROWS, "-short")

    def refresh_from_files(self) -> None:
        self.query_one(LogPane).poll()
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
        self.query_one(RunTable).show(series, self.replay_epoch, self.charted)
        self._show_run_line()
        if everything:
            self._update_charts(series)
        else:
            self._update_step_chart(series)
        self.query_one(DevicePanel).show(series)

    def _show_run_line(self) -> None:
        name = self._highlighted_run()
        self._show("#run-line", run_line(self.follower.runs.get(name) if name else None))

    @on(DataTable.RowHighlighted, "#runs")
    def _follow_highlighted_run(self) -> None:
        """The line under the table, and the worker.log when shown, follow the cursor."""
        self._show_run_line()
        self.query_one(LogPane).follow_run(self._highlighted_run())

    def action_toggle_worker_log(self) -> None:
        self.query_one(LogPane).toggle(self._highlighted_run())

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
            (run.name, *run.recent_steps(), run_colour(index), LINE)
            for index, run in enumerate(series)
            if self.charted(run.name) and run.state == st.RUNNING
        ]
        chart = self.query_one("#chart-steps", MetricChart)
        chart.title = "step loss, recent steps"
        chart.show(steps)

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
        return self.query_one(RunTable).highlighted_run

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
