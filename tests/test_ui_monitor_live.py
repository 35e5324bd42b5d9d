"""The monitor of a live study tells the truth (Pilot): it always shows that it is live (no key
turns it into a replay), and the figures it gives of the latest steps are those of whole
logging windows."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.ui_pilot import SIZE, cell, run, title_of, wait_for
from tui_trainer.store.clock import utc_now
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.monitor import MonitorScreen


@contextlib.asynccontextmanager
async def monitor_app(
    runs_dir: Path, study: Path | None = None, size: tuple[int, int] = SIZE
) -> AsyncIterator[tuple[App, Pilot]]:
    """The app on `runs_dir` with `study`'s monitor pushed (None: the screen it opens by itself
    at start), settled."""
    app = create_app(runs_dir)
    async with app.run_test(size=size) as pilot:
        if study is not None:
            await app.push_screen(MonitorScreen(study))
        await pilot.pause(0.3)
        yield app, pilot


def live_study(runs_dir: Path, **fields) -> Path:
    """The synthetic study with its run lr=0.5 running in this process (its heartbeat fresh)
    at epoch 6 of 8, its status as `fields` change it."""
    from tui_trainer.store import status as st
    from tui_trainer.store.atomic import read_toml, write_toml_atomic
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir, epochs=8)
    path = study / "lr=0.5" / "status.toml"
    status = {**read_toml(path), "state": "running", "epoch": 6, "step": 0, "eta_s": 60.0}
    identity = {**st.process_identity(), "heartbeat": utc_now()}
    written = {**status, **identity, **fields}
    write_toml_atomic(path, {key: value for key, value in written.items() if value is not None})
    (study / "lr=0.5" / "summary.toml").unlink()
    return study


def test_left_and_right_on_a_live_study_never_turn_it_into_a_replay(runs_dir):
    live_study(runs_dir)

    async def scenario():
        async with monitor_app(runs_dir) as (app, pilot):
            monitor = app.screen
            assert isinstance(monitor, MonitorScreen)  # opened by itself: it is live
            await pilot.press("left", "left", "right", "p", "space", "left")
            await pilot.pause(0.3)
            assert monitor.replay.epoch is None
            title = title_of(monitor)
            assert "replay" not in title and "  running" in title
            eta = str(monitor.query_one("#study-eta").render())
            assert "ETA" in eta

    run(scenario())


def test_p_leaves_a_replay_paused_by_left_and_right_and_shows_everything_again(runs_dir):
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir, epochs=8)

    async def scenario():
        async with monitor_app(runs_dir, study) as (app, pilot):
            monitor = app.screen
            await pilot.press("p", "space", "left", "left")
            await pilot.pause(0.3)
            assert "replay epoch 1/8 x2  paused" in title_of(monitor)
            await pilot.press("p")
            await pilot.pause(0.3)
            assert monitor.replay.epoch is None and "replay" not in title_of(monitor)
            runs = monitor.query_one("#runs", DataTable)
            assert cell(runs, 0, 1) == "completed" and cell(runs, 0, 2) == "8/8"

    run(scenario())


def test_a_replay_ends_when_its_study_is_resumed_and_live_again(runs_dir):
    from tui_trainer.store import status as st
    from tui_trainer.store.atomic import read_toml, write_toml_atomic
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir, epochs=8)
    path = study / "lr=0.5" / "status.toml"

    async def scenario():
        async with monitor_app(runs_dir, study) as (app, pilot):
            monitor = app.screen
            await pilot.press("p", "space")
            assert monitor.replay.epoch is not None
            live = {**read_toml(path), "state": "running", "epoch": 6, "eta_s": 60.0}
            write_toml_atomic(path, {**live, **st.process_identity(), "heartbeat": utc_now()})
            await wait_for(pilot, lambda: "  running" in title_of(monitor), timeout=10)
            await pilot.pause(0.3)
            assert monitor.replay.epoch is None and "replay" not in title_of(monitor)

    run(scenario())


def partial_batch_study(runs_dir: Path) -> Path:
    """A live run whose epoch 1 (21 steps of 64 images, a row every 10) has just ended on its
    partial last batch: 12 images in 6 s, a loss of 1.195 (the window before: 25 img/s, 0.44)."""
    from tui_trainer.store.schema import STEP_COLUMNS

    study = live_study(
        runs_dir, epoch=0, step=21, steps_per_epoch=21, images_per_s=2.0, train_loss_running=1.195
    )
    run_dir = study / "lr=0.5"
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    (run_dir / "metrics.csv").write_text(header + "\n")
    rows = [(10, 0.50, 20.0, 32.0), (20, 0.44, 25.0, 57.6), (21, 1.195, 2.0, 63.6)]
    (run_dir / "steps.csv").write_text(
        ",".join(STEP_COLUMNS)
        + "\n"
        + "".join(f"1,{s},{loss},0.8,0.1,{pace},90.0,{t}\n" for s, loss, pace, t in rows)
    )
    return study


def test_the_pace_and_train_loss_shown_fold_an_epochs_partial_last_batch_into_the_window_before(
    runs_dir,
):
    """(640 + 12) images in (25.6 + 6) s is 21 img/s, not 2; (0.44 x 10 + 1.195) / 11 steps is
    a loss of 0.5086, not 1.195: in the table and in the highlighted run's line alike."""
    partial_batch_study(runs_dir)

    async def scenario():
        async with monitor_app(runs_dir) as (app, pilot):
            monitor = app.screen
            runs = monitor.query_one("#runs", DataTable)
            assert cell(runs, 2, 7) == "21"
            await pilot.press("down", "down")
            line = str(monitor.query_one("#run-line").render()).splitlines()
            assert line[1].startswith("step 21/21 21 img/s · train loss 0.5086 acc ")

    run(scenario())


