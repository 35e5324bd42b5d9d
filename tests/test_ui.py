"""The TUI, driven like a person uses it (Textual's Pilot), on real studies: presets, launch with a
validation error and then a real detached trainer, the monitor, stop, reattach, the runs browser."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
from textual.widgets import DataTable, Input, Static

from tests.conftest import TINY_PRESET
from tests.test_store import _fake_study
from tui_trainer.config import load_study
from tui_trainer.launch import trainer_pid
from tui_trainer.store.reader import list_studies
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.launch import LaunchScreen
from tui_trainer.ui.screens.monitor import MonitorScreen
from tui_trainer.ui.screens.runs import RunsScreen
from tui_trainer.ui.widgets.charts import MetricChart

SIZE = (120, 40)


def run(coroutine):
    return asyncio.run(coroutine)


async def wait_for(pilot, condition, timeout=240.0):  # generous: CI machines can be busy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.2)
    raise AssertionError("condition not met in time")


def cell(table: DataTable, row: int, column: int) -> str:
    return str(table.get_row_at(row)[column])


def test_presets_screen_lists_builtin_and_given_presets(write_preset, runs_dir):
    mine = write_preset(name="mine.toml")

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE):
            table = app.screen.query_one("#presets", DataTable)
            names = [cell(table, i, 0) for i in range(table.row_count)]
            assert names[0] == "quickstart" and names[-1] == "mine"
            assert "r004-cifar10-v3-dropout-epochs" in names
            row = names.index("r004-cifar10-v3-dropout-epochs")
            assert cell(table, row, 1) == "24" and cell(table, row, 3) == "132"

    run(scenario())


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
        assert study.launch["overrides"] == ["optim.lr=0.05", "sweep.train.seed=[0, 1]"]

    run(scenario())


def test_stop_asks_first_then_signals_the_trainer(write_preset, runs_dir):
    mine = write_preset(TINY_PRESET.replace("epochs = 2", "epochs = 200"), name="long.toml")

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            app.launch_study(mine, [], "tiny")
            await pilot.pause()
            monitor = app.screen
            runs = monitor.query_one("#runs", DataTable)
            await wait_for(
                pilot,
                lambda: runs.row_count == 1 and cell(runs, 0, 2).startswith(("1/", "2/", "3/")),
            )
            await pilot.press("s")
            await pilot.press("n")  # changed my mind
            await pilot.pause(0.5)
            assert trainer_pid(monitor.follower.paths.root) is not None
            await pilot.press("s")
            await pilot.press("y")
            await wait_for(pilot, lambda: cell(runs, 0, 1) == "interrupted")
        (study,) = list_studies(runs_dir)
        assert study.runs[0].state == "interrupted" and study.runs[0].epoch >= 1

    run(scenario())


def test_a_running_study_is_opened_again_at_start(write_preset, runs_dir):
    preset = write_preset(TINY_PRESET.replace("epochs = 2", "epochs = 200"))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui_trainer",
            "run",
            str(preset),
            "--runs-dir",
            str(runs_dir),
            "--plain",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            list_studies(runs_dir) and list_studies(runs_dir)[0].state == "running"
        ):
            time.sleep(0.2)

        async def scenario():
            app = create_app(runs_dir)
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause()
                assert isinstance(app.screen, MonitorScreen)
                assert app.screen.follower.paths.root == list_studies(runs_dir)[0].paths.root

        run(scenario())
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_runs_browser_filters_and_opens(runs_dir):
    _fake_study(runs_dir, "20260101-000000-alpha", ["run"])
    _fake_study(runs_dir, "20260102-000000-beta", ["lr=0.1", "lr=0.2"], state="failed")
    _fake_study(runs_dir, "20260103-000000-gamma", ["run"], state="interrupted")

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("r")
            assert isinstance(app.screen, RunsScreen)
            table = app.screen.query_one("#studies", DataTable)
            assert [cell(table, i, 1) for i in range(3)] == [
                "20260103-000000-gamma",
                "20260102-000000-beta",
                "20260101-000000-alpha",
            ]
            assert cell(table, 1, 2) == "failed" and cell(table, 1, 3) == "0/2"
            await pilot.press("slash", *"bet")
            assert table.row_count == 1 and cell(table, 0, 1) == "20260102-000000-beta"
            table.focus()
            await pilot.press("enter")
            assert isinstance(app.screen, MonitorScreen)
            assert app.screen.follower.paths.id == "20260102-000000-beta"

    run(scenario())


@pytest.mark.parametrize("screen", ["presets", "runs"])
def test_the_tui_process_never_imports_torch(runs_dir, screen):
    code = f"""
import asyncio, sys
from pathlib import Path
from tui_trainer.ui.app import create_app

async def main():
    app = create_app(Path({str(runs_dir)!r}))
    async with app.run_test(size=(100, 30)) as pilot:
        if {screen!r} == "runs":
            await pilot.press("r")
        await pilot.pause()
