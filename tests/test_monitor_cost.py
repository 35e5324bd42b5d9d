"""What keeps the app cheap on big studies: chart decimation and build caching, the follower's
change tracking (epoch rows against step rows and heartbeats), the monitor's partial redraws,
and a runs list that skips summaries. The figures themselves are in benchmarks/README.md."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from textual.widgets import Static

from tui_trainer.store import status as st
from tui_trainer.store.atomic import write_toml_atomic
from tui_trainer.store.csvlog import parse_cell
from tui_trainer.store.follow import StudyFollower
from tui_trainer.store.reader import list_studies
from tui_trainer.store.synthetic import write_synthetic_study
from tui_trainer.ui.app import create_app
from tui_trainer.ui.replay import Replay
from tui_trainer.ui.screens import monitor as monitor_module
from tui_trainer.ui.screens.monitor import MonitorScreen
from tui_trainer.ui.widgets.charts import MetricChart, decimate
from tui_trainer.ui.widgets.monitor_charts import MonitorCharts

RUN = "lr=0.5"  # the synthetic study's last run


def make_live(study, epoch=15):
    """Mark the synthetic study's last run as running in this process, with a fresh heartbeat."""
    write_toml_atomic(
        study / RUN / "status.toml",
        {
            "state": st.RUNNING,
            **st.process_identity(),
            "heartbeat": datetime.now(timezone.utc),
            "epoch": epoch,
            "epochs": 40,
            "steps_per_epoch": 20,
        },
    )


def append(path, line):
    with open(path, "a") as handle:
        handle.write(line + "\n")


STEP_ROW = "16,305,1.25,,0.5,4210.0,97.0,152.5"
EPOCH_ROW = "16,1.1,0.7,1.8,0.6,0.85,0.5,9.5,4210.0,160.0"


def test_decimate_keeps_ends_and_extremes_in_order():
    xs = list(range(1000))
    ys = [math.sin(x / 50) for x in xs]
    ys[437] = 9.0  # a spike
    ys[812] = -9.0
    dx, dy = decimate(xs, ys, 20)
    assert len(dx) <= 2 * 20 + 2 and dx[0] == 0 and dx[-1] == 999
    assert dx == sorted(dx) and 9.0 in dy and -9.0 in dy
    assert all(ys[x] == y for x, y in zip(dx, dy, strict=True))
    short = list(range(30))
    assert decimate(short, short, 20) == (short, short)


def test_parse_cell_fast_path_reads_what_the_slow_one_did():
    cases = {
        "3": 3,
        "+3": 3,
        "-12": -12,
        ".5": 0.5,
        "1.": 1.0,
        "2e-3": 0.002,
        "-inf": -math.inf,
        "1_5": "1_5",
        "٣": "٣",
        "0x10": "0x10",
        "": None,
        "lr=0.1": "lr=0.1",
    }
    for text, value in cases.items():
        assert parse_cell(text) == value, text
    assert math.isnan(parse_cell("nan")) and math.isnan(parse_cell("NaN"))


def test_follower_tells_epoch_rows_from_steps_and_heartbeats(runs_dir):
    study = write_synthetic_study(runs_dir, epochs=15)
    make_live(study)
    follower = StudyFollower(study)
    assert follower.poll() and follower.epochs_changed
    finished, live = follower.runs["lr=0.01"], follower.runs[RUN]
    # a run over when first seen: the end of its steps.csv (here all of it) feeds its chart
    assert finished.steps[-1]["step"] == 15 * 20
    assert finished.recent_steps()[0][-1] == 15.0
    assert live.steps
    append(study / RUN / "steps.csv", STEP_ROW)
    assert follower.poll() and not follower.epochs_changed
    assert live.steps[-1]["step"] == 305
    make_live(study, epoch=16)  # a heartbeat
    assert follower.poll() and not follower.epochs_changed
    assert live.status.epoch == 16
    assert not follower.poll()  # nothing new: status.toml is not parsed again
    append(study / RUN / "metrics.csv", EPOCH_ROW)
    assert follower.poll() and follower.epochs_changed and live.last_epoch == 16


@pytest.mark.process
def test_a_killed_trainer_reads_crashed_though_its_status_file_never_changes(runs_dir):
    study = write_synthetic_study(runs_dir, epochs=15)
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_toml_atomic(
            study / RUN / "status.toml",
            {
                "state": st.RUNNING,
                **st.process_identity(trainer.pid),
                "heartbeat": datetime.now(timezone.utc),
                "epochs": 40,
            },
        )
        follower = StudyFollower(study)
        follower.poll()
        assert follower.runs[RUN].state == st.RUNNING
        trainer.kill()
        trainer.wait()
        assert follower.poll()  # the state changed, though the file did not
        assert follower.runs[RUN].state == st.CRASHED
    finally:
        trainer.kill()
        trainer.wait()


