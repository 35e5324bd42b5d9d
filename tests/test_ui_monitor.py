"""The monitor (Pilot) on real and synthetic studies: stop, reattach, focus/hide/metric, resume from
the monitor, a resumed trainer followed, and parallel studies run by run."""

from __future__ import annotations

import re

import pytest
from textual.widgets import DataTable, Log, Static

from tests.helpers import TINY_PRESET, record_notes
from tests.ui_pilot import SIZE, cell, run, title_of, wait_for
from tui_trainer.launch import trainer_pid
from tui_trainer.store.clock import utc_now
from tui_trainer.store.reader import list_studies
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.monitor import MonitorScreen
from tui_trainer.ui.widgets.charts import MetricChart


@pytest.mark.process
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


def test_a_running_study_is_opened_again_at_start(runs_dir):
    """A study left running (this process stands for its trainer: alive, its heartbeat fresh),
    beside an older finished one: the app opens the running one's monitor as it starts."""
    from tests.helpers import resumed_before_first_epoch
    from tui_trainer.store.synthetic import write_synthetic_study

    write_synthetic_study(runs_dir, "20261121-120000-r001-cifar100-lr", epochs=3)
    study = write_synthetic_study(runs_dir, learning_rates=(0.05, 0.5), epochs=3)
    resumed_before_first_epoch(study, "lr=0.5")
    assert [s.state for s in list_studies(runs_dir)] == ["running", "completed"]

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
            assert app.screen.follower.paths.root == study

    run(scenario())


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
            assert second.title == "validation top-5 accuracy" and labels(second) == [
                "lr=0.05 val_top5",
                "lr=0.5 val_top5",
            ]
            third = monitor.query_one("#chart-lr", MetricChart)
            await pilot.press("n")  # lr -> epoch_time_s
            await pilot.pause(0.3)
            assert third.title == "epoch time (s)"
            assert labels(third) == ["lr=0.05 epoch_time_s", "lr=0.5 epoch_time_s"]

    run(scenario())


@pytest.mark.parametrize("state", ["crashed", "interrupted"])
def test_monitor_offers_resume_asks_then_resumes_and_stays(runs_dir, resumes, state):
    from tests.helpers import make_unfinished
    from tui_trainer.store.synthetic import write_synthetic_study
    from tui_trainer.ui.widgets.confirm import Confirm

    study = write_synthetic_study(runs_dir)
    make_unfinished(study, "lr=0.5", state, epoch=7)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notes(app)
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            monitor = app.screen
            assert f"{state}  r resumes" in title_of(monitor)
            runs = monitor.query_one("#runs", DataTable)
            assert cell(runs, 2, 1) == state and cell(runs, 2, 2) == "7/15"
            await pilot.press("r")
            assert isinstance(app.screen, Confirm)
            assert app.screen.question == (
                f"Resume 1 run(s) of {study.name} from their last checkpoints?\nlr=0.5"
            )
            await pilot.press("n")  # changed my mind
            assert app.screen is monitor and resumes == []
            resumes.alive = True  # the resumed trainer is still starting
            await pilot.press("r", "y")
            await pilot.pause()
            assert resumes == [(study, runs_dir, None)]
            assert app.screen is monitor  # already the monitor of that study: stays
            assert (f"resuming {study.name} (pid 4242)", "information") in notes
            await pilot.press("r")  # again, before the new trainer wrote anything: refused
            assert app.screen is monitor and len(resumes) == 1
            assert notes[-1][0] == f"{study.name}: its trainer (pid 4242) is still running"

    run(scenario())


