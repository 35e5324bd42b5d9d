"""The inspect screen (Pilot) on a synthetic study whose run `lr=0.05` has a made-up test split
(store/synthetic_test_split.py): `i` from the monitor, the heatmap in percentages and counts,
the per-class table sorted, the sample tiles, the activation maps computed by a stand-in for
`tui-trainer backfill` (a script printing progress lines), and the runs without these files;
hostile run files (a FIFO or a decompression bomb as samples.png, counts no reader can print)
are said on the screen while every key still works."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from tests.helpers import fake_study, make_fifo, within
from tests.test_per_class import huge_counts_matrix
from tests.test_sheet_png import bomb_png
from tests.ui_pilot import SIZE, run, wait_for
from tui_trainer.store.synthetic import write_synthetic_study
from tui_trainer.store.synthetic_test_split import write_synthetic_test_split
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.inspect import InspectScreen
from tui_trainer.ui.screens.monitor import MonitorScreen
from tui_trainer.ui.widgets.confusion_heatmap import ConfusionHeatmap
from tui_trainer.ui.widgets.sample_tiles import SampleSheet

RUN = "lr=0.05"  # the second row of the synthetic study's runs table


@pytest.fixture
def study(runs_dir):
    return write_synthetic_study(runs_dir)


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def cell(heatmap: ConfusionHeatmap, row: int, column: int) -> str:
    """A cell as drawn on the screen (the whole 10-class matrix is in view)."""
    start = heatmap.label_width + column * heatmap.cell_width
    drawn = heatmap.render_line(1 + row).text[start : start + heatmap.cell_width].strip()
    assert drawn == heatmap.cell_text(row, column)
    return drawn


def table_cell(table: DataTable, row: int, column: int) -> str:
    return str(table.get_cell_at((row, column)))


def shape(heatmap: ConfusionHeatmap) -> tuple[int, int]:
    """(rows, columns) of the matrix shown, an empty one before it is read."""
    matrix = heatmap.matrix
    return (len(matrix.counts), len(matrix.classes)) if matrix else (0, 0)


async def open_inspect(pilot, study: Path) -> InspectScreen:
    await pilot.app.push_screen(MonitorScreen(study))
    await pilot.pause(0.3)
    await pilot.press("down", "i")  # the second run: lr=0.05
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, InspectScreen), 10)
    await wait_for(pilot, lambda: not pilot.app.screen.busy, 10)  # read in workers
    return pilot.app.screen


def test_i_on_a_run_shows_its_matrix_by_share_and_counts_and_its_worst_pairs(study, runs_dir):
    write_synthetic_test_split(study / RUN)

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            assert screen.paths.root == study / RUN
            assert text_of(screen, "#inspect-title") == (
                "20261122-120000-r001-cifar100-lr/lr=0.05  10 classes, 10000 test images, "
                "9275 right (92.75%)"
            )
            heatmap = screen.query_one("#heatmap", ConfusionHeatmap)
            assert shape(heatmap) == (10, 10)
            # cat: 809 right, 3 taken for a deer (not none, but under 1%), 160 for a dog
            assert [cell(heatmap, 3, c) for c in (3, 4, 5)] == ["[81]", "<1", "16"]
            assert cell(heatmap, 0, 3) == "·"  # none: a dot, not a 0
            assert text_of(screen, "#worst-pairs").startswith(
                "most confused: cat→dog 16% (160)  dog→cat 11% (110)  bird→deer 6% (60)"
            )
            await pilot.press("down", "down", "down", *["right"] * 5)  # cat, predicted dog
            await pilot.pause()
            assert text_of(screen, "#cell-words") == "cat → dog: 160 of 1000 images (16%)"
            await pilot.press("c")
            await pilot.pause()
            assert [cell(heatmap, 3, c) for c in (3, 4, 5)] == ["[809]", "3", "160"]

    run(scenario())


def test_a_click_on_a_cell_moves_the_cursor_there_and_says_it(study, runs_dir):
    write_synthetic_test_split(study / RUN)

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            heatmap = screen.query_one("#heatmap", ConfusionHeatmap)
            x = heatmap.label_width + 5 * heatmap.cell_width + 2  # inside column 5 (dog)
            await pilot.click("#heatmap", offset=(x, 1 + 3))  # the header, then cat's row
            await pilot.pause()
            assert heatmap.cursor == (3, 5)
            assert text_of(screen, "#cell-words") == "cat → dog: 160 of 1000 images (16%)"
            await pilot.click("#heatmap", offset=(2, 0))  # the corner: no cell, no move
            assert heatmap.cursor == (3, 5)

    run(scenario())


def test_s_sorts_the_per_class_table_by_each_figure_worst_first(study, runs_dir):
    write_synthetic_test_split(study / RUN)

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            table = screen.query_one("#class-table", DataTable)
            await pilot.press("2")
            assert [table_cell(table, 0, c) for c in range(5)] == [
                " 0 airplane",
                "0.9618",
                "0.9310",
                "0.9461",
                "1000",
            ]
            await pilot.press("s", "s", "s")  # precision, recall, f1
            await pilot.pause()
            labels = [str(column.label) for column in table.ordered_columns]
            assert labels == ["class", "precision", "recall", "f1 ▲", "support"]
            assert [table_cell(table, row, 0) for row in range(3)] == [
                " 3 cat",
                " 5 dog",
                " 4 deer",
            ]
            assert table_cell(table, 0, 3) == "0.8375"

    run(scenario())


def test_the_samples_tab_draws_each_tile_with_its_classes_and_probability(study, runs_dir):
    write_synthetic_test_split(study / RUN)

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            await pilot.press("3")
            sheet = screen.query_one(SampleSheet)
            await wait_for(pilot, lambda: len(sheet.view.drawn) == 16, 10)  # drawn in a worker
            shown = sheet.render().plain
            assert shown.startswith("12 mistakes, then 4 right\n")
            assert "cat→dog ✗" in shown and "p 0.55 #100" in shown
            assert "airplane ✓" in shown and "p 0.83 #137" in shown
            assert len(sheet.view.drawn) == 16 and len(sheet.view.drawn[0]) == 8
            await pilot.press("a")  # samples_cam.png is there: no backfill
            assert screen.showing_cam
            cam_words = "12 mistakes, then 4 right: their activation"
            await wait_for(pilot, lambda: sheet.render().plain.startswith(cam_words), 10)

    run(scenario())


BACKFILL = """\
import pathlib, shutil, sys, time
run = pathlib.Path(sys.argv[1])
assert sys.argv[2] == "--cam"
print("cam 1/2", flush=True)
while not (run / "go").exists():
    time.sleep(0.05)
