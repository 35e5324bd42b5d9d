"""A table printed as plain lines: how `tui-trainer runs` lists thousands of studies.

Rich's Table lays out every cell through its renderables (padding, measuring, wrapping,
cropping): at 2,000 studies, 8,000 rows, that was four fifths of `runs`' 5 s. A table whose cells
are each one line and whose columns fit the console at their natural widths needs none of it:
each column is as wide as its widest cell, cells are justified in it and two spaces apart, which
is what Rich's Table(box=None, pad_edge=False) prints for such a table, character for character
(to a pipe or a file, where there are no styles to carry, as plain strings).
A table that does not fit (a narrow terminal) or has a cell of several lines is left to Rich,
which shrinks and wraps columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

GAP = "  "  # one cell of padding either side of each inner edge


def print_grid(
    console: Console,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Sequence[Text | str]],
    header_style: str = "bold",
) -> None:
    """Print `rows` under `columns` (name, "left" or "right") as Rich's Table(box=None,
    pad_edge=False) would, cheaply when every cell is one line and the whole fits."""
    texts = [[cell if isinstance(cell, Text) else Text(cell) for cell in row] for row in rows]
    header = [Text(name, style=header_style) for name, _ in columns]
    widths = [max(cell.cell_len for cell in column) for column in zip(header, *texts, strict=True)]
    one_line = all("\n" not in cell.plain for row in texts for cell in row)
    if not one_line or sum(widths) + len(GAP) * (len(widths) - 1) > console.width:
        console.print(_rich_table(columns, texts, header_style))
        return
    justify = [how for _, how in columns]
    if console.color_system is None:  # a pipe or a file: no styles to carry, plain strings
        plain = [_plain_line(row, widths, justify) for row in [header, *texts]]
        console.file.write("".join(f"{line}\n" for line in plain))
        return
    lines = [_line(row, widths, justify) for row in [header, *texts]]
    console.print(Text("\n").join(lines), soft_wrap=True)


def _plain_line(cells: Sequence[Text], widths: Sequence[int], justify: Sequence[str]) -> str:
    parts = []
    for cell, width, how in zip(cells, widths, justify, strict=True):
        pad = " " * (width - cell.cell_len)
        parts.append(pad + cell.plain if how == "right" else cell.plain + pad)
    return GAP.join(parts)


def _line(cells: Sequence[Text], widths: Sequence[int], justify: Sequence[str]) -> Text:
    line = Text()
    for index, (cell, width, how) in enumerate(zip(cells, widths, justify, strict=True)):
        if index:
            line.append(GAP)
        pad = " " * (width - cell_len(cell.plain))
        if how == "right":
            line.append(pad)
        line.append_text(cell)
        if how != "right":
            line.append(pad)
    return line


def _rich_table(
    columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Text]], header_style: str
) -> Table:
    table = Table(box=None, pad_edge=False, header_style=header_style)
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    return table