def test_resume_key_on_a_finished_or_live_study_says_why_and_starts_nothing(runs_dir, resumes):
    from tui_trainer.store import status as st
    from tui_trainer.store.atomic import read_toml, write_toml_atomic
    from tui_trainer.store.synthetic import write_synthetic_study

    finished = write_synthetic_study(runs_dir)
    # a resumed study between two runs: nothing running, a run queued, its trainer (us) alive
    between = write_synthetic_study(runs_dir, study_id="20261122-130000-r002-cifar100-lr")
    status = read_toml(between / "lr=0.5" / "status.toml")
    write_toml_atomic(between / "lr=0.5" / "status.toml", {**status, "state": "queued"})
    (between / "lr=0.5" / "summary.toml").unlink()
    data = read_toml(between / "study.toml")
    write_toml_atomic(between / "study.toml", {**data, "resumes": [st.process_identity()]})

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notes(app)
            await app.push_screen(MonitorScreen(finished))
            await pilot.pause(0.3)
            assert "r resumes" not in title_of(app.screen)
            await pilot.press("r")
            assert isinstance(app.screen, MonitorScreen)
            assert notes[-1] == (
                f"{finished.name}: nothing to resume (every run is completed or diverged)",
                "warning",
            )
            await app.push_screen(MonitorScreen(between))
            await pilot.pause(0.3)
            assert "running" in title_of(app.screen)
            await pilot.press("r")
            assert isinstance(app.screen, MonitorScreen)
            assert "the study is still running" in notes[-1][0]
            app.resume_study(between)  # the app checks too, whoever asks
            assert "the study is still running" in notes[-1][0]
            assert notes[-1][1] == "error"
        assert resumes == []

    run(scenario())


def test_the_monitor_follows_a_resumed_trainer(runs_dir):
    """The files as a resumed trainer changes them: study.toml gains the new trainer, metrics.csv
    is replaced by a cut copy (rows after the checkpoint dropped), the run reads running again,
    a run waits queued between two runs, then the rows grow and the run completes."""
    from tests.helpers import dead_trainer, make_unfinished
    from tui_trainer.store import status as st
    from tui_trainer.store.atomic import read_toml, write_toml_atomic
    from tui_trainer.store.csvlog import cut_rows_after
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir, epochs=15)
    data = read_toml(study / "study.toml")
    data["launch"].update(dead_trainer())  # launched here; that trainer is gone
    write_toml_atomic(study / "study.toml", data)
    run_dir = study / "lr=0.5"
    every_row = (run_dir / "metrics.csv").read_bytes().split(b"\n")  # header, epochs 1..15
    make_unfinished(study, "lr=0.5", "interrupted", epoch=7)
    metrics = run_dir / "metrics.csv"

    def write_status(**fields):
        status = read_toml(run_dir / "status.toml")
        status.update(fields)
        write_toml_atomic(run_dir / "status.toml", status)

    def running(epoch):
        write_status(state="running", epoch=epoch, heartbeat=utc_now(), **st.process_identity())

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notes(app)
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            monitor = app.screen
            runs = monitor.query_one("#runs", DataTable)
            loss = monitor.query_one("#chart-loss", MetricChart)
            epochs = lambda: list(loss.series[4][1])  # noqa: E731  (lr=0.5 train)
            assert "interrupted  r resumes" in title_of(monitor) and len(epochs()) == 7
            assert notes == []  # opened interrupted: the title offers it, no toast

            # the resume: the new trainer in study.toml, rows after its checkpoint cut
            write_toml_atomic(study / "study.toml", {**data, "resumes": [st.process_identity()]})
            inode = metrics.stat().st_ino
            cut_rows_after(metrics, "epoch", 5)
            assert metrics.stat().st_ino != inode  # replaced, not truncated in place
            running(5)
            await wait_for(pilot, lambda: cell(runs, 2, 1) == "running", timeout=20)
            await wait_for(pilot, lambda: len(epochs()) == 5, timeout=20)
            assert epochs() == [1.0, 2.0, 3.0, 4.0, 5.0]
            assert "running" in title_of(monitor) and "r resumes" not in title_of(monitor)

            # between two runs of the resumed trainer: nothing running, a run queued
            write_status(state="queued")
            await wait_for(pilot, lambda: cell(runs, 2, 1) == "queued", timeout=20)
            await pilot.pause(0.3)
            assert monitor.current_state() == "running" and "running" in title_of(monitor)

            # stopped again while watched: a toast offers r
            write_status(state="interrupted")
            await wait_for(pilot, lambda: "interrupted" in title_of(monitor), timeout=20)
            assert notes[-1] == (
                f"{study.name} interrupted: press r to resume it from its last checkpoints",
                "warning",
            )

            # resumed once more: the rows grow in place, then the run completes
            running(5)
            with open(metrics, "ab") as handle:
                handle.write(b"\n".join(every_row[6:16]) + b"\n")
            await wait_for(pilot, lambda: len(epochs()) == 15, timeout=20)
            write_status(state="completed", epoch=15)
            await wait_for(pilot, lambda: cell(runs, 2, 1) == "completed", timeout=20)
            assert epochs() == [float(e) for e in range(1, 16)]
            assert "completed" in title_of(monitor) and "r resumes" not in title_of(monitor)

    run(scenario())


