"""The monitor: one study, live or finished, read through StudyFollower (the same code path
either way), shown by widgets that each redraw from what the screen hands them.

The screen polls the follower at 4 Hz and keeps what the keys chose (replay, focus, hidden
runs, the metrics charted) as reactive attributes; whenever either changes it hands each widget
its data as a value (attributes down): the study bar its StudyInfo, the runs table its rows, the
charts their views, the device panel its lines. Widgets compare what they get with what they
show and redraw only what changed; the table tells the screen which run is highlighted with a
message (messages up).

Keys: `z` maximises the focused chart (the first one when no chart has focus), `escape` or `z`
again restores it; `tab` moves focus between the runs table, the charts and the log, and a
focused widget's own keys come before the screen's. `i` opens the highlighted run's test split
(the inspect screen). `p` replays a finished study and, in a replay, returns to everything
there is; `left`/`right` scrub only inside a replay, so a live study always shows live. `b`
switches the terminal bell on a watched study's end (off unless the app was started with `--bell`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer, Header

from tui_trainer.launch import Launched
from tui_trainer.store import status as st
from tui_trainer.store.follow import StudyFollower
from tui_trainer.ui.navigation import Open, Trainer
from tui_trainer.ui.placement import this_host
from tui_trainer.ui.replay import Replay
from tui_trainer.ui.study_progress import study_progress
from tui_trainer.ui.tell import tell
from tui_trainer.ui.watched_state import watched_state
from tui_trainer.ui.widgets.charts import MetricChart
from tui_trainer.ui.widgets.device_panel import DevicePanel, device_view
from tui_trainer.ui.widgets.log_pane import LogPane
from tui_trainer.ui.widgets.monitor_charts import (
    ChartView,
    MonitorCharts,
    StepView,
    metrics_available,
)
from tui_trainer.ui.widgets.run_table import RunLine, RunTable, TableView, run_line, run_rows
from tui_trainer.ui.widgets.study_bar import StudyBar, StudyInfo, state_change_note

REFRESH_S = 0.25
# fewer rows than this (80x24): app.tcss keeps two charts, so that the runs and the log fit
SHORT_ROWS = 32
LIVE = (st.RUNNING, st.STALLED, st.STARTING)


class MonitorScreen(Screen):
    # The footer shows the keys a person reaches for first, and fits 80 columns whole; the
    # others are in `?` (help) and the command palette.
    BINDINGS = [
        ("s", "stop", "Stop"),
        ("r", "resume", "Resume"),
        # 80 columns: `i` (inspect) took the place of `f` and `h`, which say what is charted
        Binding("f", "focus_run", "Focus", show=False),
        Binding("h", "hide_run", "Hide", show=False),
        ("z", "maximize_chart", "Zoom"),
        ("p", "replay", "Replay"),
        ("i", "inspect", "Inspect"),
        Binding("g", "log_scale", "Log y", show=False),
        Binding("m", "next_metric(0)", "Chart 2", show=False),
        Binding("n", "next_metric(1)", "Chart 3", show=False),
        Binding("space", "pause", "Pause", show=False),
        Binding("left", "scrub(-1)", "-1 epoch", show=False),
        Binding("right", "scrub(1)", "+1 epoch", show=False),
        Binding("plus", "speed(2.0)", "Faster", show=False),
        Binding("minus", "speed(0.5)", "Slower", show=False),
        Binding("w", "toggle_worker_log", "Worker log", show=False),
        Binding("b", "bell", "Bell", show=False),
        Binding("escape", "app.pop_screen", "Back", show=False),
    ]
    # ring the terminal bell when a watched study ends (`--bell`, or `b` in any monitor)
    bell_on_end: ClassVar[bool] = False

    # what the keys chose: each change redraws what depends on it
    replay: var[Replay] = var(Replay, init=False)
    focused_run: var[str | None] = var(None, init=False)  # the only run charted, when set
    hidden: var[frozenset[str]] = var(frozenset(), init=False)  # runs left out of the charts
    metrics: var[tuple[str, str]] = var(("accuracy", "lr"), init=False)  # charts 2 and 3
    # grows with what the follower reads: epoch rows (epochs_seen) or anything (data_seen)
    data_seen: var[int] = var(0, init=False)

    def __init__(self, study_dir: Path, launched: Sequence[Launched] = ()) -> None:
        """`launched`: the trainers the app started (its own list, which it keeps current), so
        that a study whose trainer is still loading reads `starting`; none by default."""
        super().__init__()
        self.follower = StudyFollower(study_dir)
        self.launched = launched
        self.epochs_seen = 0
        self._state: str | None = None  # the study's state when last shown

    def compose(self) -> ComposeResult:
        yield Header()
        yield StudyBar(id="study-bar")
        yield MonitorCharts(self.follower.runs, id="charts")
        yield RunTable(id="runs")
        yield RunLine(id="run-line")
        with Horizontal(id="lower"):
            yield LogPane(self.follower, id="log-pane")
            yield DevicePanel(id="device")
        yield Footer()

    def on_mount(self) -> None:
        self.poll_files()
        self.set_interval(REFRESH_S, self.poll_files)

    # Textual's VERTICAL_BREAKPOINTS are applied on a resize only, never to a screen pushed
    # later: the class is set here, as the screen shows and as the terminal changes size.
    def on_screen_resume(self) -> None:
        self.set_class(self.app.size.height < SHORT_ROWS, "-short")

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < SHORT_ROWS, "-short")

    def poll_files(self) -> None:
        self.query_one(LogPane).poll()
        self._advance_replay()
        # (a study starting has no file to change when its trainer dies: it is looked at again)
        if self.follower.poll() or self._state in (None, st.STARTING):
            self.epochs_seen += int(self.follower.epochs_changed or self._state is None)
            self.data_seen += 1

    def current_state(self) -> str:
        return watched_state(self.follower, self.launched)

    # -- handing the data down ---------------------------------------------------------------

    def _push_down(self) -> None:
        series = list(self.follower.runs.values())
        self._note_state(self.current_state())
        view = TableView(self.replay.shown_epoch, self.focused_run, self.hidden)
        charted = tuple(run.name for run in series if view.charted(run.name))
        here = this_host()
        self.query_one(RunTable).rows_shown = run_rows(series, view, here)
        total, done, eta = study_progress(series)
        self.query_one(StudyBar).info = StudyInfo(
            self.follower.paths.id,
            self._state or st.UNKNOWN,
            total,
            done,
            eta,
            self.replay.words(self._last_epoch()),
            self.focused_run,
            len(self.hidden & set(self.follower.runs)),
        )
        charts = self.query_one(MonitorCharts)
        # a replay moves by whole epochs: one redraw a replayed epoch, not one for every
        # fraction of it the replay clock passes
        replayed = self.replay.shown_epoch
        charts.epochs = ChartView(self.epochs_seen, charted, replayed, self.metrics)
        charts.steps = StepView(self.data_seen, charted, replayed)
        self.query_one(DevicePanel).view = device_view(series, here, self._state or "")
        self._show_run_line()

    watch_data_seen = watch_focused_run = watch_hidden = watch_metrics = _push_down

    def watch_replay(self, old: Replay, new: Replay) -> None:
        if old.shown() != new.shown():  # the replay clock ticks 4 times a second
            self._push_down()

    def _show_run_line(self) -> None:
        name = self.query_one(RunTable).highlighted_run
        run = self.follower.runs.get(name) if name else None
        if run is None and self._state == st.STARTING:
            line = Text("starting: the trainer is loading (torch, the data, the model)")
        else:
            line = run_line(run, this_host())
        self.query_one(RunLine).line = line

    @on(RunTable.Highlighted)
    def _follow_highlighted_run(self, event: RunTable.Highlighted) -> None:
        """The lines under the table, and the worker.log when shown, follow the cursor."""
        self._show_run_line()
        self.query_one(LogPane).follow_run(event.name)

    def _note_state(self, state: str) -> None:
        """Say so when a study watched here crashes, stalls or is interrupted (`r` resumes it),
        and ring the bell, when asked for, as a watched study ends."""
        before, self._state = self._state, state
        if before is None or state == before:
            return
        note = state_change_note(self.follower.paths.id, state)
        if note is not None:
            tell(self, note, "warning", timeout=10)
        if before in LIVE and state not in LIVE and self.bell_on_end:
            self.app.bell()

    # -- actions -----------------------------------------------------------------------------

    def action_stop(self) -> None:
        self.post_message(Trainer.Stop(self.follower.paths.root))

    def action_resume(self) -> None:
        self.post_message(Trainer.Resume(self.follower.paths.root))

    def action_inspect(self) -> None:
        name = self.query_one(RunTable).highlighted_run
        if name is None:
            self.notify("no run to inspect yet")
            return
        paths = self.follower.paths
        self.post_message(Open.Inspect(paths.run(name).root, paths.id))

    def action_toggle_worker_log(self) -> None:
        self.query_one(LogPane).toggle(self.query_one(RunTable).highlighted_run)

    def action_log_scale(self) -> None:
        self.query_one(MonitorCharts).toggle_log()

    def action_maximize_chart(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused if isinstance(self.focused, MetricChart) else None
        charts = [chart for chart in self.query(MetricChart) if chart.display]
        if focused is not None or charts:
            self.maximize(focused or charts[0], container=False)

    def action_bell(self) -> None:
        type(self).bell_on_end = not self.bell_on_end
        state = "on" if self.bell_on_end else "off"
        self.notify(f"bell when a watched study ends: {state}")

    def action_next_metric(self, chart: int) -> None:
        metrics = metrics_available(self.follower.runs)
        current = self.metrics[chart]
        following = metrics[(metrics.index(current) + 1) % len(metrics)]
        chosen = following if current in metrics else "accuracy"
        self.metrics = (chosen, self.metrics[1]) if chart == 0 else (self.metrics[0], chosen)

    def metrics_available(self) -> list[str]:
        return metrics_available(self.follower.runs)

    def action_focus_run(self) -> None:
        name = self.query_one(RunTable).highlighted_run
        self.focused_run = None if self.focused_run == name else name

    def action_hide_run(self) -> None:
        name = self.query_one(RunTable).highlighted_run
        if name is not None:
            self.hidden = self.hidden ^ {name}

    # -- replay ------------------------------------------------------------------------------

    def _last_epoch(self) -> int:
        return max((s.last_epoch for s in self.follower.runs.values()), default=0)

    def _advance_replay(self) -> None:
        was, self.replay = self.replay, self.replay.advanced(REFRESH_S, self._last_epoch())
        if was.epoch is not None and self._state in LIVE:
            self.replay = self.replay.ended()  # resumed meanwhile: a live study shows live
        if was.epoch is not None and self.replay.epoch is None:
            self.notify("replay finished")

    def action_replay(self) -> None:
        if self.replay.epoch is not None:
            self.replay = self.replay.ended()
        elif self.current_state() in LIVE:
            self.notify("the study is still running: replay it when it has finished")
        elif self._last_epoch() == 0:
            self.notify("no finished epoch to replay")
        else:
            self.replay = self.replay.started()

    def action_pause(self) -> None:
        self.replay = self.replay.toggled()

    def action_scrub(self, step: int) -> None:
        if self.replay.epoch is None:
            self.notify("left/right scrub a replay: p starts one on a finished study")
        self.replay = self.replay.scrubbed(step, self._last_epoch())

    def action_speed(self, factor: float) -> None:
        self.replay = self.replay.faster(factor)
