"""Compare runs across studies: one table (the reports' columns, a study column in front) and
validation curves of every run overlaid; `x` exports the table as Markdown."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from tui_trainer.console.export import to_markdown
from tui_trainer.console.formats import STATE_STYLES, number
from tui_trainer.store.compare import Comparison, comparison
from tui_trainer.store.files import own_directory, write_new_file
from tui_trainer.store.follow import StudyFollower
from tui_trainer.store.reader import StudyRecord
from tui_trainer.ui.widgets.charts import LINE, MetricChart, run_colour

EXPORTS_DIR = "exports"
SHOWN = (
    "study",
    "run",
    "swept",
    "state",
    "epochs",
    "val acc",
    "best val acc",
    "best epoch",
    "test acc",
)


def combined(studies: list[StudyRecord]) -> Comparison:
    """The comparison tables of several studies as one, with the study in front and the swept
    values of each run in one column."""
    rows = []
    columns: list[str] = []
    for study in studies:
        table = comparison(study)
        columns = ["study", "run", "swept", *table.columns[1 + len(table.swept) :]]
        for row in table.rows:
            swept = ", ".join(
                f"{k}={v}" for k, v in zip(table.swept, row[1 : 1 + len(table.swept)], strict=True)
            )
            rows.append([study.id, row[0], swept, *row[1 + len(table.swept) :]])
    return Comparison(swept=[], columns=columns, rows=rows)


class CompareScreen(Screen):
    BINDINGS = [("x", "export", "Export"), ("escape", "app.pop_screen", "Back")]

    def __init__(self, studies: list[StudyRecord]) -> None:
        super().__init__()
        self.studies = studies
        self.table = combined(studies)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="compare-charts"):
            yield MetricChart("validation accuracy", id="compare-acc")
            yield MetricChart("validation loss", id="compare-loss")
        yield DataTable(id="compare", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#compare", DataTable)
        keep = [self.table.columns.index(c) for c in SHOWN if c in self.table.columns]
        table.add_columns(*[Text(self.table.columns[i]) for i in keep])
        for row in self.table.rows:
            cells = []
            for i in keep:
                value = row[i]
                if self.table.columns[i] == "state":
                    cells.append(Text(str(value), style=STATE_STYLES.get(str(value), "")))
                elif isinstance(value, float):
                    cells.append(Text(number(value)))
                else:  # text read from the study's files: plain, never markup
                    cells.append(Text("-" if value is None else str(value)))
            table.add_row(*cells)
        acc, loss = [], []
        index = 0
        for study in self.studies:
            follower = StudyFollower(study.paths.root)
            follower.poll()
            for run in follower.runs.values():
                label = f"{study.id}/{run.name}"
                acc.append((label, *run.column("val_acc"), run_colour(index), LINE))
                loss.append((label, *run.column("val_loss"), run_colour(index), LINE))
                index += 1
        self.query_one("#compare-acc", MetricChart).show(acc)
        self.query_one("#compare-loss", MetricChart).show(loss)

    def action_export(self) -> None:
        """The table as Markdown in a new file of <runs dir>/exports/: never through a
        symlinked exports directory, never over an existing file; a failure is said, not
        raised."""
        path = self.app.runs_dir / EXPORTS_DIR / f"compare-{datetime.now():%Y%m%d-%H%M%S}.md"
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
            self.app.tell(f"cannot write {error.filename or path}: {error.strerror}", "error")
            return
        self.app.tell(f"wrote {path}")