@pytest.mark.process
@pytest.mark.slow
def test_resume_from_the_monitor_trains_a_real_interrupted_study_to_the_end(
    write_preset, runs_dir, monkeypatch
):
    import tui_trainer.launch
    from tests.helpers import interrupted_study
    from tui_trainer.store.atomic import read_toml
    from tui_trainer.store.csvlog import read_rows
    from tui_trainer.store.reader import read_study

    study = interrupted_study(write_preset(TINY_PRESET), runs_dir)
    assert [row["epoch"] for row in read_rows(study / "run" / "metrics.csv")] == [1]
    started = []
    real_resume = tui_trainer.launch.resume

    def resume(*args, **kwargs):
        started.append(real_resume(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr("tui_trainer.launch.resume", resume)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            monitor = app.screen
            assert "interrupted  r resumes" in title_of(monitor)
            await pilot.press("r", "y")
            runs = monitor.query_one("#runs", DataTable)
            await wait_for(pilot, lambda: cell(runs, 0, 1) == "completed", timeout=120)
            assert app.screen is monitor and cell(runs, 0, 2) == "2/2"
            loss = monitor.query_one("#chart-loss", MetricChart)
            assert list(loss.series[0][1]) == [1.0, 2.0]
            log = monitor.query_one("#log")
            await wait_for(pilot, lambda: any("study finished" in line for line in log.lines))

    run(scenario())
    (launched,) = started
    assert launched.process.wait(timeout=60) == 0
    (run_record,) = read_study(study).runs
    assert run_record.state == "completed"
    assert [row["epoch"] for row in read_rows(study / "run" / "metrics.csv")] == [1, 2]
    (resumed,) = read_toml(study / "study.toml")["resumes"]
    assert resumed["pid"] == launched.pid and resumed["runs"] == ["run"]
    assert resumed["command"][1:] == [
        *("resume", str(study.absolute()), "--runs-dir", str(runs_dir), "--plain", "--detached")
    ]
    assert "run completed" in (study / "trainer.log").read_text()


A100 = "NVIDIA A100-SXM4-80GB"  # the other host's GPU in tests.helpers.parallel_study


def test_the_monitor_follows_a_parallel_study_run_by_run(runs_dir):
    """Runs on this machine's GPU 0 (two per GPU) and on another host's GPU 1 (a second
    attempt), queued runs that say what they wait for, a block per host in the device panel,
    an ETA from three lanes, and each run's worker.log behind w, followed live."""
    from tests.helpers import WAITING, parallel_study
    from tui_trainer.store import status as st
    from tui_trainer.store.schema import read_status, write_status
    from tui_trainer.ui.widgets.log_pane import LogPane

    study = parallel_study(runs_dir)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause(0.3)
            monitor = app.screen  # opened by itself: the study is running
            assert isinstance(monitor, MonitorScreen)
            runs = monitor.query_one("#runs", DataTable)
            text = lambda selector: str(monitor.query_one(selector).render())  # noqa: E731
            assert [cell(runs, row, 8) for row in range(6)] == [
                *["GPU 0 (2/GPU)"] * 3,
                "GPU 1 @gpu-b try 2",
                "",
                "",
            ]
            assert [cell(runs, row, 5) for row in range(6)] == ["", "1:00", "1:10", "1:20", "", ""]
            assert text("#study-eta") == "31%  ETA 2:50"  # 3 lanes: 70 s + 10 epochs x 10 s
            assert text("#device").splitlines() == [
                "this machine  NVIDIA H200",
                " GPU 0  91%  30.0/140.4 GiB",
                " machine CPU 55%  RAM 20%",
                " 2 runs:  195% of a core  RSS 4.2 GiB",
                "gpu-b  NVIDIA A100-SXM4-80GB",
                " GPU 1  64%  10.0/80.0 GiB",
                " machine CPU 30%  RAM 12%",
                " 1 run:  101% of a core  RSS 2.0 GiB",
            ]
            assert text("#run-line").splitlines() == [
                "lr=0.01 completed on GPU 0 (shared by 2 runs)",
                "best 0.6200 · elapsed 1:40",
            ]
            await pilot.press("down", "down", "down", "down")
            assert text("#run-line") == f"lr=0.2 queued: {WAITING}"
            await pilot.press("up")
            assert text("#run-line").splitlines()[0] == (
                "lr=0.1 running on GPU 1 of gpu-b, pid 4242, attempt 2"
            )

            # w: the highlighted run's worker.log, followed line by line, as plain text
            pane = monitor.query_one(LogPane)
            worker = monitor.query_one("#worker-log", Log)
            trainer = monitor.query_one("#log", Log)
            await pilot.press("w")
            await pilot.pause(0.3)
            assert worker.display and not trainer.display
            assert pane.border_title == "worker.log of lr=0.1"
            assert worker.lines == ["2026-12-01 09:00:05 lr=0.1 started: 10 epochs on " + A100]
            log = study / "lr=0.1" / "worker.log"
            with open(log, "a") as handle:
                handle.write("epoch 3 [bold]done[/bold] \x1b]0;owned\x07\nhalf a li")
            await wait_for(pilot, lambda: len(worker.lines) == 2, timeout=10)
            assert worker.lines[1] == "epoch 3 [bold]done[/bold] \\x1b]0;owned\\x07"
            with open(log, "a") as handle:
                handle.write("ne\n")
            await wait_for(pilot, lambda: len(worker.lines) == 3, timeout=10)
            assert worker.lines[2] == "half a line"

            await pilot.press("down")  # lr=0.2 has not started: no worker.log yet
            await pilot.pause(0.3)
            assert pane.border_title == "worker.log of lr=0.2"
            assert worker.lines[0].startswith("no worker.log for lr=0.2 yet")
            (study / "lr=0.2" / "worker.log").write_text("lr=0.2 started\n")
            await wait_for(pilot, lambda: worker.lines == ["lr=0.2 started"], timeout=10)

            # the files change: a run completes, the ETA and the device panel follow
            status = read_status(study / "lr=0.02" / "status.toml")
            status.state, status.epoch, status.elapsed_s = st.COMPLETED, 10, 100.0
            write_status(study / "lr=0.02" / "status.toml", status)
            with open(study / "trainer.log", "a") as handle:
                handle.write("lr=0.02 completed\n")
            await wait_for(pilot, lambda: text("#study-eta") == "41%  ETA 3:00", timeout=10)
            assert " 1 run:  97% of a core  RSS 2.1 GiB" in text("#device").splitlines()

            await pilot.press("w")  # back to trainer.log, which went on meanwhile
            await pilot.pause(0.3)
            assert trainer.display and not worker.display and pane.border_title == "trainer.log"
            assert trainer.lines[-1] == "lr=0.02 completed"

    run(scenario())


def test_a_parallel_study_fits_80_by_24_with_its_run_line_and_log(runs_dir):
    from tests.helpers import WAITING, parallel_study

    parallel_study(runs_dir)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.3)
            monitor = app.screen
            assert isinstance(monitor, MonitorScreen) and monitor.has_class("-short")
            assert not monitor.query_one("#chart-lr").display  # two charts, not four
            await pilot.press("down", "down", "down", "down")
            await pilot.pause(0.1)
            line = monitor.query_one("#run-line", Static)
            assert str(line.render()).replace("\n", " ") == f"lr=0.2 queued: {WAITING}"
            for selector in ("#run-line", "#log-pane", "#study-eta"):
                region = monitor.query_one(selector).region
                assert region.height > 0 and region.bottom <= 23, selector  # above the footer
            await pilot.resize_terminal(120, 40)
            await pilot.pause(0.1)
            assert not monitor.has_class("-short") and monitor.query_one("#chart-lr").display

    run(scenario())


def test_the_runs_table_widens_for_runs_and_places_that_come_later(runs_dir, tmp_path):
    """A monitor opened as its study starts has no run names yet, and a run's 'where' is empty
    until a worker takes it: the columns grow to what comes, never cut 'lr=0.05' to 'lr='."""
    import dataclasses
    import shutil

    from tests.helpers import parallel_study
    from tui_trainer.store.schema import read_status, write_status

    study = runs_dir / "20261201-090000-parallel"
    study.mkdir(parents=True)  # being set up: no study.toml, no runs

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            monitor = app.screen
            runs = monitor.query_one("#runs", DataTable)
            for item in parallel_study(tmp_path / "written").iterdir():
                shutil.move(item, study / item.name)
            await wait_for(pilot, lambda: runs.row_count == 6, timeout=10)
            path = study / "lr=0.5" / "status.toml"
            moved = dataclasses.replace(read_status(path), host="gpu-c", gpu="3", attempt=3)
            write_status(path, dataclasses.replace(moved, gpu_share=4, device="cuda"))
            where = "GPU 3 (4/GPU) @gpu-c try 3"
            await wait_for(pilot, lambda: cell(runs, 5, 8) == where, timeout=10)
            await pilot.pause(0.1)
            widths = {str(key.value): column.content_width for key, column in runs.columns.items()}
            assert widths["run"] == len("lr=0.01") and widths["where"] == len(where)

    run(scenario())


def table_text(table: DataTable) -> list[str]:
    """The runs table as drawn, a line per row (header first), trailing spaces dropped."""
    return [table.render_line(y).text.rstrip() for y in range(table.row_count + 1)]


def test_run_names_are_drawn_whole_when_the_runs_appear_after_the_monitor_opened(
    runs_dir, tmp_path
):
    """Bug 1 (issue 14): launched from the app, the monitor opens before the trainer (still
    importing torch) has written study.toml or any run; the name column was sized then, to its
    header, and drew 'lr=0.05' as 'lr='. The runs come later here, as they do after a launch."""
    import shutil

    from tui_trainer.store.synthetic import write_synthetic_study

    study = runs_dir / "20261122-120000-r001-cifar100-lr"
    study.mkdir(parents=True)  # reserved by the app: nothing written yet

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            runs = app.screen.query_one("#runs", DataTable)
            for item in write_synthetic_study(tmp_path / "written").iterdir():
                shutil.move(item, study / item.name)
            await wait_for(pilot, lambda: runs.row_count == 3, timeout=10)
            await pilot.pause(0.3)
            names = [re.findall(r"lr=\S*", line)[0] for line in table_text(runs)[1:]]
            assert names == ["lr=0.01", "lr=0.05", "lr=0.5"]

    run(scenario())


def screen_lines(app) -> list[str]:
    """The whole terminal as text, a line per row (Textual's compositor: what a terminal gets)."""
    update = app.screen._compositor.render_full_update()
    return ["".join(segment.text for segment in strip) for strip in update.strips]


def test_at_80_by_24_the_title_its_figures_the_eta_column_and_the_footer_are_whole(runs_dir):
    from tests.helpers import parallel_study

    parallel_study(runs_dir)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.5)
            app.clear_notifications()
            await pilot.pause(0.2)
            lines = screen_lines(app)
            assert lines[1].startswith(" 20261201-090000-parallel  running  ━")
            assert lines[1].endswith(" 31%  ETA 2:50 ")  # '100%' once read '10'
            runs = app.screen.query_one("#runs", DataTable)
            shown = [line.rstrip() for line in lines[runs.region.y : runs.region.y + 4]]
            assert shown[0].split()[:8] == [
                "run",
                "state",
                "epoch",
                "best",
                "val",
                "test",
                "acc",
                "ETA",
            ]
            eta = shown[0].index("ETA")
            assert [line[eta : eta + 4] for line in shown[1:]] == ["    ", "1:00", "1:10"]
            footer = " s Stop  r Resume  z Zoom  p Replay  i Inspect  q Quit  ? Help"
            assert lines[23].startswith(footer) and lines[23].endswith("^p palette ")
            log = app.screen.query_one("#log", Log)
            assert log.region.height >= 4 and log.region.bottom <= 23

    run(scenario())


