"""The confusion matrix as a heatmap: one row per true class, one column per predicted class,
each cell's background as dark or bright as its share of the true class (row-normalised, in
percent) or, toggled, the raw counts.

Colour only repeats what the characters say, so it reads under NO_COLOR and in monochrome: the
diagonal is in brackets, `[85]`, and an empty cell is a `·`. The class names (left) and the
column numbers (top) stay in view while the cells scroll both ways under a cell cursor, whose
cell the screen says in words.

It is a Line API widget (a ScrollView drawing only the lines and cells in view) rather than a
DataTable: a DataTable renders every cell of every visible row through Rich, all 100 columns of
CIFAR-100 even when 15 show, which took about 2 s to open the matrix or switch it to counts.
Here each row is a strip of ready-made segments, built once per matrix, cropped to the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui_trainer.store.per_class import ConfusionMatrix, class_label, percent

LABEL_WIDTH = 14  # `99 automobile` fits; longer names are cut
EMPTY = "\u00b7"  # a cell with no image: a dot, not a 0


@lru_cache(maxsize=512)
def shade(level: int, diagonal: bool) -> Style:
    """A background from near black (level 0) to full green (right) or red (wrong) at level
    100; white text that stays legible on it. `level` is the share in percent, so that at
    most a few hundred styles exist whatever the matrix."""
    strength = (max(0, min(100, level)) / 100) ** 0.5  # small shares still visible
    full = (40, 170, 60) if diagonal else (210, 50, 40)
    base = (24, 24, 28)
    rgb = tuple(round(b + (f - b) * strength) for b, f in zip(base, full, strict=True))
    return Style(bgcolor=Color.from_rgb(*rgb), color="white", bold=diagonal)


NOTHING = Style(color="grey50")


def cell_words(value: int, share: float, diagonal: bool, counts: bool) -> str:
    """What one cell says: a count or a rounded percentage, `[..]` on the diagonal, `·` for 0."""
    if value == 0 and not diagonal:
        return EMPTY
    rounded = round(share * 100)
    shown = str(value) if counts else (f"{rounded}" if rounded or not value else "<1")
    return f"[{shown}]" if diagonal else shown


def cell_style(value: int, share: float, diagonal: bool) -> Style:
    return NOTHING if value == 0 and not diagonal else shade(round(share * 100), diagonal)


class ConfusionHeatmap(ScrollView, can_focus=True):
    """The matrix handed down in `matrix`; `counts` switches percentages and counts; `cursor`
    is the highlighted cell as (true class, predicted class)."""

    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "ends(-1)", "First class", show=False),
        Binding("end", "ends(1)", "Last class", show=False),
    ]

    COMPONENT_CLASSES = {
        "confusion-heatmap--header",
        "confusion-heatmap--label",
        "confusion-heatmap--cursor",
    }

    DEFAULT_CSS = """
    ConfusionHeatmap { height: 1fr; }
    ConfusionHeatmap > .confusion-heatmap--header { background: $panel; text-style: bold; }
    ConfusionHeatmap > .confusion-heatmap--label { text-style: bold; }
    ConfusionHeatmap > .confusion-heatmap--cursor { text-style: reverse; }
    """

    @dataclass
    class CellHighlighted(Message):
        """The cursor is on a new cell (or the matrix under it changed)."""

        heatmap: ConfusionHeatmap
        true: int
        predicted: int

        @property
        def control(self) -> ConfusionHeatmap:
            return self.heatmap

    matrix: var[ConfusionMatrix | None] = var(None, init=False)
    counts: var[bool] = var(False, init=False)
    cursor: var[tuple[int, int]] = var((0, 0), init=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: dict[int, list[Segment]] = {}  # true class -> its cells, built when shown
        self._label_width = 0
        self._cell_width = 1

    # -- what is drawn -----------------------------------------------------------------------

    @property
    def cell_width(self) -> int:
        return self._cell_width

    @property
    def label_width(self) -> int:
        return self._label_width

    def watch_matrix(self) -> None:
        self._rebuild()

    def watch_counts(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        """Forget the drawn rows and size the view for the current matrix and mode."""
        self._rows.clear()
        matrix = self.matrix
        size = len(matrix.classes) if matrix is not None else 0
        if matrix is None or size == 0:
            self.virtual_size = Size(0, 0)
            self.refresh()
            return
        widest = max((max(row) for row in matrix.counts), default=0)
        self._cell_width = (len(str(widest)) if self.counts else 3) + 3  # brackets, a space
        longest = max(len(self._label(true)) for true in range(size))
        self._label_width = min(LABEL_WIDTH, longest) + 1
        self.virtual_size = Size(self._label_width + size * self._cell_width, size + 1)
        row, column = self.cursor
        self.set_reactive(ConfusionHeatmap.cursor, (min(row, size - 1), min(column, size - 1)))
        self._cursor_into_view()
        self.refresh()
        self.post_message(self.CellHighlighted(self, *self.cursor))

    def _label(self, true: int) -> str:
        assert self.matrix is not None
        return class_label(true, self.matrix.classes[true], width=2)[:LABEL_WIDTH]

    def _row_cells(self, true: int) -> list[Segment]:
        """One segment per cell of row `true`, each `cell_width` wide and right-aligned."""
        cells = self._rows.get(true)
        if cells is None:
            assert self.matrix is not None
            matrix, width = self.matrix, self._cell_width
            support = matrix.support(true)
            cells = []
            for predicted, value in enumerate(matrix.counts[true]):
                share = value / support if support else 0.0
                diagonal = true == predicted
                words = cell_words(value, share, diagonal, self.counts)
                cells.append(Segment(words.rjust(width), cell_style(value, share, diagonal)))
            self._rows[true] = cells
        return cells

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        matrix = self.matrix
        scroll_x, scroll_y = (round(value) for value in self.scroll_offset)
        row = scroll_y + y - 1
        if matrix is None or (y > 0 and row >= len(matrix.classes)):
            return Strip.blank(width, self.rich_style)
        cursor_row, cursor_column = self.cursor
        cursor = self.get_component_rich_style("confusion-heatmap--cursor")
        if y == 0:
            header = self.get_component_rich_style("confusion-heatmap--header")
            label = Segment(" " * self._label_width, header)
            cells = [
                Segment(
                    str(column).rjust(self._cell_width),
                    header + cursor if column == cursor_column else header,
                )
                for column in range(len(matrix.classes))
            ]
        else:
            style = self.get_component_rich_style("confusion-heatmap--label")
            if row == cursor_row:
                style += cursor
            label = Segment(self._label(row).ljust(self._label_width), style)
            cells = self._row_cells(row)
            if row == cursor_row:
                cells = list(cells)
                text, style = cells[cursor_column].text, cells[cursor_column].style
                cells[cursor_column] = Segment(text, (style or Style()) + cursor)
        strip = Strip(cells, len(matrix.classes) * self._cell_width)
        visible = strip.crop(scroll_x, scroll_x + max(0, width - self._label_width))
        return Strip.join([Strip([label], self._label_width), visible]).apply_style(self.rich_style)

    # -- the cursor --------------------------------------------------------------------------

    def watch_cursor(self) -> None:
        self._cursor_into_view()
        self.refresh()
        self.post_message(self.CellHighlighted(self, *self.cursor))

    def _visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # the header row stays

    def on_resize(self) -> None:
        self._cursor_into_view()

    def _cursor_into_view(self) -> None:
        """Scroll the least that shows the cursor's cell beside the labels, under the header."""
        if not self.scrollable_content_region.area:
            return  # not laid out yet: on_resize comes
        row, column = self.cursor
        x, y = self.scroll_offset
        rows = self._visible_rows()
        if row < y:
            y = row
        elif row >= y + rows:
            y = row - rows + 1
        cells_width = max(1, self.scrollable_content_region.width - self._label_width)
        left = column * self._cell_width
        right = left + self._cell_width
        if left < x:
            x = left
        elif right > x + cells_width:
            x = right - cells_width
        self.scroll_to(x, y, animate=False, force=True, immediate=True)

    def _set_cursor(self, row: int, column: int) -> None:
        if self.matrix is None or not self.matrix.classes:
            return
        last = len(self.matrix.classes) - 1
        self.cursor = (max(0, min(last, row)), max(0, min(last, column)))

    def action_move(self, rows: int, columns: int) -> None:
        row, column = self.cursor
        self._set_cursor(row + rows, column + columns)

    def action_page(self, pages: int) -> None:
        row, column = self.cursor
        self._set_cursor(row + pages * self._visible_rows(), column)

    def action_ends(self, end: int) -> None:
        """The first (end < 0) or the last class, in the same column."""
        last = len(self.matrix.classes) - 1 if self.matrix is not None else 0
        self._set_cursor(0 if end < 0 else last, self.cursor[1])

    def on_click(self, event: events.Click) -> None:
        """A click on a cell moves the cursor there."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1 or offset.x < self._label_width:
            return
        scroll_x, scroll_y = (round(value) for value in self.scroll_offset)
        self._set_cursor(
            scroll_y + offset.y - 1, (scroll_x + offset.x - self._label_width) // self._cell_width
        )

    # -- words -------------------------------------------------------------------------------

    def cell_text(self, true: int, predicted: int) -> str:
        """What the cell shows, without its padding (the tests read it)."""
        return self._row_cells(true)[predicted].text.strip()

    def describe(self, true: int, predicted: int) -> str:
        """The cell in words: `cat → dog: 16 of 100 images (16%)`."""
        matrix = self.matrix
        if matrix is None or true >= len(matrix.classes) or predicted >= len(matrix.classes):
            return ""
        count = matrix.counts[true][predicted]
        share = matrix.row_share(true, predicted)
        verb = "right" if true == predicted else f"\u2192 {matrix.classes[predicted]}"
        support = matrix.support(true)
        return f"{matrix.classes[true]} {verb}: {count} of {support} images ({percent(share)})"
