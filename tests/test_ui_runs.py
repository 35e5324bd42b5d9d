"""The runs browser and replay (Pilot): filter, open, compare, export, resume the highlighted study;
replay plays, pauses, scrubs and finishes."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static

from tests.helpers import fake_study, record_notes
from tests.ui_pilot import SIZE, cell, run, wait_for
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.monitor import MonitorScreen
from tui_trainer.ui.screens.runs import RunsScreen
from tui_trainer.ui.widgets.charts import MetricChart


def test_runs_browser_filters_and_opens(runs_dir):
    fake_study(runs_dir, "20260101-000000-alpha", ["run"])
    fake_study(runs_dir, "20260102-000000-beta", ["lr=0.1", "lr=0.2"], state="failed")
    fake_study(runs_dir, "20260103-000000-gamma", ["run"], state="interrupted")

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
                and cell(table, 0, 1) == "• lr=0.05"
                and cell(table, 0, 2) == "0.05"  # optim.lr: the config key that differs
            )
            assert len(app.screen.query_one("#compare-acc", MetricChart).series) == 5
            await pilot.press("x")
            (exported,) = (runs_dir / "exports").glob("compare-*.md")
            lines = exported.read_text().splitlines()
            assert (
                lines[0].startswith("| study | run | optim.lr | state | epochs |")
                and len(lines) == 7
            )

    run(scenario())


def test_runs_browser_resumes_the_highlighted_study(runs_dir, resumes):
    from tests.helpers import make_unfinished
    from tui_trainer.store.synthetic import write_synthetic_study

    finished = write_synthetic_study(runs_dir)
    crashed = write_synthetic_study(runs_dir, study_id="20261122-130000-r002-cifar100-lr")
    make_unfinished(crashed, "lr=0.05", "crashed", epoch=3)
    make_unfinished(crashed, "lr=0.5", "crashed", epoch=2)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notes(app)
            await pilot.press("r", "down")  # the runs browser, newest first: the finished one
            browser = app.screen
            assert isinstance(browser, RunsScreen)
            await pilot.press("r")
            assert app.screen is browser and "nothing to resume" in notes[-1][0]
            await pilot.press("up", "r")
            assert "Resume 2 run(s) of 20261122-130000-r002" in app.screen.question
            await pilot.press("y")
            await pilot.pause()
            assert resumes == [(crashed, runs_dir, None)]
            assert isinstance(app.screen, MonitorScreen)
            assert app.screen.follower.paths.id == crashed.name
            await pilot.press("escape")
            assert app.screen is browser
        assert not (finished / "lr=0.5" / "checkpoints").exists()

    run(scenario())


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
            assert monitor.replay.paused and "replay epoch 1/15" in str(title.render())
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
            assert monitor.replay.speed == 16.0
            await wait_for(pilot, lambda: monitor.replay.epoch is None, timeout=60)
            assert len(loss.series[0][1]) == 15 and cell(runs, 0, 1) == "completed"

    run(scenario())


def test_a_resumed_run_before_its_first_epoch_shows_no_best_val_acc_in_the_browser_and_monitor(
    runs_dir,
):
    from tests.helpers import resumed_before_first_epoch
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir, learning_rates=(0.5,))
    resumed_before_first_epoch(study, "lr=0.5")

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(RunsScreen(runs_dir))
            await pilot.pause()
            studies = app.screen.query_one("#studies", DataTable)
            assert [cell(studies, 0, i) for i in (2, 4, 5)] == ["running", "-", "-"]
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            runs = app.screen.query_one("#runs", DataTable)
            assert [cell(runs, 0, i) for i in (0, 1, 3, 4)] == ["lr=0.5", "running", "-", "-"]
        assert cell(runs, 0, 2).startswith("0/15")  # and the progress inside epoch 1

    run(scenario())


def test_study_rows_take_best_val_and_test_acc_from_the_same_run_and_name_it(runs_dir):
    from tui_trainer.store.atomic import read_toml, write_toml_atomic
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir)  # best val acc: lr=0.01 0.5640, test acc 0.5540
    for name in ("summary.toml", "status.toml"):  # a worse run with a better test acc
        path = study / "lr=0.5" / name
        write_toml_atomic(path, {**read_toml(path), "test_acc": 0.6})

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("r")
            studies = app.screen.query_one("#studies", DataTable)
            assert [cell(studies, 0, i) for i in (4, 5)] == ["0.5640 (lr=0.01)", "0.5540"]

    run(scenario())


def test_esc_in_the_filter_clears_it_a_second_esc_leaves_and_no_match_is_said(runs_dir):
    fake_study(runs_dir, "20260101-000000-alpha", ["run"])
    fake_study(runs_dir, "20260102-000000-beta", ["run"])

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            presets = app.screen
            await pilot.press("r", "slash", *"xyz")
            browser = app.screen
            table = browser.query_one("#studies", DataTable)
            empty = browser.query_one("#no-match", Static)
            assert table.row_count == 0
            assert empty.display and str(empty.render()) == 'no study matches "xyz"'
            await pilot.press("escape")  # clears the filter, out of the input, still here
            assert app.screen is browser and browser.query_one("#filter", Input).value == ""
            assert table.has_focus and table.row_count == 2 and not empty.display
            await pilot.press("slash", *"bet", "enter", "escape")  # from the table too
            assert app.screen is browser and table.row_count == 2
            await pilot.press("escape")
            assert app.screen is presets

    run(scenario())


def test_the_browser_pressed_at_once_reads_the_studies_alone_and_every_study_is_read_three_times(
    runs_dir, monkeypatch
):
    """`r` the moment the first screen shows, while the start-up workers (the presets' time
    estimates, the search for a running study) are inside their first of 60 studies: while
    the browser reads the 60 (and draws them), no worker begins one (with 500 studies read
    beside them the browser took 2 s, instead of 0.5); then they go on. Each study is read
    once by each of the three: 180 reads (there were 240: the estimates were read twice as the
    first screen showed)."""
    import socket
    import threading

    from textual.worker import NoActiveWorker, get_current_worker

    from tui_trainer.store import reader
    from tui_trainer.store.synthetic import write_many_studies
    from tui_trainer.ui.screens.presets import PresetsScreen

    count = 60
    write_many_studies(runs_dir, count, host=socket.gethostname())
    started: list[tuple[str, int, str]] = []  # (reader, its worker, study id) as one begins
    inside, released = threading.Semaphore(0), threading.Event()
    record = threading.Lock()
    read_run = reader.read_run

    def counted(study_id, *args, **kwargs):
        try:
            worker = get_current_worker()
            who, which = worker.name, id(worker)
        except NoActiveWorker:
            who, which = "browser", 0
        with record:
            first = (who, which, study_id) not in started
            if first:
                started.append((who, which, study_id))
            its_first = first and sum(entry[1] == which for entry in started) == 1
        if who == "browser":
            released.set()
        elif its_first and not released.is_set():
            inside.release()  # a worker in its first study: held there until the browser reads
            released.wait(30)
        return read_run(study_id, *args, **kwargs)

    monkeypatch.setattr(reader, "read_run", counted)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            presets = app.screen
            assert isinstance(presets, PresetsScreen)
            for _ in range(2):
                assert inside.acquire(timeout=30)
            await pilot.press("r")
            assert app.screen.query_one("#studies", DataTable).row_count == count
            readers = [who for who, *_ in started]
            first, last = readers.index("browser"), len(readers) - readers[::-1].index("browser")
            assert readers[first:last] == ["browser"] * count
            await pilot.press("escape")
            await wait_for(pilot, lambda: presets.timings is not None, timeout=30)
            await app.workers.wait_for_complete()
        assert len({(who, which) for who, which, _ in started}) == 3  # one worker each
        assert sorted(who for who, _, _ in started) == sorted(
            ["browser", "looking for a running study", "time estimates"] * count
        )
        assert len(presets.timings) == 2  # the generated studies' two setups

    run(scenario())