def test_a_run_is_starting_then_shows_its_step_progress_speed_and_an_eta_from_its_first_steps(
    runs_dir,
):
    """Point 6: no `unknown`/`queued` while the trainer loads, and no ETA of '-' for a whole
    first epoch: the steps logged give the pace (0.2 s a step: 790 steps left is 2:38)."""
    from tui_trainer.store import status as st
    from tui_trainer.store.atomic import write_toml_atomic
    from tui_trainer.store.schema import STEP_COLUMNS
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir)
    run_dir = study / "lr=0.5"
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    (run_dir / "metrics.csv").write_text(header + "\n")
    (run_dir / "steps.csv").write_text(",".join(STEP_COLUMNS) + "\n")
    (run_dir / "summary.toml").unlink()

    def status(**fields):
        base = {"state": "running", "epochs": 40, "steps_per_epoch": 20, "epoch": 0, "step": 0}
        identity = {**st.process_identity(), "heartbeat": utc_now()}
        write_toml_atomic(run_dir / "status.toml", {**base, **identity, **fields})

    def steps(*rows):
        with open(run_dir / "steps.csv", "a") as handle:
            handle.writelines(f"{e},{s},2.0,0.1,0.5,4210.0,90.0,{t}\n" for e, s, t in rows)

    async def scenario():
        status()
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            monitor = app.screen
            assert isinstance(monitor, MonitorScreen)  # opened by itself: it is live
            runs = monitor.query_one("#runs", DataTable)
            assert cell(runs, 2, 1) == "starting" and "  starting" in title_of(monitor)
            status(step=10, images_per_s=4210.0)
            steps((1, 5, 1.0), (1, 10, 2.0))
            await wait_for(pilot, lambda: cell(runs, 2, 1) == "running", timeout=10)
            await pilot.pause(0.3)
            assert [cell(runs, 2, column) for column in (2, 5, 7)] == ["0/40 50%", "2:38", "4210"]
            await pilot.press("down", "down")
            line = str(monitor.query_one("#run-line", Static).render()).splitlines()
            assert line[1] == "step 10/20 4210 img/s · train loss 2.0000 acc - · lr 0.5"
            # epoch 1 ended (the trainer's ETA: 100 s), 1 s of epoch 2 gone by since
            status(epoch=1, step=4, eta_s=100.0, elapsed_s=5.0, images_per_s=4210.0)
            steps((2, 24, 6.0))
            await wait_for(pilot, lambda: cell(runs, 2, 5) == "1:39", timeout=10)
            assert cell(runs, 2, 2) == "1/40 20%"

    run(scenario())