def test_a_run_in_epoch_1_has_an_eta_from_its_first_step_row(runs_dir):
    """One row, 10 steps in 5 s: 150 steps of 8 epochs x 20 left take 1:15, in the table and
    in the study's ETA (a 1-epoch study, or a parallel one on busy cores, has no second row for
    most of its first epoch)."""
    from tui_trainer.store.schema import STEP_COLUMNS

    study = live_study(runs_dir, epoch=0, step=10, steps_per_epoch=20, eta_s=None)
    run_dir = study / "lr=0.5"
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    (run_dir / "metrics.csv").write_text(header + "\n")
    (run_dir / "steps.csv").write_text(
        ",".join(STEP_COLUMNS) + "\n" + "1,10,2.0,0.1,0.1,128.0,90.0,5.0\n"
    )

    async def scenario():
        async with monitor_app(runs_dir) as (app, _pilot):
            monitor = app.screen
            runs = monitor.query_one("#runs", DataTable)
            assert cell(runs, 2, 5) == "1:15"
            assert str(monitor.query_one("#study-eta").render()).endswith("ETA 1:15")

    run(scenario())


TRAIN = "step 10/20 4210 img/s · train loss 1.1984 acc 0.5716"
VAL = "val loss 2.1984 acc 0.4716 · lr 0.5"


@pytest.mark.parametrize(
    "columns, expected",
    [(120, f"{TRAIN} · {VAL} · best 0.4844 @ 5"), (100, f"{TRAIN} · {VAL}"), (80, TRAIN)],
    ids=["120", "100", "80"],
)
def test_the_highlighted_runs_figures_are_cut_between_figures_never_inside_one(
    runs_dir, columns, expected
):
    """As the terminal shows them: at 120 columns '… best 0.4844 @ 5' without 'elapsed' (not
    '… elapsed' without its value), at 80 up to the train figures."""
    from tests.test_ui_monitor import screen_lines

    live_study(runs_dir, step=10)

    async def scenario():
        async with monitor_app(runs_dir, size=(columns, 40)) as (app, pilot):
            monitor = app.screen
            await pilot.press("down", "down")
            await pilot.pause(0.1)
            row = monitor.query_one("#run-line").region.y + 1
            assert screen_lines(app)[row].strip() == expected

    run(scenario())