print("cam 2/2", flush=True)
shutil.copy(run / "samples.png", run / "samples_cam.png")
"""


@pytest.mark.process
def test_missing_activation_maps_are_computed_by_backfill_with_its_progress_shown(
    study, runs_dir, tmp_path, monkeypatch
):
    write_synthetic_test_split(study / RUN, cam=False)
    script = tmp_path / "backfill.py"
    script.write_text(BACKFILL)
    monkeypatch.setattr("tui_trainer.ui.cam_backfill.BACKFILL_COMMAND", [sys.executable, script])

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            await pilot.press("a")
            await wait_for(
                pilot,
                lambda: (
                    text_of(screen, "#cam-status") == "computing activation maps: cam 1/2 (50%)"
                ),
                30,
            )
            assert not screen.showing_cam
            (study / RUN / "go").touch()
            await wait_for(pilot, lambda: screen.showing_cam, 30)
            assert (study / RUN / "samples_cam.png").exists()
            status = screen.query_one("#cam-status")
            await wait_for(pilot, lambda: not status.display, 10)  # drawn in a worker
            assert screen.query_one(SampleSheet).view.note.endswith(
                "their activation maps (a: the images)"
            )

    run(scenario())


@pytest.mark.process
def test_a_failed_backfill_shows_its_last_line_on_stderr(study, runs_dir, tmp_path, monkeypatch):
    write_synthetic_test_split(study / RUN, cam=False)
    script = tmp_path / "backfill.py"
    script.write_text("import sys\nsys.stderr.write('warming up\\nerror: no checkpoint\\n')\n")
    script.write_text(script.read_text() + "sys.exit(3)\n")
    monkeypatch.setattr("tui_trainer.ui.cam_backfill.BACKFILL_COMMAND", [sys.executable, script])

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            await pilot.press("a")
            await wait_for(
                pilot,
                lambda: (
                    text_of(screen, "#cam-status") == "activation maps failed: error: no checkpoint"
                ),
                30,
            )
            assert not screen.showing_cam

    run(scenario())


def test_a_run_not_finished_says_when_its_figures_appear_and_shows_them_then(runs_dir, monkeypatch):
    monkeypatch.setattr("tui_trainer.ui.screens.inspect.LOOK_AGAIN_S", 0.1)
    study = fake_study(runs_dir, "20260101-000000-x", ["run"], state="queued")
    finished = write_synthetic_study(runs_dir.parent / "elsewhere")

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = InspectScreen(study / "run", "20260101-000000-x")
            await pilot.app.push_screen(screen)
            await wait_for(pilot, lambda: not screen.busy, 10)
            assert text_of(screen, "#inspect-note") == (
                "This run is queued (epoch 2/2). Its confusion matrix, per-class figures and "
                "sample images appear when it ends, after its test evaluation."
            )
            write_synthetic_test_split(finished / RUN)
            shutil.copy(finished / RUN / "confusion.csv", study / "run" / "confusion.csv")
            heatmap = screen.query_one("#heatmap", ConfusionHeatmap)
            await wait_for(pilot, lambda: shape(heatmap) == (10, 10), 10)
            assert not screen.query_one("#inspect-note").display
            assert text_of(screen, "#cam-status") == (
                "No sample images yet: they appear when the run ends, after its test evaluation."
            )
            for name in ("samples.png", "samples.csv"):  # the sheet first: the CSV says it is
                shutil.copy(finished / RUN / name, study / "run" / name)
            sheet = screen.query_one(SampleSheet)
            await wait_for(pilot, lambda: len(sheet.view.drawn) == 16, 10)

    run(scenario())


def test_an_older_run_without_samples_says_backfill_writes_them(study, runs_dir):
    write_synthetic_test_split(study / RUN)
    for name in ("samples.csv", "samples.png", "samples_cam.png"):
        (study / RUN / name).unlink()

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            await pilot.press("a")
            await pilot.pause()
            assert text_of(screen, "#cam-status") == (
                "No sample images: this run is older than them. "
                f"`tui-trainer backfill {study / RUN}` writes them."
            )
            assert shape(screen.query_one("#heatmap", ConfusionHeatmap)) == (10, 10)

    run(scenario())


def test_a_matrix_of_100_classes_scrolls_both_ways_with_its_class_names_kept(runs_dir):
    from tui_trainer.store.synthetic_test_split import synthetic_confusion, write_confusion_csv

    study = fake_study(runs_dir, "20260101-000000-x", ["run"])
    names = [f"class{i}" for i in range(100)]
    write_confusion_csv(study / "run" / "confusion.csv", names, synthetic_confusion(100))

    async def scenario():
        async with create_app(runs_dir).run_test(size=(80, 24)) as pilot:
            await pilot.app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, InspectScreen), 10)
            await pilot.pause()
            screen = pilot.app.screen
            heatmap = screen.query_one("#heatmap", ConfusionHeatmap)
            assert shape(heatmap) == (100, 100)
            assert heatmap.scroll_offset == (0, 0)  # set before its layout: not scrolled
            assert heatmap.render_line(1).text.startswith(" 0 class0    [94]     ·")
            await pilot.press("end")
            heatmap.cursor = (99, 97)
            await pilot.press("right")
            await pilot.pause()
            assert heatmap.cursor == (99, 98)
            assert heatmap.scroll_x > 0 and heatmap.scroll_y > 0
            lines = [heatmap.render_line(y).text for y in range(heatmap.size.height)]
            bottom = max(y for y, line in enumerate(lines) if line.strip())
            assert lines[bottom].startswith("99 class99 ")  # the label stays at the left
            assert lines[0].split()[-2:] == ["97", "98"]  # the column numbers stay on top
            assert lines[bottom].split()[-1] == "<1"  # scrolled the least: 98 is the last shown
            assert text_of(screen, "#cell-words") == "class99 → class98: 1 of 1000 images (<1%)"
            await pilot.press("right")
            await pilot.pause()
            assert heatmap.render_line(bottom).text.split()[-2:] == ["<1", "[99]"]
            assert text_of(screen, "#cell-words") == "class99 right: 994 of 1000 images (99%)"
            await pilot.press("home")  # back to the first class, in the same column
            await pilot.pause()
            assert (heatmap.cursor, heatmap.scroll_y) == ((0, 99), 0)
            pairs = text_of(screen, "#worst-pairs")
            assert pairs.endswith(
                "class4→class7 4% (40)  class0→class11 <1% (1)  class0→class18 <1% (1)"
            )

    run(scenario())


def test_the_heatmap_labels_a_class_named_by_its_number_once_never_0_0(runs_dir):
    study = fake_study(runs_dir, "20260101-000000-x", ["run"])
    (study / "run" / "confusion.csv").write_text(
        "true\\predicted,0,1,cat\n0,5,1,0\n1,0,6,0\ncat,2,0,4\n"
    )

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            await pilot.app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, InspectScreen), 10)
            heatmap = pilot.app.screen.query_one("#heatmap", ConfusionHeatmap)
            await wait_for(pilot, lambda: shape(heatmap) == (3, 3), 10)
            labels = [heatmap.render_line(y).text[: heatmap.label_width] for y in (1, 2, 3)]
            assert labels == [" 0     ", " 1     ", " 2 cat "]

    run(scenario())


@pytest.mark.process
def test_leaving_the_screen_kills_a_backfill_still_running(study, runs_dir, tmp_path, monkeypatch):
    import os

    write_synthetic_test_split(study / RUN, cam=False)
    script = tmp_path / "backfill.py"
    pid_file = tmp_path / "pid"
    script.write_text(
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "print('cam 0/9', flush=True)\ntime.sleep(60)\n"
    )
    monkeypatch.setattr("tui_trainer.ui.cam_backfill.BACKFILL_COMMAND", [sys.executable, script])

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # killed, not reaped

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            await pilot.press("a")
            await wait_for(pilot, lambda: "cam 0/9" in text_of(screen, "#cam-status"), 30)
            pid = int(pid_file.read_text())
            await pilot.press("escape")
            assert isinstance(pilot.app.screen, MonitorScreen)
            await wait_for(pilot, lambda: gone(pid), 10)

    run(scenario())


def test_a_tile_is_drawn_as_half_blocks_top_pixel_in_front_bottom_pixel_behind():
    from PIL import Image

    from tui_trainer.ui.widgets.sample_tiles import half_blocks

    image = Image.new("RGB", (2, 2))
    image.putdata([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)])
    (line,) = half_blocks(image, cols=2, rows=1)
    assert line.plain == "▀▀"
    colours = [
        (span.style.color.triplet.hex, span.style.bgcolor.triplet.hex) for span in line.spans
    ]
    assert colours == [("#ff0000", "#0000ff"), ("#00ff00", "#ffffff")]


def unblock(fifo: Path) -> None:
    """Open `fifo` for writing and close it: a reader stuck opening it (the app's UI thread, in
    a regression) goes on, so the test fails instead of leaving its thread blocked."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


