"""The launch screen (Pilot): overrides validated as you type, then a real detached trainer,
followed by the monitor."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Static

from tests.helpers import TINY_PRESET
from tests.ui_pilot import SIZE, cell, run, wait_for
from tui_trainer.store.reader import list_studies
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.launch import LaunchScreen
from tui_trainer.ui.screens.monitor import MonitorScreen
from tui_trainer.ui.widgets.charts import MetricChart


@pytest.mark.process
def test_launch_validates_as_you_type_then_trains_and_monitors(write_preset, runs_dir):
    mine = write_preset(TINY_PRESET, name="mine.toml")

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            table = app.screen.query_one("#presets", DataTable)
            table.move_cursor(row=table.row_count - 1)
            await pilot.press("enter")
            assert isinstance(app.screen, LaunchScreen)
            await pilot.press(*"optim.lr=-1")
            validation = str(app.screen.query_one("#validation", Static).render())
            assert "error: --set optim.lr=-1: optim.lr: must be > 0 (got -1)" in validation
            await pilot.press("enter")  # refused: nothing launched
            assert isinstance(app.screen, LaunchScreen) and not runs_dir.exists()
            app.screen.query_one(
                "#overrides", Input
            ).value = "optim.lr=0.05 'sweep.train.seed=[0, 1]'"
            await pilot.pause()
            assert "valid: 2 run(s), 4 run-epochs" in str(
                app.screen.query_one("#validation", Static).render()
            )
            await pilot.press("enter")
            assert isinstance(app.screen, MonitorScreen)
            monitor = app.screen
            runs = monitor.query_one("#runs", DataTable)
            await wait_for(
                pilot,
                lambda: (
                    runs.row_count == 2 and all(cell(runs, i, 1) == "completed" for i in range(2))
                ),
            )
            assert cell(runs, 0, 0) == "seed=0" and cell(runs, 0, 2) == "2/2"
            loss = monitor.query_one("#chart-loss", MetricChart)
            assert [series[0] for series in loss.series] == [
                "seed=0 train",
                "seed=0 val",
                "seed=1 train",
                "seed=1 val",
            ]
            assert list(loss.series[0][1]) == [1.0, 2.0]
            assert "completed" in str(monitor.query_one("#study-title", Static).render())
            await wait_for(
                pilot,
                lambda: any("study finished" in line for line in monitor.query_one("#log").lines),
            )
        (study,) = list_studies(runs_dir)
        assert study.state == "completed"
        assert study.launch.overrides == ["optim.lr=0.05", "sweep.train.seed=[0, 1]"]

    run(scenario())


def test_a_list_typed_without_quotes_is_one_override(write_preset, runs_dir):
    """The launch line is not a shell: `sweep.optim.lr=[0.05, 0.1]` is one override, as are a
    quoted TOML string and a word in shell quotes."""
    mine = write_preset(TINY_PRESET, name="mine.toml")

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(LaunchScreen(mine, app.runs_dir))
            line = app.screen.query_one("#overrides", Input)
            line.value = "sweep.optim.lr=[0.05, 0.1] study.description=\"a b\" 'train.epochs=1'"
            await pilot.pause()
            validation = str(app.screen.query_one("#validation", Static).render())
            assert validation.splitlines()[:3] == [
                "valid: 2 run(s), 2 run-epochs",
                "  lr=0.05",
                "  lr=0.1",
            ]
            assert app.screen.overrides == [
                "sweep.optim.lr=[0.05, 0.1]",
                'study.description="a b"',
                "train.epochs=1",
            ]

    run(scenario())


def test_launch_lists_ten_runs_then_how_many_more_and_the_time_it_will_take(write_preset, runs_dir):
    mine = write_preset(TINY_PRESET, name="mine.toml")

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(LaunchScreen(mine, app.runs_dir))
            line = app.screen.query_one("#overrides", Input)
            line.value = "sweep.train.seed=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]"
            await pilot.pause()
            lines = str(app.screen.query_one("#validation", Static).render()).splitlines()
            assert lines[0] == "valid: 15 run(s), 30 run-epochs"
            assert lines[1:12] == [*(f"  seed={seed}" for seed in range(10)), "  +5 more"]
            assert lines[12] == "time: no estimate yet: no run of this setup has finished here"

    run(scenario())
