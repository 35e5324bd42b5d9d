"""`export --plots`' confusion.png: the test confusion matrix of the study's best run (and, in a
study of several runs, confusion-<run>.png of each), row-normalised so that every class reads
on the same scale, the counts written in the cells while they stay legible.

The diagonal is outlined as well as coloured, so that a printout in grey still shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tui_trainer.console.export import pyplot
from tui_trainer.errors import UsageError
from tui_trainer.store.per_class import ConfusionMatrix, UnreadableMatrix, read_confusion
from tui_trainer.store.reader import RunRecord

ANNOTATED_CLASSES = 20  # counts in the cells up to this many classes
NAMED_CLASSES = 40  # class names on the axes up to this many


def draw_confusion(matrix: ConfusionMatrix, path: Path, title: str) -> Path:
    """One figure of the row-normalised matrix, written to `path`."""
    plt = pyplot()
    from matplotlib.patches import Rectangle

    size = len(matrix.classes)
    shares = [[matrix.row_share(t, p) for p in range(size)] for t in range(size)]
    inches = min(16.0, max(5.0, 0.45 * size + 2.5))
    figure, axes = plt.subplots(figsize=(inches, inches * 0.9), dpi=120)
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    for index in range(size):  # the diagonal, outlined
        axes.add_patch(
            Rectangle((index - 0.5, index - 0.5), 1, 1, fill=False, edgecolor="black", lw=1.2)
        )
    if size <= ANNOTATED_CLASSES:
        for t in range(size):
            for p in range(size):
                count = matrix.counts[t][p]
                if count:
                    colour = "white" if shares[t][p] > 0.5 else "black"
                    axes.text(p, t, str(count), ha="center", va="center", fontsize=8, color=colour)
    if size <= NAMED_CLASSES:
        axes.set_xticks(range(size), matrix.classes, rotation=45, ha="right", fontsize=8)
        axes.set_yticks(range(size), matrix.classes, fontsize=8)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    accuracy = matrix.correct / matrix.total if matrix.total else 0.0
    axes.set_title(f"{title}\n{matrix.total} test images, {accuracy:.2%} right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def write_confusion_plots(
    runs: Sequence[RunRecord], best: RunRecord | None, directory: Path, title: str
) -> list[Path]:
    """confusion.png of `best` (else the first run with a matrix), and confusion-<run>.png of
    every run with a matrix when there are several. Runs without one (unfinished, or ended
    before their test evaluation) are left out; an unreadable matrix is said, not drawn."""
    matrices: list[tuple[RunRecord, ConfusionMatrix]] = []
    for run in runs:
        try:
            matrix = read_confusion(run.paths.confusion)
        except UnreadableMatrix as error:
            raise UsageError(f"cannot draw confusion.png: {error}") from None
        if matrix is not None and matrix.classes:
            matrices.append((run, matrix))
    if not matrices:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    chosen = next(((r, m) for r, m in matrices if best is not None and r.name == best.name), None)
    run, matrix = chosen or matrices[0]
    written = [draw_confusion(matrix, directory / "confusion.png", f"{title} {run.name}")]
    if len(runs) > 1:
        for run, matrix in matrices:
            path = directory / f"confusion-{run.name}.png"
            written.append(draw_confusion(matrix, path, f"{title} {run.name}"))
    return written