asyncio.run(main())
print(sorted(m for m in ("torch", "torchvision") if m in sys.modules))
"""
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip().splitlines()[-1] == "[]"


def test_replay_plays_pauses_scrubs_and_finishes(runs_dir):
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir, epochs=15)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(MonitorScreen(study))
            monitor = app.screen
            title = monitor.query_one("#study-title", Static)
            loss = monitor.query_one("#chart-loss", MetricChart)
            runs = monitor.query_one("#runs", DataTable)
            await pilot.press("p", "space", *["left"] * 20)  # start, pause, back to epoch 1
            await pilot.pause(0.3)
            assert monitor.replay_paused and "replay epoch 1/15" in str(title.render())
            await pilot.press("right", "right")
            await pilot.pause(0.3)
            assert "replay epoch 3/15" in str(title.render()) and "paused" in str(title.render())
            assert list(loss.series[0][1]) == [1.0, 2.0, 3.0]
            assert (
                cell(runs, 0, 1) == "replay"
                and cell(runs, 0, 2) == "3/15"
                and cell(runs, 0, 4) == "-"
            )
            await pilot.press("left")
            await pilot.pause(0.3)
            assert list(loss.series[0][1]) == [1.0, 2.0]
            await pilot.press("plus", "plus", "plus", "space")  # 16 epochs/s, playing
            assert monitor.replay_speed == 16.0
            await wait_for(pilot, lambda: monitor.replay_epoch is None, timeout=60)
            assert len(loss.series[0][1]) == 15 and cell(runs, 0, 1) == "completed"

    run(scenario())


def test_help_lists_the_keys(runs_dir):
    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            from tui_trainer.ui.screens.help import HelpScreen

            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

    run(scenario())


def test_every_screen_works_at_80_by_24_and_without_colour(runs_dir, monkeypatch):
    from tui_trainer.store.synthetic import write_synthetic_study

    monkeypatch.setenv("NO_COLOR", "1")
    study = write_synthetic_study(runs_dir)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.no_color
            await pilot.press("enter")  # launch screen of the first preset
            assert isinstance(app.screen, LaunchScreen)
            await pilot.press("escape", "r")
            assert isinstance(app.screen, RunsScreen)
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            assert app.screen.query_one("#runs", DataTable).row_count == 3
            await pilot.press("question_mark")
            await pilot.pause(0.1)

    run(scenario())


def test_editor_validates_each_field_saves_as_and_launches(write_preset, runs_dir, tmp_path):
    from textual.widgets import Input as TextInput

    from tui_trainer.ui.screens.editor import EditorScreen, field_id

    mine = write_preset("# my own study\n" + TINY_PRESET, name="mine.toml")
    user_dir = tmp_path / "user-presets"

    async def scenario():
        app = create_app(runs_dir, [mine], user_presets_dir=user_dir)
        async with app.run_test(size=SIZE) as pilot:
            table = app.screen.query_one("#presets", DataTable)
            table.move_cursor(row=table.row_count - 1)
            await pilot.press("e")
            editor = app.screen
            assert isinstance(editor, EditorScreen)
            specs = {spec.key: spec for spec in editor.specs}
            lr = editor.query_one(f"#{field_id(specs['optim.lr'])}", TextInput)
            lr.value = "-1"
            await pilot.pause()
            error = editor.query_one(f"#{field_id(specs['optim.lr'])}-error", Static)
            assert error.display and "must be > 0 (got -1)" in str(error.render())
            assert "1 problem(s)" in str(editor.query_one("#summary", Static).render())
            await pilot.press("ctrl+s")  # refused while there is a problem
            assert editor is app.screen
            lr.value = "0.02"
            editor.query_one("#axis-key-0", TextInput).value = "train.seed"
            editor.query_one("#axis-values-0", TextInput).value = "[0, 1]"
            await pilot.pause()
            assert not error.display
            summary = str(editor.query_one("#summary", Static).render())
            assert "valid: 2 run(s), 4 run-epochs" in summary and "seed=1" in summary
            await wait_for(
                pilot, lambda: "trainable" in str(editor.query_one("#params", Static).render()), 60
            )
            await pilot.press("ctrl+s")
            name = app.screen.query_one("#name", TextInput)
            name.value = "my-lr"
            await pilot.press("enter")
            saved = user_dir / "my-lr.toml"
            assert saved.read_text().startswith("# my own study")
            study = load_study(saved)
            assert study.preset.study.name == "my-lr" and study.preset.optim.lr == 0.02
            assert [r.name for r in study.runs] == ["seed=0", "seed=1"]
            await pilot.press("ctrl+l")
            assert isinstance(app.screen, MonitorScreen)
            runs = app.screen.query_one("#runs", DataTable)
            await wait_for(
                pilot,
                lambda: (
                    runs.row_count == 2 and all(cell(runs, i, 1) == "completed" for i in range(2))
                ),
            )
            await pilot.press("escape")
            presets = app.screen.query_one("#presets", DataTable)
            assert "my-lr" in [cell(presets, i, 0) for i in range(presets.row_count)]
        (launched,) = list_studies(runs_dir)
        assert read_launch_lr(launched) == 0.02

    run(scenario())


def read_launch_lr(study):
    from tui_trainer.store.atomic import read_toml

    return read_toml(study.paths.study)["optim"]["lr"]


def test_monitor_focuses_hides_and_switches_metric(runs_dir):
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            monitor = app.screen
            loss = monitor.query_one("#chart-loss", MetricChart)
            labels = lambda chart: [s[0] for s in chart.series]  # noqa: E731
            assert len(labels(loss)) == 6
            await pilot.press("f")  # the highlighted run is the first
            await pilot.pause(0.3)
            assert labels(loss) == ["lr=0.01 train", "lr=0.01 val"]
            await pilot.press("f", "h")  # all again, then hide the first
            await pilot.pause(0.3)
            assert labels(loss) == ["lr=0.05 train", "lr=0.05 val", "lr=0.5 train", "lr=0.5 val"]
            second = monitor.query_one("#chart-acc", MetricChart)
            assert monitor.metrics_available() == [
                "accuracy",
                "val_top5",
                "lr",
                "epoch_time_s",
                "images_per_s",
            ]
            await pilot.press("m")
            await pilot.pause(0.3)
            assert second.title == "val_top5" and labels(second) == [
                "lr=0.05 val_top5",
                "lr=0.5 val_top5",
            ]
            third = monitor.query_one("#chart-lr", MetricChart)
            await pilot.press("n")  # lr -> epoch_time_s
            await pilot.pause(0.3)
            assert third.title == "epoch_time_s"
            assert labels(third) == ["lr=0.05 epoch_time_s", "lr=0.5 epoch_time_s"]

    run(scenario())


def test_runs_browser_compares_studies_and_exports(runs_dir):
    from tui_trainer.store.synthetic import write_synthetic_study
    from tui_trainer.ui.screens.compare import CompareScreen

    write_synthetic_study(runs_dir, study_id="20261122-120000-r001-cifar100-lr")
    write_synthetic_study(
        runs_dir, study_id="20261122-130000-r002-cifar100-lr", learning_rates=(0.05, 0.5)
    )

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("r", "space", "down", "space", "c")
            assert isinstance(app.screen, CompareScreen)
            table = app.screen.query_one("#compare", DataTable)
            assert table.row_count == 5
            assert (
                cell(table, 0, 0) == "20261122-130000-r002-cifar100-lr"
                and cell(table, 0, 2) == "optim.lr=0.05"
            )
            assert len(app.screen.query_one("#compare-acc", MetricChart).series) == 5
            await pilot.press("x")
            (exported,) = (runs_dir / "exports").glob("compare-*.md")
            lines = exported.read_text().splitlines()
            assert (
                lines[0].startswith("| study | run | swept | state | epochs |") and len(lines) == 7
            )

    run(scenario())


def test_presets_show_a_time_estimate_once_a_setup_was_timed_here(runs_dir):
    import socket

    from tui_trainer.store.atomic import read_toml, write_toml_atomic

    root = _fake_study(runs_dir, "20260101-000000-quickstart", ["run"])
    study = read_toml(root / "study.toml")
    study["launch"]["host"] = socket.gethostname()
    write_toml_atomic(root / "study.toml", study)
    write_toml_atomic(
        root / "run" / "config.toml",
        {"model": {"arch": "mobilenet_v1", "width_mult": 0.5}, "data": {"dataset": "digits"}},
    )
    write_toml_atomic(root / "run" / "summary.toml", {"wall_time_s": 40.0, "epochs": 20})

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE):
            table = app.screen.query_one("#presets", DataTable)
            rows = {cell(table, i, 0): cell(table, i, 4) for i in range(table.row_count)}
            assert rows["quickstart"] == "~0:40"  # 20 epochs x 2 s, measured here
            assert rows["r001-cifar100-lr"] == "-"  # never timed on this machine

    run(scenario())


def test_editor_always_has_room_for_another_axis(runs_dir, write_preset):
    from textual.widgets import Input as TextInput

    from tui_trainer.ui.screens.editor import EditorScreen

    mine = write_preset()

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            editor = EditorScreen(mine)
            editor.count_parameters = lambda text: None
            await app.push_screen(editor)
            rows = len(editor.query(".axis-key"))
            for index, (key, values) in enumerate(
                [
                    ("optim.lr", "[0.1, 0.2]"),
                    ("train.seed", "[0, 1]"),
                    ("optim.momentum", "[0.9]"),
                    ("data.batch_size", "[32, 64]"),
                    ("train.epochs", "[1, 2]"),
                ]
            ):
                editor.query_one(f"#axis-key-{index}", TextInput).value = key
                await pilot.pause()
                editor.query_one(f"#axis-values-{index}", TextInput).value = values
                await pilot.pause()
            assert len(editor.query(".axis-key")) == max(rows, 6)
            assert len(editor.checked.runs) == 2 * 2 * 1 * 2 * 2

    run(scenario())