def test_focus_and_hide_are_marked_in_the_table_and_the_title(runs_dir):
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            monitor = app.screen
            runs = monitor.query_one("#runs", DataTable)
            labels = lambda: [line[:4] for line in table_text(runs)[1:]]  # noqa: E731
            assert labels() == [" •  ", " +  ", " x  "]
            await pilot.press("down", "f")
            await pilot.pause(0.2)
            assert labels() == [" •  ", " +> ", " x  "] and runs.cursor_row == 1
            assert title_of(monitor).endswith("completed  focus lr=0.05")
            await pilot.press("f", "h", "down", "h")
            await pilot.pause(0.2)
            assert labels() == [" •  ", " +- ", " x- "]
            assert title_of(monitor).endswith("completed  2 hidden")

    run(scenario())


def test_the_device_panel_says_its_figures_are_from_a_finished_trainer(runs_dir):
    from datetime import datetime

    from tui_trainer.store.atomic import read_toml, write_toml_atomic
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir)
    path = study / "lr=0.5" / "status.toml"
    beat = datetime(2026, 11, 22, 12, 3).astimezone()
    write_toml_atomic(path, {**read_toml(path), "heartbeat": beat})

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            device = app.screen.query_one("#device")
            assert str(device.render()).splitlines()[:2] == [
                "trainer finished,",
                "  last seen 12:03",
            ]

    run(scenario())


