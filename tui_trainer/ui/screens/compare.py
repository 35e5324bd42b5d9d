"""Compare runs across studies: validation curves of every run overlaid, and under them one table
that is their legend and says what tells the runs apart.

Row i is curve i: its study and run are written in the curve's colour, after the curve's marker
(run_marker, what tells the curves apart under NO_COLOR), and nothing else in the table is
coloured, so that no state colour (completed's green) reads as a curve's. Between the run and
its figures come the config keys whose values differ between the compared runs (epochs, lr,
schedule...), not only each study's sweep. `g` log-scales the loss chart, as in the monitor; `x`
exports the table as Markdown.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from tui_trainer.console.export import to_markdown
from tui_trainer.console.formats import number, setting
from tui_trainer.printable import printable
from tui_trainer.store.compare import Comparison, combined
from tui_trainer.store.files import own_directory, write_new_file
from tui_trainer.store.follow import StudyFollower
from tui_trainer.store.reader import StudyRecord
from tui_trainer.ui.tell import tell
from tui_trainer.ui.widgets.charts import LINE, MetricChart, Series, run_colour, run_marker
from tui_trainer.ui.widgets.run_table import PLOTEXT_TO_RICH

EXPORTS_DIR = "exports"
FIGURES = ("state", "epochs", "val acc", "best val acc", "best epoch", "test acc")
LEGEND = ("study", "run")  # the cells written in the run's curve colour


def curve_style(index: int) -> str:
    """The Rich style of run `index`'s curve colour (a plotext colour name)."""
    colour = run_colour(index)
    return PLOTEXT_TO_RICH.get(colour, colour)


class CompareScreen(Screen):
    BINDINGS = [
        ("g", "log_scale", "Log y"),
        ("x", "export", "Export"),
        ("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, studies: list[StudyRecord], runs_dir: Path) -> None:
        """`runs_dir`: exports go to its exports/ folder."""
        super().__init__()
        self.studies = studies
        self.runs_dir = runs_dir
        self.table: Comparison = combined(studies)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="compare-charts"):
            yield MetricChart("validation accuracy", id="compare-acc")
            yield MetricChart("validation loss", id="compare-loss")
        yield DataTable(id="compare", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self._fill_table()
        self._draw_curves()

    def _fill_table(self) -> None:
        """One row per run, in curve order: the legend cells, the differing config values as
        written, then the figures; text read from files as Text, never markup."""
        shown = [*LEGEND, *self.table.swept, *FIGURES]
        keep = [self.table.columns.index(column) for column in shown]
        table = self.query_one("#compare", DataTable)
        table.add_columns(*[Text(column) for column in shown])
        for index, row in enumerate(self.table.rows):
            cells = []
            for column, value in zip(shown, (row[i] for i in keep), strict=True):
                if column == "run":
                    text = f"{run_marker(index)} {printable(str(value), limit=40)}"
                    cells.append(Text(text, style=curve_style(index)))
                elif column in LEGEND:
                    cells.append(Text(str(value), style=curve_style(index)))
                elif column in self.table.swept:
                    cells.append(Text(printable(setting(value), limit=40)))
                elif isinstance(value, float):
                    cells.append(Text(number(value)))
                else:
                    cells.append(Text("-" if value is None else str(value)))
            table.add_row(*cells)

    def _draw_curves(self) -> None:
        """Curve i is table row i: the same runs, in the same order, with the same index."""
        acc: list[Series] = []
        loss: list[Series] = []
        index = 0
        for study in self.studies:
            follower = StudyFollower(study.paths.root)
            follower.poll()
            for run in study.runs:
                series = follower.runs.get(run.name)
                label = f"{study.id}/{run.name}"
                if series is not None:
                    acc.append((label, *series.column("val_acc"), run_colour(index), LINE))
                    loss.append((label, *series.column("val_loss"), run_colour(index), LINE))
                index += 1
        self.query_one("#compare-acc", MetricChart).show(acc)
        self.query_one("#compare-loss", MetricChart).show(loss)

    def action_log_scale(self) -> None:
        """Log-scale the loss chart, or back (accuracy stays linear), as `g` does in the
        monitor."""
        self.query_one("#compare-loss", MetricChart).toggle_log()

    def action_export(self) -> None:
        """The table as Markdown in a new file of <runs dir>/exports/: never through a
        symlinked exports directory, never over an existing file; a failure is said, not
        raised."""
        path = self.runs_dir / EXPORTS_DIR / f"compare-{datetime.now():%Y%m%d-%H%M%S}.md"
        try:
            directory = own_directory(path.parent)
            for number in range(1, 100):  # two exports in one second get -2, -3...
                name = path.name if number == 1 else f"{path.stem}-{number}{path.suffix}"
                try:
                    write_new_file(directory / name, to_markdown(self.table).encode("utf-8"))
                except FileExistsError:
                    continue
                path = directory / name
                break
            else:
                raise FileExistsError(17, "too many exports this second", str(path))
        except OSError as error:
            tell(self, f"cannot write {error.filename or path}: {error.strerror}", "error")
            return
        tell(self, f"wrote {path}")
