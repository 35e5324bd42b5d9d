"""The compare screen (Pilot): its table is the curves' legend (row i in curve i's colour, with
curve i's marker; no state colour), `g` log-scales the loss chart, and the columns between run
and figures are the config keys whose values differ between the compared runs."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tests.ui_pilot import SIZE, cell, run
from tui_trainer.store.compare import differing_keys, flatten
from tui_trainer.store.synthetic import write_synthetic_study
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.compare import CompareScreen
from tui_trainer.ui.widgets.charts import MetricChart, run_colour, run_marker

OLDER, NEWER = "20261122-120000-r001-cifar100-lr", "20261122-130000-r002-cifar100-lr"


def _compare_two(runs_dir, newer_epochs: int = 15):
    """Two studies (3 runs, then 2 runs of another epoch count), both marked and compared."""
    write_synthetic_study(runs_dir, study_id=OLDER)
    write_synthetic_study(runs_dir, study_id=NEWER, learning_rates=(0.05, 0.3), epochs=newer_epochs)


async def _open_compare(app, pilot) -> CompareScreen:
    await pilot.press("r", "space", "down", "space", "c")  # newest first: NEWER, then OLDER
    assert isinstance(app.screen, CompareScreen)
    return app.screen


def test_each_compare_row_is_written_in_its_curves_colour_after_its_marker(runs_dir):
    _compare_two(runs_dir)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            screen = await _open_compare(app, pilot)
            table = screen.query_one("#compare", DataTable)
            curves = screen.query_one("#compare-acc", MetricChart).series
            runs = ["lr=0.05", "lr=0.3", "lr=0.01", "lr=0.05", "lr=0.5"]
            studies = [NEWER, NEWER, OLDER, OLDER, OLDER]
            assert [label for label, *_ in curves] == [
                f"{study}/{name}" for study, name in zip(studies, runs, strict=True)
            ]
            for index, name in enumerate(runs):
                study, run_cell, state = (table.get_row_at(index)[i] for i in (0, 1, 3))
                colour = "dark_orange" if run_colour(index) == "orange" else run_colour(index)
                assert curves[index][3] == run_colour(index)
                assert (
                    isinstance(run_cell, Text) and run_cell.plain == f"{run_marker(index)} {name}"
                )
                assert run_cell.style == colour and study.style == colour
                assert str(state) == "completed" and state.style == ""  # no green beside a curve
            assert len({cell(table, i, 1)[0] for i in range(5)}) == 5  # five markers

    run(scenario())


def test_g_log_scales_the_compare_loss_chart_and_back(runs_dir):
    _compare_two(runs_dir)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            screen = await _open_compare(app, pilot)
            loss = screen.query_one("#compare-loss", MetricChart)
            acc = screen.query_one("#compare-acc", MetricChart)
            await pilot.press("g")
            assert (loss.log_y, acc.log_y) == (True, False)
            await pilot.press("g")
            assert (loss.log_y, acc.log_y) == (False, False)

    run(scenario())


def test_compare_shows_the_config_keys_that_differ_between_studies(runs_dir):
    _compare_two(runs_dir, newer_epochs=10)  # lr and epochs differ; nothing else does

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            screen = await _open_compare(app, pilot)
            table = screen.query_one("#compare", DataTable)
            headers = [str(column.label) for column in table.columns.values()]
            assert headers[:5] == ["study", "run", "optim.lr", "train.epochs", "state"]
            assert [[cell(table, i, c) for c in (2, 3, 5)] for i in range(5)] == [
                ["0.05", "10", "10/10"],
                ["0.3", "10", "10/10"],
                ["0.01", "15", "15/15"],
                ["0.05", "15", "15/15"],
                ["0.5", "15", "15/15"],
            ]

    run(scenario())


def test_differing_keys_are_those_not_the_same_in_every_config():
    configs = [
        flatten(
            {"study": {"name": "a"}, "optim": {"lr": 0.1, "name": "sgd"}, "train": {"epochs": 5}}
        ),
        flatten({"study": {"name": "b"}, "optim": {"lr": 0.1, "name": "adamw"}, "train": {}}),
        flatten(
            {"study": {"name": "a"}, "optim": {"lr": 0.1, "name": "sgd"}, "schedule": {"x": 1}}
        ),
    ]
    assert configs[0] == {
        "study.name": "a",
        "optim.lr": 0.1,
        "optim.name": "sgd",
        "train.epochs": 5,
    }
    # a key one config lacks differs; so does 1 against 1.0
    assert differing_keys(configs) == ["study.name", "optim.name", "train.epochs", "schedule.x"]
    assert differing_keys([{"a": 1}, {"a": 1.0}]) == ["a"]
    assert differing_keys([{"a": [1, 2]}, {"a": [1, 2]}]) == []