UNREADABLE_SHEET = {
    "fifo": "unreadable: samples.png: not a regular file (a FIFO)",
    "bomb": "unreadable: samples.png: 30000x30000 pixels, larger than any sheet a run writes "
    "(16399x8199); not decoded",
}


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
@pytest.mark.parametrize("kind", ["fifo", "bomb"])
def test_a_samples_png_that_is_a_fifo_or_a_bomb_says_unreadable_and_esc_and_q_still_work(
    study, runs_dir, kind, size
):
    write_synthetic_test_split(study / RUN)
    sheet_png = study / RUN / "samples.png"
    if kind == "fifo":
        make_fifo(sheet_png)
    else:
        sheet_png.write_bytes(bomb_png(30000, 30000))
    seen: dict[str, object] = {}

    async def scenario():
        async with create_app(runs_dir).run_test(size=size) as pilot:
            screen = await open_inspect(pilot, study)
            await pilot.press("3")
            sheet = screen.query_one(SampleSheet)
            await wait_for(pilot, lambda: sheet.view.note.startswith("unreadable"), 10)
            note = sheet.note_lines(sheet.content_size.width)
            seen["note"] = " ".join(note)
            seen["drawn"] = sheet.render().plain.startswith("\n".join(note) + "\n")
            seen["captions"] = "cat→dog ✗" in sheet.render().plain
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), 10)
            seen["left"] = True
            await pilot.press("q")
            await wait_for(pilot, lambda: pilot.app.return_code == 0, 10)

    try:
        within(60, run, scenario())
    finally:
        unblock(sheet_png)
    assert seen == {"note": UNREADABLE_SHEET[kind], "drawn": True, "captions": True, "left": True}


