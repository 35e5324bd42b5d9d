"""The monitor's runs table (one row per run, its name in its chart colour: the table is the
charts' legend) and the line under it that says everything about the highlighted run.

The table keeps what each cell shows and updates only the cells that changed: every update
re-renders it, and a study polled four times a second changes a cell or two at most. Its last
column says where each run trains (ui/placement.py); at 80 columns that column is off to the
right, so the highlighted run's line says it too, with what a queued run waits for.

Columns without a fixed width follow their widest cell as cells change (a run's 'where' is
empty until its worker starts; a monitor opened as its study starts has no run names yet)."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import DataTable

from tui_trainer.console.formats import STATE_STYLES, duration, number
from tui_trainer.printable import printable
from tui_trainer.store import status as st
from tui_trainer.store.follow import RunSeries
from tui_trainer.ui.placement import this_host, where, where_in_full
from tui_trainer.ui.widgets.charts import run_colour

RUN_COLUMNS = ("run", "state", "epoch", "best val acc", "test acc", "ETA", "where")
COLUMN_WIDTHS = {"state": 11, "epoch": 9, "ETA": 7}  # h:mm:ss
MAX_NAME_WIDTH = 40  # a longer run name is cut (the line under the table has it whole)
# plotext colour names as Rich styles, so that a run's name in the table is its chart legend
PLOTEXT_TO_RICH = {"orange": "dark_orange", "white": "bright_white"}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else number(value, digits)


def run_line(run: RunSeries | None, here: str | None = None) -> Text:
    """The highlighted run in one line: its state, then why (what a queued run waits for, why
    a run stopped), then where it trains: 'lr=0.1 queued: waiting for a free job: 2 of 2 are
    training', 'lr=0.05 running on GPU 1 of gpu-b, pid 4242, attempt 2'."""
    if run is None:
        return Text("")
    status = run.status
    line = Text.assemble((run.name, "bold"), " ", (run.state, STATE_STYLES.get(run.state, "")))
    if run.state == st.QUEUED:
        line.append(f": {status.waiting}" if status.waiting else ": not started yet")
    elif status.message and run.state != st.RUNNING:
        line.append(f": {status.message}")
    live = run.state in (st.RUNNING, st.STALLED)
    placed = where_in_full(status, here or this_host(), live)
    if placed and run.state != st.QUEUED:
        line.append(f" {placed}", style="dim" if run.state in st.FINAL_STATES else "")
    return line


class RunTable(DataTable):
    """The runs of a study; `show` brings it up to date (or to an epoch of a replay)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._cells: dict[tuple[str, str], object] = {}  # what each cell shows
        self._rows: list[str] = []

    def on_mount(self) -> None:
        for column in RUN_COLUMNS:
            self.add_column(column, key=column, width=COLUMN_WIDTHS.get(column))

    @property
    def highlighted_run(self) -> str | None:
        """The name of the run under the cursor (None in an empty table)."""
        rows = self._rows
        return rows[self.cursor_row] if rows and 0 <= self.cursor_row < len(rows) else None

    def show(
        self, series: list[RunSeries], replay_epoch: float | None, charted: Callable[[str], bool]
    ) -> None:
        """Every run's row as of now, or as of `replay_epoch` of a replay; a run not
        `charted` (hidden from the charts) has its name dimmed."""
        here = this_host()
        for index, run in enumerate(series):
            cells = self._cells_of(run, index, replay_epoch, charted(run.name), here)
            added = run.name not in self.rows
            if added:
                self.add_row(*cells, key=run.name)
                self._rows.append(run.name)
            for column, value in zip(RUN_COLUMNS, cells, strict=True):
                shown = (value.plain, str(value.style)) if isinstance(value, Text) else value
                if not added and self._cells.get((run.name, column)) != shown:
                    fitted = column not in COLUMN_WIDTHS
                    self.update_cell(run.name, column, value, update_width=fitted)
                self._cells[run.name, column] = shown

    @staticmethod
    def _cells_of(
        run: RunSeries, index: int, limit: float | None, charted: bool, here: str
    ) -> tuple[Text | str, ...]:
        """The row's cells; text read from files as Text (a str cell is Rich markup)."""
        if limit is None:
            state, epoch = run.state, run.status.epoch
            best, test = run.best_val_acc, run.test_acc
        else:  # what the study looked like at that epoch
            _, val = run.column("val_acc", up_to=limit)
            epoch = len(val)
            state = run.state if epoch >= run.last_epoch else "replay"
            best = max(val) if val else None
            test = run.test_acc if state == run.state else None
        colour = run_colour(index)
        name_style = f"bold {PLOTEXT_TO_RICH.get(colour, colour)}" if charted else "dim"
        return (
            Text(printable(run.name, limit=MAX_NAME_WIDTH), style=name_style),
            Text(state, style=STATE_STYLES.get(state, "cyan")),
            f"{epoch}/{run.status.epochs if run.status.epochs is not None else '?'}",
            _fmt(best),
            _fmt(test),
            duration(run.status.eta_s) if run.state == st.RUNNING else "",
            Text(where(run.status, here)),  # a host name from a file: never markup
        )
