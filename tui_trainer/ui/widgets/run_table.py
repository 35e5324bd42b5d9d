"""The monitor's runs table (one row per run, its name in its chart colour and its chart marker
beside it: the table is the charts' legend) and the lines under it that say everything about
the highlighted run.

The screen hands the table its rows as a tuple of frozen `RunRow`s (`rows_shown`, a
reactive attribute); the table compares them with the rows it shows and updates only the cells that
changed, so a study polled four times a second costs a cell or two per poll. Each row's label
holds the run's marker and what `f` and `h` did to it ('>' the focused run, '-' a hidden one).

Every column is as wide as its widest cell, given when the rows are added (column_widths): a
monitor opened as a study is launched has no runs yet (its trainer is still loading torch), and
a run's 'where' is empty until a worker takes it; a column that must widen has the table built
again, so no frame ever shows a name cut to its header's width ('lr=0.1' shown as 'lr=').

At 80 columns the table shows run, state, epoch (with the step progress inside the epoch), best
val, test, ETA, best epoch and images/s; 'where', off to the right, is in the lines under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui_trainer.console.formats import STATE_STYLES, duration, number
from tui_trainer.printable import printable
from tui_trainer.store import status as st
from tui_trainer.store.follow import RunSeries
from tui_trainer.ui.placement import where, where_in_full
from tui_trainer.ui.study_progress import latest_train_loss, run_progress, shown_state
from tui_trainer.ui.widgets.charts import run_colour, run_marker

RUN_COLUMNS = (
    "run", "state", "epoch", "best val", "test acc", "ETA", "best ep", "img/s", "where"
)  # fmt: skip
COLUMN_WIDTHS = {"state": 11, "ETA": 7}  # at least: h:mm:ss
MAX_NAME_WIDTH = 40  # a longer run name is cut (the line under the table has it whole)
# plotext colour names as Rich styles, so that a run's name in the table is its chart legend
PLOTEXT_TO_RICH = {"orange": "dark_orange", "white": "bright_white"}
FOCUSED, HIDDEN = ">", "-"  # beside the marker: the run `f` focused, a run `h` hid
FIGURE_SEPARATOR = " · "  # between the highlighted run's figures: where its line may be cut


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else number(value, digits)


@dataclass(frozen=True)
class RunRow:
    """What one row shows: plain strings and styles, so that rows compare by value."""

    name: str
    label: str  # the run's chart marker, then FOCUSED, HIDDEN or a space
    name_style: str
    state: str
    cells: tuple[str, ...]  # epoch .. where, as RUN_COLUMNS[2:]

    @property
    def texts(self) -> tuple[str, ...]:
        """The row's cells as plain text, a column each."""
        return (printable(self.name, limit=MAX_NAME_WIDTH), self.state, *self.cells)

    def renderables(self) -> tuple[Text, ...]:
        """The row's cells; text read from files as Text (a str cell would be Rich markup)."""
        name, state, *cells = self.texts
        state_style = STATE_STYLES.get(self.state, "cyan")
        return (
            Text(name, style=self.name_style),
            Text(state, style=state_style),
            *map(Text, cells),
        )


@dataclass(frozen=True)
class TableView:
    """What the screen's keys chose: a replay's epoch, the focused run, the hidden runs."""

    replay_epoch: float | None = None
    focused: str | None = None
    hidden: frozenset[str] = frozenset()

    def charted(self, name: str) -> bool:
        return name == self.focused if self.focused is not None else name not in self.hidden


def column_widths(rows: tuple[RunRow, ...], before: tuple[int, ...] = ()) -> tuple[int, ...]:
    """Each column's width: its header's, its widest cell's, COLUMN_WIDTHS' or `before`'s,
    whichever is widest (a column never narrows while the study is shown)."""
    widths = [
        max(cell_len(column), COLUMN_WIDTHS.get(column, 0), before[i] if i < len(before) else 0)
        for i, column in enumerate(RUN_COLUMNS)
    ]
    for row in rows:
        widths = [max(width, cell_len(text)) for width, text in zip(widths, row.texts, strict=True)]
    return tuple(widths)


def run_rows(series: list[RunSeries], view: TableView, here: str) -> tuple[RunRow, ...]:
    """Every run's row as of now, or as of `view.replay_epoch` of a replay."""
    return tuple(_row(run, index, view, here) for index, run in enumerate(series))


