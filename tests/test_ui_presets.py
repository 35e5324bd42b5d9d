"""The presets screen (Pilot): built-in and given presets listed, with a time estimate once a setup
was timed on this machine, read after the list is shown."""

from __future__ import annotations

import threading

from textual.widgets import DataTable, Static

from tests.helpers import fake_study
from tests.ui_pilot import SIZE, cell, run, wait_for
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens import presets
from tui_trainer.ui.screens.presets import PENDING


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


def test_presets_show_a_time_estimate_once_a_setup_was_timed_here(runs_dir):
    import socket

    from tui_trainer.store.atomic import read_toml, write_toml_atomic

    root = fake_study(runs_dir, "20260101-000000-quickstart", ["run"])
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
        async with app.run_test(size=SIZE) as pilot:
            table = app.screen.query_one("#presets", DataTable)
            await wait_for(pilot, lambda: cell(table, 0, 4) != PENDING)  # read in a worker
            rows = {cell(table, i, 0): cell(table, i, 4) for i in range(table.row_count)}
            assert rows["quickstart"] == "~0:40"  # 20 epochs x 2 s, measured here
            assert rows["r001-cifar100-lr"] == "-"  # never timed on this machine

    run(scenario())


def test_the_estimate_takes_a_runs_steady_pace_not_its_slow_first_epoch(runs_dir):
    """Epochs ending at 10, 12, 14 and 17 s (the first paid for warm-up, the last for a busy
    moment), the run's wall time 20 s: 2 s per epoch (the median of epochs 2 on) and 3 s outside
    the epochs. The quickstart's 20 epochs: 3 + 20 x 2 = 43 s (wall time over epochs: 100 s)."""
    import socket

    from tui_trainer.store.atomic import read_toml, write_toml_atomic
    from tui_trainer.store.csvlog import CsvAppender

    root = fake_study(runs_dir, "20260101-000000-quickstart", ["run"])
    study = read_toml(root / "study.toml")
    study["launch"]["host"] = socket.gethostname()
    write_toml_atomic(root / "study.toml", study)
    write_toml_atomic(
        root / "run" / "config.toml",
        {"model": {"arch": "mobilenet_v1", "width_mult": 0.5}, "data": {"dataset": "digits"}},
    )
    write_toml_atomic(root / "run" / "summary.toml", {"wall_time_s": 20.0, "epochs": 4})
    with CsvAppender(root / "run" / "metrics.csv", ["epoch", "elapsed_s"]) as metrics:
        for epoch, elapsed in enumerate([10.0, 12.0, 14.0, 17.0], start=1):
            metrics.append({"epoch": epoch, "elapsed_s": elapsed})

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            table = app.screen.query_one("#presets", DataTable)
            await wait_for(pilot, lambda: cell(table, 0, 4) != PENDING)
            rows = {cell(table, i, 0): cell(table, i, 4) for i in range(table.row_count)}
            assert rows["quickstart"] == "~0:43"
            await pilot.press("enter")  # the quickstart's launch screen says it in words
            validation = str(app.screen.query_one("#validation", Static).render())
            assert validation.splitlines()[-1] == (
                "time: about 0:43 (runs of this setup timed here)"
            )

    run(scenario())


def test_the_preset_list_shows_and_answers_keys_before_the_studies_on_disk_are_read(
    runs_dir, monkeypatch
):
    """Reading the runs directory made slow (held until the test lets it go; at most 5 s):
    the list is there with `…` for time, `down` moves to the next preset and shows it, and the
    estimates arrive once the reading ends. (Read on the UI thread, the list would only show
    after it, with its estimates.)"""
    released = threading.Event()
    from tui_trainer.store.timing import setup_timings
    from tui_trainer.ui import reopen

    def slow_timings(runs_dir, stopped):
        released.wait(5)
        return setup_timings(runs_dir, stopped)

    def slow_studies(runs_dir):
        released.wait(5)
        return []

    monkeypatch.setattr(presets, "setup_timings", slow_timings)
    monkeypatch.setattr(reopen, "study_dirs", slow_studies)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            table = app.screen.query_one("#presets", DataTable)
            assert (cell(table, 0, 0), cell(table, 0, 4)) == ("quickstart", PENDING)
            assert {cell(table, i, 4) for i in range(table.row_count)} == {PENDING}
            await pilot.press("down")
            detail = str(app.screen.query_one("#preset-detail", Static).render())
            assert detail.split()[0] == cell(table, 1, 0) and table.cursor_row == 1
            assert not released.is_set()
            released.set()
            await wait_for(pilot, lambda: cell(table, 0, 4) != PENDING)
            assert {cell(table, i, 4) for i in range(table.row_count)} == {"-"}  # none timed

    run(scenario())
