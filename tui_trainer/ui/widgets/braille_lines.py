"""A series' braille line, worked out here and handed to plotext as one character a cell.

plotext draws a braille line by turning every dot on it into a small list of lists, grouping
the dots by cell and looking each cell's pattern up, in several passes of Python over every
dot: about 1 ms a curve, and a monitor chart has a dozen curves (benchmarks/README.md §3). The
same cells are computed here in one pass, with plotext's own arithmetic (where a value lands on
the canvas, which dots join two points), and given to plotext as a scatter of ready characters,
which it places as they are. What reaches the terminal is the same, character for character and
colour for colour: tests/test_braille_lines.py draws random series both ways and compares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

DOTS_ACROSS, DOTS_DOWN = 2, 4  # a braille cell
# the bit of each dot of a cell, by (column, row from the bottom): Unicode numbers a cell's dots
# down the left column 1, 2, 3, 7 and the right one 4, 5, 6, 8
DOT_BITS = {
    (0, 3): 0x01,
    (0, 2): 0x02,
    (0, 1): 0x04,
    (0, 0): 0x40,
    (1, 3): 0x08,
    (1, 2): 0x10,
    (1, 1): 0x20,
    (1, 0): 0x80,
}
BLANK = 0x2800


@dataclass(frozen=True)
class Canvas:
    """The plotting area of a figure: its size in cells and the data ranges it shows."""

    cols: int
    rows: int
    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float

    @property
    def usable(self) -> bool:
        """Cells can be placed exactly (a one-cell or empty range cannot be inverted)."""
        return self.cols >= 2 and self.rows >= 2 and self.x_hi > self.x_lo and self.y_hi > self.y_lo


def _to_dots(values: Sequence[float], lo: float, hi: float, bins: int) -> list[int]:
    """Where plotext puts each value on an axis of `bins` dots (plotext's get_matrix_data)."""
    return [math.floor(round(0.5 + (bins - 1) * (v - lo) / (hi - lo), 8)) for v in values]


def _joined(xs: list[int], ys: list[int]) -> set[tuple[int, int]]:
    """Every dot on the straight lines between consecutive points, as plotext joins them
    (get_line: as many evenly spaced steps as the longer side has dots, truncated to ints)."""
    dots: set[tuple[int, int]] = set()
    for n in range(len(xs) - 1):
        x0, x1, y0, y1 = xs[n], xs[n + 1], ys[n], ys[n + 1]
        steps = max(abs(int(x1) - int(x0)), abs(int(y1) - int(y0))) + 1
        sx = (x1 - x0) / (steps - 1) if steps > 1 else 0
        sy = (y1 - y0) / (steps - 1) if steps > 1 else 0
        for i in range(steps - 1):  # the last dot is the next segment's first
            dots.add((int(x0 + i * sx), int(y0 + i * sy)))
    if xs:
        dots.add((xs[-1], ys[-1]))
    return dots


def braille_cells(
    xs: Sequence[float], ys: Sequence[float], canvas: Canvas, joined: bool = True
) -> tuple[list[float], list[float], list[str]]:
    """The cells a braille series covers on `canvas` (its points joined by lines, or not): for
    each, the data x and y that plotext maps to that cell, and its character."""
    px = _to_dots(xs, canvas.x_lo, canvas.x_hi, canvas.cols * DOTS_ACROSS)
    py = _to_dots(ys, canvas.y_lo, canvas.y_hi, canvas.rows * DOTS_DOWN)
    dots = _joined(px, py) if joined else set(zip(px, py, strict=True))
    cells: dict[tuple[int, int], int] = {}
    for x, y in dots:
        cell = (x // DOTS_ACROSS, y // DOTS_DOWN)
        cells[cell] = cells.get(cell, 0) | DOT_BITS[(x % DOTS_ACROSS, y % DOTS_DOWN)]
    x_step = (canvas.x_hi - canvas.x_lo) / (canvas.cols - 1)
    y_step = (canvas.y_hi - canvas.y_lo) / (canvas.rows - 1)
    cx, cy, chars = [], [], []
    for (col, row), bits in cells.items():
        if 0 <= col < canvas.cols and 0 <= row < canvas.rows:
            cx.append(canvas.x_lo + col * x_step)  # maps back to `col` on a one-dot-a-cell axis
            cy.append(canvas.y_lo + row * y_step)
            chars.append(chr(BLANK + bits))
    return cx, cy, chars
