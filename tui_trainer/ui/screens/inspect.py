"""The inspect screen (`i` on a run in the monitor): what a run got right and wrong on its test
split. Three tabs: the confusion matrix as a heatmap (row-normalised; `c` switches to counts)
with the highlighted cell in words and the worst confused pairs under it; the per-class table
(`s` sorts); the sample images drawn in the terminal, mistakes first, and `a` for their
activation maps.

Everything is read from the run directory (store/per_class.py, store/samples.py), the same for
a finished run and a replayed one. The activation maps need torch and the checkpoint, which the
app never imports: when samples_cam.png is missing, `tui-trainer backfill RUN_DIR --cam` runs in
another process from a thread worker (ui/cam_backfill.py), its progress shown as it comes. A run
still training has none of this yet: the screen says so, and looks again every few seconds.

The run's files are read (ui/inspected_run.py) and the sample sheets decoded in thread workers
too, never on the UI thread: a large matrix takes a second to read, a sheet can take seconds to
decode, and whatever is wrong with a run's files (a FIFO in place of samples.png, a
decompression bomb, counts no reader can print) is said on the screen as `unreadable: <why>`
while `esc` and `q` still work. A reader's error must never escape a handler here: Textual
shuts the whole app down on one, after which no key does anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from tui_trainer.printable import printable
from tui_trainer.store import status as st
from tui_trainer.store.layout import RunPaths
from tui_trainer.store.per_class import ConfusedPair, ConfusionMatrix
from tui_trainer.store.samples import SheetTile
from tui_trainer.ui.cam_backfill import BackfillProgress, backfill_cam
from tui_trainer.ui.inspected_run import InspectedRun, read_inspected
from tui_trainer.ui.widgets.class_table import PerClassTable
from tui_trainer.ui.widgets.confusion_heatmap import ConfusionHeatmap
from tui_trainer.ui.widgets.sample_tiles import SampleSheet, SheetView, draw_tiles

LOOK_AGAIN_S = 3.0  # a run still training: how often to look for its confusion.csv
WORST_PAIRS = 8


def waiting_words(state: str, epoch: int, epochs: int | None) -> str:
    """What a run without a confusion matrix says instead."""
    if state in st.FINAL_STATES or state == st.CRASHED:
        return f"This run ({state}) wrote no confusion.csv: it ended before its test evaluation."
    progress = f" (epoch {epoch}/{epochs})" if epochs else ""
    return (
        f"This run is {state}{progress}. Its confusion matrix, per-class figures and sample "
        "images appear when it ends, after its test evaluation."
    )


SAMPLES_LATER = "No sample images yet: they appear when the run ends, after its test evaluation."


def no_samples_words(run_dir: Path) -> str:
    return (
        "No sample images: this run is older than them. "
        f"`tui-trainer backfill {printable(str(run_dir))}` writes them."
    )


class InspectScreen(Screen):
    BINDINGS = [
        Binding("c", "toggle_counts", "Counts/%"),
        Binding("s", "sort", "Sort"),
        Binding("a", "toggle_cam", "Activation maps"),
        Binding("1", "show_tab('matrix')", "Matrix", show=False),
        Binding("2", "show_tab('classes')", "Per class", show=False),
        Binding("3", "show_tab('samples')", "Samples", show=False),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    @dataclass
    class CamProgress(Message):
        """A progress line of the backfill (many a second: only the latest matters)."""

        progress: BackfillProgress

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, InspectScreen.CamProgress)

    @dataclass
    class CamDone(Message):
        """The backfill ended: None when it wrote samples_cam.png, else why not."""

        error: str | None

    @dataclass
    class FilesRead(Message):
        """The run's files as the worker read them (None: the worker failed, which the app's
        worker handler says)."""

        run: InspectedRun | None

    @dataclass
    class SheetDrawn(Message):
        """A sheet drawn by the worker: samples.png's (cam False) or samples_cam.png's, of the
        tiles read in `reading` (a result of an earlier reading is dropped)."""

        cam: bool
        view: SheetView
        reading: int

    showing_cam: var[bool] = var(False, init=False)

    def __init__(self, run_dir: Path, study_id: str = "") -> None:
        super().__init__()
        self.paths = RunPaths(Path(run_dir))
        self.study_id = study_id
        self.matrix: ConfusionMatrix | None = None
        self.tiles: list[SheetTile] | None = None
        self.sheets: dict[bool, SheetView] = {}  # by showing_cam
        self._drawing: set[bool] = set()  # sheets a worker is drawing
        self._reading = 0  # counts the readings of the run's files: a sheet belongs to one
        self._looking_again = False
        self.reading_files = False  # a worker is reading the run's files
        self._computing = False  # a backfill is running: `a` waits for it
        self._state = st.UNKNOWN  # the run's, when its files were last read
        self._samples_unreadable = ""  # why samples.csv could not be read

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="inspect-title")
        yield Static(id="inspect-note")
        with TabbedContent(id="inspect-tabs", initial="matrix"):
            with TabPane("Confusion matrix", id="matrix"):
                yield ConfusionHeatmap(id="heatmap")
                with Vertical(id="matrix-side"):
                    yield Static(id="cell-words")
                    yield Static(id="worst-pairs")
            with TabPane("Per class", id="classes"):
                yield PerClassTable(id="class-table")
            with TabPane("Samples", id="samples"):
                yield Static(id="cam-status")
                with VerticalScroll(id="sheet-scroll"):
                    yield SampleSheet(id="sheet")
        yield Footer()

    def on_mount(self) -> None:
        name = self.paths.name
        self.query_one("#inspect-title", Static).update(
            Text(f"{self.study_id}/{name}" if self.study_id else name, style="bold")
        )
        self._say_note(Text("reading the run's files…", style="dim"))
        self.read_run_files()
        self.query_one(ConfusionHeatmap).focus()

    @property
    def busy(self) -> bool:
        """Whether a worker is still reading the run's files or drawing a sheet."""
        return self.reading_files or bool(self._drawing)

    # -- reading the run directory (in a worker: a large matrix takes a second) ---------------

    def read_run_files(self) -> None:
        """Read the run's files again, in a worker; the screen shows them when it is done."""
        if self.reading_files:
            return
        self.reading_files = True
        self.run_worker(
            self._read_files, name="reading the run's files", group="files", thread=True,
            exit_on_error=False,
        )  # fmt: skip

    def _read_files(self) -> None:
        run = None
        try:
            run = read_inspected(self.paths, self.study_id, WORST_PAIRS)
        finally:  # always answered: a screen left waiting would never look again
            self.post_message(self.FilesRead(run))

    def on_inspect_screen_files_read(self, message: FilesRead) -> None:
        self.reading_files = False
        if message.run is not None:
            self._show_files(message.run)

    def _show_files(self, run: InspectedRun) -> None:
        name = self.paths.name
        title = Text(f"{self.study_id}/{name}" if self.study_id else name, style="bold")
        self.matrix = matrix = run.matrix
        self._state = run.state
        note = run.unreadable
        if matrix is None:
            note = note or waiting_words(run.state, run.epoch, run.epochs)
        else:
            accuracy = matrix.correct / matrix.total if matrix.total else 0.0
            title.append(
                f"  {len(matrix.classes)} classes, {matrix.total} test images, "
                f"{matrix.correct} right ({accuracy:.2%})"
            )
            self.query_one(ConfusionHeatmap).matrix = matrix
            self.query_one(PerClassTable).figures = run.figures
            self._show_worst(run.worst)
        self.query_one("#inspect-title", Static).update(title)
        self._say_note(Text(note, style="italic"))
        self.tiles = None if run.tiles is None else list(run.tiles)
        self._samples_unreadable = run.samples_unreadable
        self._reading += 1
        self.sheets.clear()
        self._drawing.clear()
        self._show_sheet()
        missing = self.matrix is None or self.tiles is None or not self._has_sheet(False)
        if missing and run.state not in st.FINAL_STATES and not self._looking_again:
            self._looking_again = True  # the run may still write them: look again now and then
            self.set_interval(LOOK_AGAIN_S, self._look_again)

    def _say_note(self, text: Text) -> None:
        note = self.query_one("#inspect-note", Static)
        note.update(text)
        note.display = bool(text.plain)

    def _look_again(self) -> None:
        """Read again once a file that was missing is there (the trainer writes each whole)."""
        sheet_missing = self.tiles is None or not self._has_sheet(False)
        if (self.matrix is None and self.paths.confusion.exists()) or (
            sheet_missing and self.paths.samples.exists() and self.paths.samples_image.exists()
        ):
            self.read_run_files()

    def _show_worst(self, pairs: tuple[ConfusedPair, ...]) -> None:
        text = Text("most confused: ", style="bold")
        text.append("  ".join(f"{pair.words()} ({pair.count})" for pair in pairs) or "none")
        self.query_one("#worst-pairs", Static).update(text)

    def _png(self, cam: bool) -> Path:
        return self.paths.samples_cam_image if cam else self.paths.samples_image

    def _has_sheet(self, cam: bool) -> bool:
        """Whether there are tiles and an entry named samples.png (samples_cam.png): looked at
        without opening it (what it is, the drawing worker finds out)."""
        return bool(self.tiles) and os.path.lexists(self._png(cam))

    def _sheet(self, cam: bool) -> SheetView | None:
        """The tiles drawn from samples.png (or samples_cam.png) once a worker has drawn them;
        None until then (the worker is started here) or when that PNG is not there."""
        if cam not in self.sheets and cam not in self._drawing and self._has_sheet(cam):
            self._drawing.add(cam)
            work = partial(self._draw_sheet, cam, tuple(self.tiles or ()), self._reading)
            self.run_worker(
                work, name=f"drawing {self._png(cam).name}", group="sheets", thread=True,
                exit_on_error=False,
            )  # fmt: skip
        return self.sheets.get(cam)

    def _draw_sheet(self, cam: bool, tiles: tuple[SheetTile, ...], reading: int) -> None:
        """In a thread: the sheet read, checked and drawn, handed to the screen as a message
        (always: a sheet left 'reading…' for good would be a stuck screen)."""
        try:
            drawn, note = draw_tiles(self._png(cam), list(tiles))
        except (OSError, ValueError) as error:  # what draw_tiles did not foresee: said here
            drawn, note = {}, f"unreadable: {printable(str(error), limit=200)}"
        mistakes = sum(tile.is_mistake for tile in tiles)
        said = f"{mistakes} mistakes, then {len(tiles) - mistakes} right"
        if cam:
            said += ": their activation maps (a: the images)"
        self.post_message(self.SheetDrawn(cam, SheetView(tiles, drawn, note or said), reading))

    def on_inspect_screen_sheet_drawn(self, message: SheetDrawn) -> None:
        if message.reading != self._reading:
            return  # drawn from files read before: a newer drawing is coming
        self._drawing.discard(message.cam)
        self.sheets[message.cam] = message.view
        if message.cam == self.showing_cam:
            self._show_sheet()

    def _show_sheet(self) -> None:
        sheet = self._sheet(self.showing_cam)
        if self.tiles is None and self._samples_unreadable:
            self._cam_status(Text(self._samples_unreadable, style="italic"))
        elif self.tiles is None:
            finished = self._state in st.FINAL_STATES and self.matrix is not None
            words = no_samples_words(self.paths.root) if finished else SAMPLES_LATER
            self._cam_status(Text(words, style="italic"))
        elif sheet is None and self.showing_cam in self._drawing:
            self._cam_status(Text(f"reading {self._png(self.showing_cam).name}…", style="dim"))
        elif sheet is None:
            self._cam_status(Text(f"No {self.paths.samples_image.name} to draw.", style="italic"))
        else:
            self._cam_status("")
            self.query_one(SampleSheet).view = sheet

    watch_showing_cam = _show_sheet

    # -- keys --------------------------------------------------------------------------------

    def action_toggle_counts(self) -> None:
        heatmap = self.query_one(ConfusionHeatmap)
        heatmap.counts = not heatmap.counts

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        focus = {"matrix": "#heatmap", "classes": "#class-table", "samples": "#sheet-scroll"}
        self.query_one(focus[tab]).focus()

    def action_sort(self) -> None:
        """The per-class table's next sort, from any tab (the table comes to the front)."""
        self.action_show_tab("classes")
        self.query_one(PerClassTable).action_next_sort()

    def _cam_status(self, text: Text | str) -> None:
        status = self.query_one("#cam-status", Static)
        status.update(text)
        status.display = bool(str(text))

    def action_toggle_cam(self) -> None:
        self.query_one(TabbedContent).active = "samples"
        if self.showing_cam or self._has_sheet(True):
            self.showing_cam = not self.showing_cam
        elif not self.tiles:
            self.notify("no sample images to compute activation maps for", severity="warning")
        elif self._computing:
            self.notify("the activation maps are being computed")
        else:
            self._computing = True
            self._cam_status(
                Text("computing activation maps: starting tui-trainer backfill…", style="dim")
            )
            self.compute_cam()

    @on(ConfusionHeatmap.CellHighlighted, "#heatmap")
    def _say_cell(self, event: ConfusionHeatmap.CellHighlighted) -> None:
        words = event.heatmap.describe(event.true, event.predicted)
        self.query_one("#cell-words", Static).update(Text(words))

    # -- activation maps, in another process -------------------------------------------------

    @work(thread=True, exclusive=True, group="cam", name="activation maps", exit_on_error=False)
    def compute_cam(self) -> None:
        worker = get_current_worker()
        try:
            error = backfill_cam(
                self.paths.root,
                lambda step: self.post_message(self.CamProgress(step)),
                lambda: worker.is_cancelled,
            )
        except Exception as failure:  # said here, and by the app's worker handler
            self.post_message(self.CamDone(f"{type(failure).__name__}: {failure}"))
            raise
        if not worker.is_cancelled:
            self.post_message(self.CamDone(error))

    def on_inspect_screen_cam_progress(self, message: CamProgress) -> None:
        step = message.progress
        share = f" ({step.done / step.total:.0%})" if step.total else ""
        self._cam_status(Text(f"computing activation maps: {step.words()}{share}", style="dim"))

    def on_inspect_screen_cam_done(self, message: CamDone) -> None:
        self._computing = False
        if message.error is not None:
            self._cam_status(Text(f"activation maps failed: {message.error}", style="red"))
        elif not self._has_sheet(True):
            self._cam_status(
                Text("activation maps: backfill wrote no samples_cam.png", style="red")
            )
        else:
            self._cam_status("")
            self.showing_cam = True
