"""`export --plots`' confusion figure: the test confusion matrix of the study's best run (and, in
a study of several runs, confusion-<run> of each), row-normalised so that every class reads on
the same scale, the counts written in the cells while they stay legible.

The diagonal is outlined as well as coloured, so that a printout in grey still shows it: each of
its cells in a box of its own, inset from the cell's edges, because boxes that share corners read
as one staircase line rather than as cells. A diagonal cell always shows its count, 0 included:
a class the model never gets right is the finding of the figure, not an empty cell (other zeros
stay blank, so that the mistakes stand out).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui_trainer.console.figure_files import figure_names, pyplot, save_figure
from tui_trainer.errors import UsageError
from tui_trainer.store.per_class import ConfusionMatrix, UnreadableMatrix, read_confusion
from tui_trainer.store.reader import RunRecord

ANNOTATED_CLASSES = 20  # counts in the cells up to this many classes
NAMED_CLASSES = 40  # class names on the axes up to this many
DIAGONAL_BOX = 0.84  # the side of a diagonal cell's outline, in cells: a gap between neighbours


def confusion_title(title: str, run: str, matrix: ConfusionMatrix) -> str:
    """What the figure shows, under the report's title: whose matrix, how many images, how
    many right."""
    accuracy = matrix.correct / matrix.total if matrix.total else 0.0
    return (
        f"{title}: test confusion matrix of {run}\n{matrix.total} test images, {accuracy:.2%} right"
    )


def confusion_figure(matrix: ConfusionMatrix, title: str) -> Any:
    """The matplotlib figure of the row-normalised matrix, titled `title` (confusion_title)."""
    plt = pyplot()
    from matplotlib.patches import Rectangle

    size = len(matrix.classes)
    shares = [[matrix.row_share(t, p) for p in range(size)] for t in range(size)]
    inches = min(16.0, max(5.0, 0.45 * size + 2.5))
    figure, axes = plt.subplots(figsize=(inches, inches * 0.9), dpi=120)
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    corner = DIAGONAL_BOX / 2
    for index in range(size):
        axes.add_patch(
            Rectangle(
                (index - corner, index - corner),
                DIAGONAL_BOX,
                DIAGONAL_BOX,
                fill=False,
                edgecolor="black",
                lw=1.2,
            )
        )
    if size <= ANNOTATED_CLASSES:
        for t in range(size):
            for p in range(size):
                count = matrix.counts[t][p]
                if count or t == p:
                    colour = "white" if shares[t][p] > 0.5 else "black"
                    axes.text(p, t, str(count), ha="center", va="center", fontsize=8, color=colour)
    if size <= NAMED_CLASSES:
        axes.set_xticks(range(size), matrix.classes, rotation=45, ha="right", fontsize=8)
        axes.set_yticks(range(size), matrix.classes, fontsize=8)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    figure.tight_layout()
    return figure


def draw_confusion(
    matrix: ConfusionMatrix, directory: Path, stem: str, formats: Sequence[str], title: str
) -> list[Path]:
    """The figure of `matrix` as directory/<stem>.<format> for each of `formats`."""
    return save_figure(confusion_figure(matrix, title), directory, stem, formats)


def confusion_stems(runs: Sequence[RunRecord]) -> list[str]:
    """The figures write_confusion_plots may draw: confusion, and confusion-<run> of each run of
    a study of several that has a confusion.csv (named before the first is drawn; write_guard)."""
    with_matrix = [run for run in runs if run.paths.confusion.is_file()]
    if not with_matrix:
        return []
    return ["confusion"] + ([f"confusion-{r.name}" for r in with_matrix] if len(runs) > 1 else [])


def confusion_names(runs: Sequence[RunRecord], formats: Sequence[str]) -> list[str]:
    """The files of confusion_stems in each of `formats`."""
    return figure_names(confusion_stems(runs), formats)


def write_confusion_plots(
    runs: Sequence[RunRecord],
    best: RunRecord | None,
    directory: Path,
    title: str,
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """confusion.<format> of `best` (else the first run with a matrix), and
    confusion-<run>.<format> of every run with a matrix when there are several. Runs without one
    (unfinished, or ended before their test evaluation) are left out; an unreadable matrix is
    said, not drawn."""
    matrices: list[tuple[RunRecord, ConfusionMatrix]] = []
    for run in runs:
        try:
            matrix = read_confusion(run.paths.confusion)
        except UnreadableMatrix as error:
            raise UsageError(f"cannot draw the confusion figure: {error}") from None
        if matrix is not None and matrix.classes:
            matrices.append((run, matrix))
    if not matrices:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    chosen = next(((r, m) for r, m in matrices if best is not None and r.name == best.name), None)
    run, matrix = chosen or matrices[0]
    heading = confusion_title(title, run.name, matrix)
    written = draw_confusion(matrix, directory, "confusion", formats, heading)
    if len(runs) > 1:
        for run, matrix in matrices:
            heading = confusion_title(title, run.name, matrix)
            written += draw_confusion(matrix, directory, f"confusion-{run.name}", formats, heading)
    return written
