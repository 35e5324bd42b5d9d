"""The first screen: every preset (built-in, the user's folder, paths given on the command
line) with its description, its runs and its cost in run-epochs.

The time estimates come from every study already run here, thousands of directories on a busy
machine: they are read in a worker after the list is shown (`…` until then), so the first
screen never waits for the runs directory, and its keys work while they load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

from tui_trainer.config.load import LoadedStudy, load_preset
from tui_trainer.errors import ConfigError
from tui_trainer.printable import printable
from tui_trainer.store.timing import SetupKey, SetupTiming, setup_timings
from tui_trainer.ui.estimate import estimate
from tui_trainer.ui.navigation import Open
from tui_trainer.ui.paths import display_path
from tui_trainer.ui.study_reads import BrowserFirst

PENDING = "…"  # the time column while the studies on disk are read


@dataclass
class PresetEntry:
    path: Path
    study: LoadedStudy | None
    error: str = ""

    @property
    def name(self) -> str:
        return printable(self.path.stem)

    @property
    def run_epochs(self) -> int:
        return sum(run.config.train.epochs for run in self.study.runs) if self.study else 0

    def estimate(self, timings: Mapping[SetupKey | None, SetupTiming]) -> str:
        """'~1:02:03' when every run's setup has been timed here, '≥…' when some have, else '-'."""
        return estimate(self.study.runs, timings).short if self.study else "-"


def load_entries(paths: list[Path]) -> list[PresetEntry]:
    entries = []
    for path in paths:
        try:
            entries.append(PresetEntry(path, load_preset(path)))
        except ConfigError as error:
            entries.append(PresetEntry(path, None, printable(error.lines()[0])))
    return entries


class PresetsScreen(Screen):
    BINDINGS = [
        ("enter", "open", "Launch…"),
        ("e", "edit", "Edit…"),
        ("r", "runs", "Runs"),
        ("q", "app.quit", "Quit"),
    ]

    def __init__(
        self, paths: list[Path], runs_dir: Path, browser_first: BrowserFirst | None = None
    ) -> None:
        """`paths`: the presets listed (the app's list, which grows as the editor saves);
        `runs_dir`: where the studies that time the estimates are; `browser_first`: the app's,
        which the estimates' reading gives way to (ui/study_reads.py)."""
        super().__init__()
        self.paths = paths
        self.runs_dir = runs_dir
        self.browser_first = browser_first or BrowserFirst()
        self.entries = load_entries(paths)
        self.timings: dict[SetupKey, SetupTiming] | None = None  # None: not read yet

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="presets", cursor_type="row", zebra_stripes=True)
        yield Static(id="preset-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#presets", DataTable)
        for column in ("preset", "runs", "epochs", "run-epochs", "time", "description"):
            table.add_column(column, key=column)
        self._fill()
        table.focus()

    def on_screen_resume(self) -> None:
        """Also as the screen first shows (Textual resumes a screen when it is pushed): the time
        estimates are read once then, not twice."""
        self.reload(self.paths)
        self.read_timings()  # a study may have finished: new time estimates

    def reload(self, paths: list[Path]) -> None:
        self.paths = paths
        self.entries = load_entries(paths)
        self.query_one("#presets", DataTable).clear()
        self._fill()

    @work(thread=True, exclusive=True, group="timings", name="time estimates", exit_on_error=False)
    def read_timings(self) -> None:
        """Read how long each setup took here, off the UI thread; then show the estimates."""
        worker = get_current_worker()
        timings = setup_timings(self.runs_dir, self.browser_first.stopped(worker))
        if not worker.is_cancelled:
            self.app.call_from_thread(self.show_timings, timings)

    def show_timings(self, timings: dict[SetupKey, SetupTiming]) -> None:
        self.timings = timings
        table = self.query_one("#presets", DataTable)
        for entry in self.entries:
            table.update_cell(str(entry.path), "time", self._estimate(entry))

    def _estimate(self, entry: PresetEntry) -> str:
        return PENDING if self.timings is None else entry.estimate(self.timings)

    def _fill(self) -> None:
        table = self.query_one("#presets", DataTable)
        for entry in self.entries:
            if entry.study is None:
                error = Text(entry.error, style="red")
                table.add_row(Text(entry.name), "-", "-", "-", "-", error, key=str(entry.path))
                continue
            epochs = sorted({run.config.train.epochs for run in entry.study.runs})
            table.add_row(
                Text(entry.name),
                str(len(entry.study.runs)),
                ",".join(map(str, epochs)),
                str(entry.run_epochs),
                self._estimate(entry),
                Text(printable(entry.study.preset.study.description, limit=80)),
                key=str(entry.path),
            )

    def selected(self) -> PresetEntry | None:
        table = self.query_one("#presets", DataTable)
        if not self.entries:
            return None
        return self.entries[table.cursor_row]

    @on(DataTable.RowHighlighted, "#presets")
    def show_detail(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        detail = self.query_one("#preset-detail", Static)
        if entry.study is None:
            detail.update(Text(entry.error, style="red"))
            return
        names = ", ".join(run.name for run in entry.study.runs[:12])
        more = f" and {len(entry.study.runs) - 12} more" if len(entry.study.runs) > 12 else ""
        detail.update(
            Text.assemble(
                (entry.name, "bold"),
                f"  {printable(display_path(entry.path))}\n"
                f"{printable(entry.study.preset.study.description, multiline=True)}\n"
                f"runs: {names}{more}",
            )
        )

    @on(DataTable.RowSelected, "#presets")
    def action_open(self) -> None:
        entry = self.selected()
        if entry is not None and entry.study is not None:
            self.post_message(Open.Launch(entry.path))

    def action_runs(self) -> None:
        self.post_message(Open.Runs())

    def action_edit(self) -> None:
        entry = self.selected()
        if entry is not None and entry.study is not None:
            self.post_message(Open.Editor(entry.path))
