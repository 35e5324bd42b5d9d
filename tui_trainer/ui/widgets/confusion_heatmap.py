"""The confusion matrix as a heatmap: one row per true class, one column per predicted class,
each cell's background as dark or bright as its share of the true class (row-normalised, in
percent) or, toggled, the raw counts.

Colour only repeats what the characters say, so it reads under NO_COLOR and in monochrome: the
diagonal is in brackets, `[85]`, and an empty cell is a `·`. A DataTable underneath gives
scrolling both ways at 100 classes with the class names (row labels) and numbers (header) kept
in view, and a cell cursor: the screen says what the highlighted cell is in words.
"""

from __future__ import annotations

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.reactive import var
from textual.widgets import DataTable

from tui_trainer.store.per_class import ConfusionMatrix, percent

LABEL_WIDTH = 14  # `99 automobile` fits; longer names are cut


def shade(share: float, diagonal: bool) -> Style:
    """A background from near black (0) to full green (right) or red (wrong) at 1; text
    that stays legible on it."""
    strength = max(0.0, min(1.0, share)) ** 0.5  # small shares still visible
    full = (40, 170, 60) if diagonal else (210, 50, 40)
    base = (24, 24, 28)
    rgb = tuple(round(b + (f - b) * strength) for b, f in zip(base, full, strict=True))
    return Style(bgcolor=Color.from_rgb(*rgb), color="white", bold=diagonal)


def cell_text(value: int, share: float, diagonal: bool, counts: bool) -> Text:
    """What one cell says: a count or a rounded percentage, `[..]` on the diagonal, `·` for 0."""
    if value == 0 and not diagonal:
        return Text("\u00b7", style=Style(color="grey50"), justify="right")
    percent = round(share * 100)
    shown = str(value) if counts else (f"{percent}" if percent or not value else "<1")
    return Text(f"[{shown}]" if diagonal else shown, style=shade(share, diagonal), justify="right")


class ConfusionHeatmap(DataTable):
    """The matrix handed down in `matrix`; `counts` switches percentages and counts."""

    DEFAULT_CSS = """
    ConfusionHeatmap { height: 1fr; }
    ConfusionHeatmap > .datatable--cursor { text-style: reverse; }
    """

    matrix: var[ConfusionMatrix | None] = var(None, init=False)
    counts: var[bool] = var(False, init=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="cell", zebra_stripes=False, cell_padding=0)

    def watch_matrix(self) -> None:
        self._rebuild()

    def watch_counts(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        cursor = self.cursor_coordinate
        self.clear(columns=True)
        matrix = self.matrix
        if matrix is None:
            return
        size = len(matrix.classes)
        widest = max((max(row) for row in matrix.counts), default=0)
        width = (len(str(widest)) if self.counts else 3) + 3  # brackets and a space
        for column in range(size):
            self.add_column(Text(str(column), justify="right"), width=width, key=str(column))
        for true, (name, row) in enumerate(zip(matrix.classes, matrix.counts, strict=True)):
            label = Text(f"{true:>2} {name}"[:LABEL_WIDTH], style="bold")
            cells = [
                cell_text(value, matrix.row_share(true, predicted), true == predicted, self.counts)
                for predicted, value in enumerate(row)
            ]
            self.add_row(*cells, label=label, key=str(true))
        if cursor.row < size and cursor.column < size:
            self.move_cursor(row=cursor.row, column=cursor.column, animate=False)

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