def test_i_on_a_run_with_unprintable_counts_says_unreadable_and_the_other_runs_still_open(
    study, runs_dir
):
    write_synthetic_test_split(study / RUN)
    (study / RUN / "confusion.csv").write_text(huge_counts_matrix())

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            assert text_of(screen, "#inspect-note") == (
                f"unreadable: {study / RUN / 'confusion.csv'}:2: a count too large for 64 bits"
            )
            assert shape(screen.query_one("#heatmap", ConfusionHeatmap)) == (0, 0)
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), 10)
            await pilot.press("up", "i")  # lr=0.01, which has no test split (yet)
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, InspectScreen), 10)
            other = pilot.app.screen
            assert other.paths.root == study / "lr=0.01"
            assert text_of(other, "#inspect-note").startswith("This run (completed) wrote no")

    run(scenario())


def test_a_reader_error_on_one_run_is_said_and_the_app_goes_on(study, runs_dir, monkeypatch):
    """Whatever a reader lets escape is said on the screen: an error escaping a handler would
    shut the app down, after which no key does anything on any run."""
    write_synthetic_test_split(study / RUN)

    def fails(path: Path):
        raise ValueError(f"{path.name}: a reader's bug")

    monkeypatch.setattr("tui_trainer.ui.inspected_run.read_samples", fails)

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            assert text_of(screen, "#inspect-note") == "unreadable: samples.csv: a reader's bug"
            await pilot.press("escape", "up", "i")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, InspectScreen), 10)
            assert pilot.app.screen.paths.root == study / "lr=0.01"

    run(scenario())