def test_device_figures_wrap_between_figures_never_inside_one():
    from tui_trainer.ui.widgets.device_panel import wrap_tokens

    tokens = ("2 runs:", "195% of a core", "RSS 1013.0 MB")
    assert wrap_tokens(tokens, 40, " ") == [" 2 runs:  195% of a core  RSS 1013.0 MB"]
    assert wrap_tokens(tokens, 30, " ") == [" 2 runs:  195% of a core", "   RSS 1013.0 MB"]
    assert wrap_tokens(tokens, 12, " ") == [" 2 runs:", "   195% of a", "   RSS 1013."]


def test_log_lines_wrap_at_spaces_and_keep_each_figure_whole():
    from tui_trainer.ui.widgets.log_pane import wrap_line

    line = "2026-12-01 09:00:05 lr=0.1 epoch 3/10 train loss 1.2345 val acc 0.6120"
    assert wrap_line(line, 40) == [
        "2026-12-01 09:00:05 lr=0.1 epoch 3/10",
        "  train loss 1.2345 val acc 0.6120",
    ]
    assert wrap_line(line, 200) == [line]


def test_z_maximises_a_chart_and_z_or_escape_restores_it(runs_dir):
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            monitor = app.screen
            await pilot.press("z")
            assert monitor.maximized is monitor.query_one("#chart-loss")
            await pilot.press("z")
            assert monitor.maximized is None
            await pilot.press("z", "escape")
            assert monitor.maximized is None and app.screen is monitor

    run(scenario())