def _row(run: RunSeries, index: int, view: TableView, here: str) -> RunRow:
    limit = view.replay_epoch
    best_epoch = run.status.best_epoch
    if limit is None:
        state = shown_state(run)
        progress = run_progress(run, run.state)
        epoch, eta = progress.epoch_cell(), duration(progress.eta_s) if progress.eta_s else ""
        best, test, speed = run.best_val_acc, run.test_acc, progress.images_per_s
        if run.state == st.RUNNING and progress.eta_s is None:
            eta = "-"
    else:  # what the study looked like at that epoch
        epochs, val = run.column("val_acc", up_to=limit)
        state = run.state if len(val) >= run.last_epoch else "replay"
        epoch = f"{len(val)}/{run.status.epochs if run.status.epochs is not None else '?'}"
        best = max(val) if val else None
        best_epoch = int(epochs[val.index(best)]) if best is not None else None
        test = run.test_acc if state == run.state else None
        eta, speed = "", None
    mark = FOCUSED if view.focused == run.name else HIDDEN if run.name in view.hidden else " "
    colour = run_colour(index)
    charted = view.charted(run.name)
    name_style = f"bold {PLOTEXT_TO_RICH.get(colour, colour)}" if charted else "dim"
    if run.name in view.hidden:
        name_style += " strike"
    return RunRow(
        name=run.name,
        label=run_marker(index) + mark,
        name_style=name_style,
        state=state,
        cells=(
            epoch,
            _fmt(best),
            _fmt(test),
            eta,
            str(best_epoch) if best_epoch else "-",
            f"{speed:.0f}" if speed else "",
            where(run.status, here),
        ),
    )


def run_line(run: RunSeries | None, here: str) -> Text:
    """The highlighted run in two lines. The first: its state, then why (what a queued run
    waits for, why a run stopped), then where it trains: 'lr=0.1 queued: waiting for a free
    job: 2 of 2 are training', 'lr=0.05 running on GPU 1 of gpu-b, pid 4242, attempt 2'. The
    second: its latest figures (run_figures)."""
    if run is None:
        return Text("")
    status, state = run.status, shown_state(run)
    line = Text.assemble((run.name, "bold"), " ", (state, STATE_STYLES.get(state, "")))
    if run.state == st.QUEUED and state != st.STARTING:
        line.append(f": {status.waiting}" if status.waiting else ": not started yet")
    elif status.message and run.state != st.RUNNING:
        line.append(f": {status.message}")
    live = run.state in (st.RUNNING, st.STALLED)
    placed = where_in_full(status, here, live)
    if placed and run.state != st.QUEUED:
        line.append(f" {placed}", style="dim" if run.state in st.FINAL_STATES else "")
    figures = run_figures(run)
    if figures:
        line.append("\n")
        line.append(figures, style="dim" if run.state in st.FINAL_STATES else "")
    return line


def run_figures(run: RunSeries) -> str:
    """The run's latest figures, those a W&B or TensorBoard user reads first: 'step 45/120
    4210 img/s · train loss 1.2345 acc 0.6120 · val loss 1.4012 acc 0.5800 · lr 0.05 · best
    0.6010 @ 2 · elapsed 1:02'. Figures not known yet are left out."""
    status = run.status
    parts: list[str] = []
    progress = run_progress(run, run.state)
    if progress.epoch_fraction is not None:
        speed = f" {progress.images_per_s:.0f} img/s" if progress.images_per_s else ""
        parts.append(f"step {progress.step}/{progress.steps_per_epoch}{speed}")
    last = run.epochs[-1] if run.epochs else {}

    def latest(column: str) -> float | None:  # the last epoch's row, else status.toml's
        value = last.get(column)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return getattr(status, column)

    running_loss = latest_train_loss(run) if run.state == st.RUNNING else None
    train_loss = running_loss if running_loss is not None else latest("train_loss")
    for name, loss, acc in (
        ("train", train_loss, latest("train_acc")),
        ("val", latest("val_loss"), latest("val_acc")),
    ):
        if loss is not None or acc is not None:
            parts.append(f"{name} loss {_fmt(loss)} acc {_fmt(acc)}")
    lr = _latest(run, "lr")
    if lr is not None:
        parts.append(f"lr {lr:.4g}")
    best, best_epoch = run.best_val_acc, status.best_epoch
    if best is not None:
        parts.append(f"best {_fmt(best)}" + (f" @ {best_epoch}" if best_epoch else ""))
    elapsed = latest("elapsed_s")
    if elapsed is not None:
        parts.append(f"elapsed {duration(elapsed)}")
    return FIGURE_SEPARATOR.join(parts)