def test_a_sheet_whose_drawing_fails_says_so_instead_of_reading_for_good(
    study, runs_dir, monkeypatch
):
    write_synthetic_test_split(study / RUN)

    def fails(sheet: Path, tiles):
        raise ValueError(f"{sheet.name}: a decoder's bug")

    monkeypatch.setattr("tui_trainer.ui.screens.inspect.draw_tiles", fails)

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            await pilot.press("3")
            sheet = screen.query_one(SampleSheet)
            await wait_for(pilot, lambda: sheet.view.note != "", 10)
            assert sheet.view.note == "unreadable: samples.png: a decoder's bug"
            assert not screen.query_one("#cam-status").display  # not 'reading samples.png…'

    run(scenario())


def test_a_slow_read_of_a_runs_files_leaves_every_key_working(study, runs_dir, monkeypatch):
    """The run's files are read in a worker (a 1000-class matrix takes a second, a network file
    system longer): the screen says it is reading, and `esc` leaves at once."""
    import threading
    import time

    write_synthetic_test_split(study / RUN)
    release = threading.Event()

    def slow(path: Path):
        release.wait(10)
        return None

    monkeypatch.setattr("tui_trainer.ui.inspected_run.read_confusion", slow)
    seen: dict[str, object] = {}

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            await pilot.app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            start = time.monotonic()
            await pilot.press("down", "i")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, InspectScreen), 10)
            seen["note"] = text_of(pilot.app.screen, "#inspect-note")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), 10)
            seen["quick"] = time.monotonic() - start < 5
            release.set()

    try:
        within(30, run, scenario())
    finally:
        release.set()
    assert seen == {"note": "reading the run's files…", "quick": True}


def test_a_fifo_as_samples_csv_says_unreadable_and_the_matrix_still_shows(study, runs_dir):
    write_synthetic_test_split(study / RUN)
    make_fifo(study / RUN / "samples.csv")

    async def scenario():
        async with create_app(runs_dir).run_test(size=SIZE) as pilot:
            screen = await open_inspect(pilot, study)
            assert shape(screen.query_one("#heatmap", ConfusionHeatmap)) == (10, 10)
            await pilot.press("3")
            assert text_of(screen, "#cam-status") == (
                "unreadable: samples.csv: not a regular file (a FIFO)"
            )

    try:
        within(60, run, scenario())
    finally:
        unblock(study / RUN / "samples.csv")