def test_the_bell_rings_once_when_a_watched_study_ends_only_when_switched_on(runs_dir, monkeypatch):
    from tui_trainer.store import status as st
    from tui_trainer.store.atomic import read_toml, write_toml_atomic
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir)
    path = study / "lr=0.5" / "status.toml"
    finished = read_toml(path)
    write_toml_atomic(
        path, {**finished, "state": "running", **st.process_identity(), "heartbeat": utc_now()}
    )
    monkeypatch.setattr(MonitorScreen, "bell_on_end", False)

    async def scenario():
        app = create_app(runs_dir)
        rings = []
        app.bell = lambda: rings.append(1)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            monitor = app.screen
            assert isinstance(monitor, MonitorScreen)
            await pilot.press("b")  # off by default: on
            assert MonitorScreen.bell_on_end
            write_toml_atomic(path, finished)
            await wait_for(pilot, lambda: "completed" in title_of(monitor), timeout=10)
            await pilot.pause(0.3)
        assert rings == [1]

    run(scenario())


def test_the_device_panel_names_the_machines_cpu_and_gives_each_runs_thread_share():
    """Two CPU workers of `--jobs 2`, each training with one of the machine's threads: the
    machine is not a one-thread machine."""
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from tui_trainer.store.schema import DeviceFigures, RunStatus
    from tui_trainer.ui.widgets.device_panel import device_text

    figures = DeviceFigures(cpu_percent=90.0, ram_percent=20.0, process_cpu_percent=99.0)
    beat = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)

    def worker() -> SimpleNamespace:
        status = RunStatus(
            state="running", device="cpu", device_name="Xeon (1 thread)", heartbeat=beat,
            device_figures=figures, host="box",
        )  # fmt: skip
        return SimpleNamespace(state="running", status=status)

    assert str(device_text([worker(), worker()], here="box")).splitlines() == [
        "this machine  Xeon",
        " machine CPU 90%  RAM 20%",
        " 2 runs:  1 thread each  198% of a core  RSS - GiB",
    ]
    assert str(device_text([worker()], here="box")).splitlines()[2] == (
        " 1 run:  1 thread  99% of a core  RSS - GiB"
    )
