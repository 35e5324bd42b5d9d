"""`tui-trainer show STUDY/RUN`'s test-split section: the per-class table, the confusion matrix
and the worst confused pairs, all from confusion.csv (store/per_class.py).

Everything reads without colour (NO_COLOR, a pipe, a printout): the matrix's diagonal is in
brackets, `[48]`, and an empty cell is a `·`; colour only repeats what the characters say.
A matrix wider than MAX_MATRIX_CLASSES would wrap into noise on any terminal: for those the
section says where the whole matrix is (confusion.csv, the inspect screen) and keeps the pairs.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui_trainer.store.per_class import (
    ClassFigures,
    ConfusionMatrix,
    UnreadableMatrix,
    class_label,
    macro_average,
    per_class,
    read_confusion,
    worst_confused,
)
from tui_trainer.store.reader import RunRecord
from tui_trainer.store.status import COMPLETED

MAX_MATRIX_CLASSES = 20  # 20 columns of up to 5 characters, plus names: under 160 columns
WORST_PAIRS = 10


def per_class_table(matrix: ConfusionMatrix) -> Table:
    """One row per class, in the matrix's order, then the macro average."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("class")
    for column in ("precision", "recall", "f1", "support"):
        table.add_column(column, justify="right")
    figures = per_class(matrix)
    for figure in figures:
        table.add_row(Text(figure.name), *_figure_cells(figure))
    table.add_section()
    macro = macro_average(figures)
    table.add_row(Text(macro.name), *_figure_cells(macro), style="italic")
    return table


def _figure_cells(figure: ClassFigures) -> list[str]:
    return [
        f"{figure.precision:.4f}",
        f"{figure.recall:.4f}",
        f"{figure.f1:.4f}",
        str(figure.support),
    ]


def matrix_cell(count: int, diagonal: bool) -> Text:
    """A count of the matrix: `[n]` on the diagonal, `·` for none, else the count."""
    if diagonal:
        return Text(f"[{count}]", style="bold green")
    if count == 0:
        return Text("\u00b7", style="dim")
    return Text(str(count), style="red")


def confusion_table(matrix: ConfusionMatrix) -> Table:
    """Rows: true classes, by number and name; columns: predicted classes, by number."""
    table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left")
    table.add_column("true \\ predicted")
    for number in range(len(matrix.classes)):
        table.add_column(str(number), justify="right")
    for number, (name, row) in enumerate(zip(matrix.classes, matrix.counts, strict=True)):
        cells = [matrix_cell(count, column == number) for column, count in enumerate(row)]
        table.add_row(Text(class_label(number, name)), *cells)
    return table


def test_split_view(run: RunRecord) -> RenderableType:
    """The per-class section of a run; a line saying why there is none when there is not."""
    heading = Text("test split, per class", style="bold underline")
    try:
        matrix = read_confusion(run.paths.confusion)
    except UnreadableMatrix as error:
        return Group(heading, Text(str(error), style="yellow"))
    if matrix is None:
        if run.state == COMPLETED:
            why = "no confusion.csv: this run finished without a test evaluation"
        else:
            why = "appears when the run ends, after its test evaluation"
        return Group(heading, Text(why, style="dim"))
    accuracy = matrix.correct / matrix.total if matrix.total else 0.0
    parts: list[RenderableType] = [
        heading,
        Text(f"{matrix.total} test images, {matrix.correct} right ({accuracy:.2%})", style="dim"),
        per_class_table(matrix),
        Text(""),
        Text("confusion matrix (rows: true class; [n]: right)", style="bold underline"),
    ]
    if len(matrix.classes) <= MAX_MATRIX_CLASSES:
        parts.append(confusion_table(matrix))
    else:
        parts.append(
            Text(
                f"{len(matrix.classes)} classes: too wide to print; the whole matrix is in "
                "confusion.csv and on the inspect screen (`i` in the monitor)",
                style="dim",
            )
        )
    pairs = worst_confused(matrix, WORST_PAIRS)
    parts += [Text(""), Text("most confused (share of the true class)", style="bold underline")]
    if pairs:
        parts.append(Text("  ".join(f"{pair.words()} ({pair.count})" for pair in pairs)))
    else:
        parts.append(Text("no mistakes", style="dim"))
    return Group(*parts)