def _latest(run: RunSeries, column: str) -> float | None:
    """The newest value of a column: of the step rows while they come, else of the epochs."""
    for rows in (run.steps[-1:], run.epochs[-1:]):
        for row in rows:
            value = row.get(column)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
    return None


def fitted(line: Text, width: int) -> Text:
    """`line` (run_line) with its figures line cut to `width` between figures, never inside
    one: from the first figure that does not fit on (they come in the order a person reads
    them), so that no name shows without its value ('elapsed' cut off at 120 columns). The
    first line wraps as it is."""
    _, _, rest = line.plain.partition("\n")
    if not rest or width <= 0 or cell_len(rest) <= width:
        return line
    lines = line.split("\n")
    style = lines[1].spans[0].style if lines[1].spans else ""
    kept: list[str] = []
    for part in rest.split(FIGURE_SEPARATOR):
        if cell_len(FIGURE_SEPARATOR.join([*kept, part])) > width:
            break
        kept.append(part)
    return Text.assemble(lines[0], "\n", (FIGURE_SEPARATOR.join(kept), style))


class RunLine(Static):
    """The lines under the table (run_line); set `line` and it redraws when that changed, its
    figures fitted to the width it has (on a resize too)."""

    line: reactive[Text] = reactive(Text, init=False)

    def watch_line(self, line: Text) -> None:
        self.refresh(layout=True)  # its height follows the lines it has

    def render(self) -> Text:
        return fitted(self.line, self.content_size.width)


class RunTable(DataTable):
    """The runs of a study: set `rows` (run_rows) and the table follows."""

    rows_shown: reactive[tuple[RunRow, ...]] = reactive((), always_update=False, init=False)

    @dataclass
    class Highlighted(Message):
        """The cursor moved to another run (or the first run appeared under it)."""

        table: RunTable
        name: str | None

        @property
        def control(self) -> RunTable:
            return self.table

        def can_replace(self, message: Message) -> bool:  # a held arrow key: the last counts
            return isinstance(message, RunTable.Highlighted) and message.table is self.table

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._widths: tuple[int, ...] = ()
        self._added = False  # rows added since the table was last idle

    def on_mount(self) -> None:
        self._rebuild(())

    @property
    def highlighted_run(self) -> str | None:
        """The name of the run under the cursor (None in an empty table)."""
        rows = self.rows_shown
        return rows[self.cursor_row].name if rows and 0 <= self.cursor_row < len(rows) else None

    def watch_rows_shown(self, old: tuple[RunRow, ...], new: tuple[RunRow, ...]) -> None:
        marks = [(r.name, r.label) for r in old] != [(r.name, r.label) for r in new[: len(old)]]
        if marks or column_widths(new, self._widths) != self._widths:
            self._rebuild(new)  # marks changed (f, h), runs went, or a column must widen
            return
        for before, row in zip(old, new, strict=False):
            if row != before:
                self._update_row(before, row)
        for row in new[len(old) :]:
            self.add_row(*row.renderables(), key=row.name, label=Text(row.label))
        self._added = self._added or len(new) > len(old)

    def on_idle(self) -> None:
        # DataTable measures the label column of new rows when idle (after this handler), and
        # keeps lines drawn before that: they are drawn again once it has.
        if self._added:
            self._added = False
            self.call_later(self.notify_style_update)

    def _update_row(self, before: RunRow, row: RunRow) -> None:
        cells = row.renderables()
        old = (before.name_style, before.state, *before.cells)
        new = (row.name_style, row.state, *row.cells)
        for column, value, was, now in zip(RUN_COLUMNS, cells, old, new, strict=True):
            if was != now:
                self.update_cell(row.name, column, value)

    def _rebuild(self, rows: tuple[RunRow, ...]) -> None:
        """Columns as wide as their widest cell, then the rows: every width is given, never
        measured later (a DataTable measures new rows when idle, and a frame drawn before that
        kept a name cut to its header's width: 'lr=')."""
        cursor = self.cursor_row
        self.clear(columns=True)
        self._widths = column_widths(rows, self._widths)
        for column, width in zip(RUN_COLUMNS, self._widths, strict=True):
            self.add_column(column, key=column, width=width)
        for row in rows:
            self.add_row(*row.renderables(), key=row.name, label=Text(row.label))
        if rows:
            self.move_cursor(row=min(max(cursor, 0), len(rows) - 1), animate=False)
        self._added = bool(rows)

    @on(DataTable.RowHighlighted)
    def _tell_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted(self, self.highlighted_run))