@pytest.mark.process
def test_a_study_launched_a_moment_ago_is_opened_again_before_its_trainer_wrote_study_toml(
    runs_dir,
):
    """Quit within seconds of a launch and start again: the study's directory holds only
    trainer.log while its trainer loads torch, and the app opens it, `starting`. Once that
    trainer is gone, a directory like it is no study to open."""
    import subprocess
    import sys

    study = runs_dir / "20261208-000000-tiny"
    study.mkdir(parents=True)
    (study / "trainer.log").write_text("")
    # what launch.trainer_command runs, as the process table shows it (loading, here forever)
    loading = "import time; time.sleep(60)"
    command = [sys.executable, "-c", loading, "-m", "tui_trainer", "run", "x.toml"]
    trainer = subprocess.Popen([*command, "--into", str(study)])

    async def scenario(opened: bool):
        async with monitor_app(runs_dir) as (app, _pilot):
            assert isinstance(app.screen, MonitorScreen) is opened
            if opened:
                assert app.screen.follower.paths.root == study
                assert title_of(app.screen) == "20261208-000000-tiny  starting"

    try:
        run(scenario(opened=True))
    finally:
        trainer.kill()
        trainer.wait()
    run(scenario(opened=False))


def test_a_study_whose_live_trainer_still_loads_with_its_runs_queued_is_opened_again(runs_dir):
    """The next seconds of a launch: study.toml is written, naming the trainer, and every run
    still reads queued. The app opens it; a study whose trainer is gone it does not."""
    from tests.helpers import dead_trainer, fake_study
    from tui_trainer.store import status as st
    from tui_trainer.store.atomic import read_toml, write_toml_atomic

    def study(study_id: str, trainer: dict) -> Path:
        root = fake_study(runs_dir, study_id, ["lr=0.1"], state="queued")
        record = read_toml(root / "study.toml")
        record["launch"].update(trainer)
        write_toml_atomic(root / "study.toml", record)
        return root

    study("20261208-000000-gone", dead_trainer())
    loading = study("20261207-000000-loading", st.process_identity())

    async def scenario():
        async with monitor_app(runs_dir) as (app, _pilot):
            assert isinstance(app.screen, MonitorScreen)
            assert app.screen.follower.paths.root == loading

    run(scenario())


def test_the_step_loss_chart_of_a_finished_study_shows_each_runs_last_windows(runs_dir):
    """It was an empty box once nothing ran: the synthetic runs log a window every 5 of 20
    steps, so 15 epochs are 60 windows, the last 60 of which end at epoch 15; a replay at
    epoch 5 shows those up to epoch 5."""
    from tui_trainer.store.synthetic import write_synthetic_study
    from tui_trainer.ui.widgets.charts import MetricChart

    study = write_synthetic_study(runs_dir, epochs=15)

    async def scenario():
        async with monitor_app(runs_dir, study) as (app, pilot):
            chart = app.screen.query_one("#chart-steps", MetricChart)
            assert [(name, len(xs), xs[0], xs[-1]) for name, xs, *_ in chart.series] == [
                ("lr=0.01", 60, 0.25, 15.0),
                ("lr=0.05", 60, 0.25, 15.0),
                ("lr=0.5", 60, 0.25, 15.0),
            ]
            await pilot.press("p", "space", *["left"] * 20, *["right"] * 4)  # epoch 5, paused
            await pilot.pause(0.3)
            assert [(len(xs), xs[-1]) for _, xs, *_ in chart.series] == [(20, 5.0)] * 3

    run(scenario())