def test_runs_list_without_summaries_still_has_the_headline_figures(runs_dir):
    write_synthetic_study(runs_dir, epochs=15)
    (full,), (light,) = list_studies(runs_dir), list_studies(runs_dir, summaries=False)
    assert all(run.summary is None for run in light.runs)
    for a, b in zip(full.runs, light.runs, strict=True):
        assert a.test_acc == b.test_acc is not None
        assert a.best_val_acc == b.best_val_acc is not None


def test_chart_builds_only_when_its_data_or_size_changed(monkeypatch):
    async def scenario():
        app = create_app(os.devnull, [])
        async with app.run_test(size=(80, 24)) as pilot:
            chart = MetricChart("loss", id="c")
            await app.screen.mount(chart)
            builds = []
            draw = MetricChart._draw
            monkeypatch.setattr(MetricChart, "_draw", lambda self: builds.append(1) or draw(self))
            series = [("a", [1.0, 2.0, 3.0], [3.0, 2.0, 1.0], "cyan", "braille")]
            chart.show(series)
            await pilot.pause()
            assert len(builds) == 1
            chart.refresh()
            await pilot.pause()
            chart.show(list(series))  # equal data: nothing to do
            await pilot.pause()
            assert len(builds) == 1
            chart.show([("a", [1.0, 2.0, 3.0, 4.0], [3.0, 2.0, 1.0, 0.5], "cyan", "braille")])
            await pilot.pause()
            assert len(builds) == 2

    asyncio.run(scenario())


@pytest.mark.parametrize("change", ["step", "epoch"])
def test_monitor_redraws_the_epoch_charts_only_for_epoch_rows(runs_dir, monkeypatch, change):
    study = write_synthetic_study(runs_dir, epochs=15)
    make_live(study)
    redraws = []
    update = MonitorCharts.watch_epochs
    monkeypatch.setattr(
        MonitorCharts, "watch_epochs", lambda self, view: redraws.append(1) or update(self, view)
    )

    async def scenario():
        app = create_app(runs_dir, [])
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()  # the app opens the live study by itself
            monitor = app.screen
            assert isinstance(monitor, MonitorScreen) and redraws == [1]
            steps = monitor.query_one("#chart-steps", MetricChart)
            loss = monitor.query_one("#chart-loss", MetricChart)
            before = steps.series[0][1][-1]  # the latest step's x (epochs)
            if change == "step":
                append(study / RUN / "steps.csv", STEP_ROW)
            else:
                append(study / RUN / "metrics.csv", EPOCH_ROW)
            await pilot.pause(0.6)  # two polls
            if change == "step":
                assert redraws == [1] and (before, steps.series[0][1][-1]) == (15.0, 15.25)
            else:
                assert redraws == [1, 1]
                assert loss.series[-2][1][-1] == 16.0  # the run's train loss reached epoch 16

    asyncio.run(scenario())


def test_a_replay_redraws_once_a_replayed_epoch_not_at_every_tick_of_its_clock(
    runs_dir, monkeypatch
):
    """At x2 the replay clock passes half an epoch a tick: the screen (charts, table, title)
    changes every second tick, and the title's new digits repaint it without a layout pass."""
    study = write_synthetic_study(runs_dir, epochs=15)
    pushes, layouts = [], []  # the screen's views computed again; the title's layout passes
    rows = monitor_module.run_rows
    monkeypatch.setattr(monitor_module, "run_rows", lambda *a: pushes.append(1) or rows(*a))

    async def scenario():
        app = create_app(runs_dir, [])
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(MonitorScreen(study))
            await pilot.pause()
            monitor = app.screen
            title = monitor.query_one("#study-title", Static)
            refresh = Static.refresh

            def counted(self, *regions, **kwargs):
                if self is title and kwargs.get("layout"):
                    layouts.append(1)
                return refresh(self, *regions, **kwargs)

            monkeypatch.setattr(Static, "refresh", counted)
            await pilot.press("p", "space", "right")  # a replay, paused at epoch 2
            await pilot.pause()
            pushes.clear()
            layouts.clear()
            titles = []
            for epoch in (2.5, 3.0, 3.5, 4.0):  # the clock's ticks at x2
                monitor.replay = Replay(epoch=epoch, speed=2.0, paused=True)
                titles.append(str(title.render()).split("replay epoch ")[1].split("/")[0])
            await pilot.pause()
            assert len(pushes) == 2  # epochs 3 and 4, not 2.5 and 3.5
            assert titles == ["2", "3", "3", "4"]
            assert layouts == []

    asyncio.run(scenario())
