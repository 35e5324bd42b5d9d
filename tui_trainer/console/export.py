"""`tui-trainer export` and `compare`: a comparison table as Markdown or CSV, and its runs'
curves as PNG, PDF or SVG.

The figures need matplotlib (the `plots` extra, console/figure_files.py); everything else is the
standard library.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui_trainer.console.chart_scale import bulk_range
from tui_trainer.console.figure_files import pyplot, save_figure
from tui_trainer.console.formats import SECONDS_COLUMNS, SECONDS_DECIMALS, plottable, setting
from tui_trainer.store.compare import Comparison
from tui_trainer.store.csvlog import Row
from tui_trainer.store.reader import RunRecord
from tui_trainer.store.schema import metric_words

# Decimals of a figure, per column kind and format: Markdown is read by people, CSV by programs
# (more decimals, still never a float's noise). Every headline column is a fraction or a loss,
# but the time, in seconds (formats.SECONDS_COLUMNS, which `show` prints the same way).
MARKDOWN_DECIMALS, CSV_DECIMALS = 4, 6


def _cell(table: Comparison, column: str, value: Any, form: str) -> str:
    """One cell: a config or swept value as written (formats.setting), a figure with its
    column kind's decimals, text as it is; empty when unknown."""
    if value is None:
        return ""
    if column in table.swept or isinstance(value, (bool, list)):
        return setting(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)  # nan, inf: a diverged run's figures
        if column in SECONDS_COLUMNS:
            return f"{value:.{SECONDS_DECIMALS[form]}f}"
        return f"{value:.{MARKDOWN_DECIMALS if form == 'markdown' else CSV_DECIMALS}f}"
    return str(value)


def to_markdown(table: Comparison) -> str:
    """A GitHub-flavoured Markdown table; numbers right-aligned, each column kind with its
    decimals (figures 4, seconds 1), config values as written."""
    numeric = [
        all(isinstance(row[i], (int, float)) or row[i] is None for row in table.rows)
        for i in range(len(table.columns))
    ]
    lines = ["| " + " | ".join(table.columns) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    for row in table.rows:
        cells = [
            _cell(table, column, value, "markdown").replace("|", "\\|")
            for column, value in zip(table.columns, row, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: Comparison) -> str:
    """CSV, the table as data: figures with 6 decimals (seconds 3), config values as written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(
            [
                _cell(table, column, value, "csv")
                for column, value in zip(table.columns, row, strict=True)
            ]
        )
    return buffer.getvalue()


OFF_SCALE_LISTED = 4  # clipped values named under a figure's title, the largest first
# (file stem, y label, what the title says is shown, metrics.csv columns: solid, dashed...)
CURVES = (
    ("loss", "loss", "loss (train solid, validation dashed)", ("train_loss", "val_loss")),
    ("accuracy", "accuracy", "accuracy (train solid, validation dashed)", ("train_acc", "val_acc")),
    ("lr", "learning rate", "learning rate", ("lr",)),
)
GRAD_NORM = ("grad_norm", "gradient 2-norm", "gradient 2-norm", ())


def _grad_columns(runs: Sequence[RunRecord]) -> list[str]:
    return sorted(
        {k for run in runs for row in run.metrics[:1] for k in row if k.startswith("grad_norm:")}
    )


def curve_stems(runs: Sequence[RunRecord]) -> list[str]:
    """The curve figures write_plots draws of `runs`: loss, accuracy, lr, and grad_norm when
    gradient norms were tracked."""
    return [stem for stem, *_ in CURVES] + (["grad_norm"] if _grad_columns(runs) else [])


def write_plots(
    runs: Sequence[RunRecord],
    directory: Path,
    title: str,
    formats: Sequence[str] = ("png",),
    labels: Sequence[str] | None = None,
) -> list[Path]:
    """loss and accuracy (train solid, validation dashed, one colour per run), lr, and
    grad_norm when gradient norms were tracked, each in every one of `formats`; each titled
    `title` and what it shows. `labels` name the runs in the legends (their run names by
    default). Returns the files written.

    Each figure's y range is the bulk of its values (console/chart_scale.py): an outlier such
    as a validation loss of 457 among values under 3 is drawn as a triangle on the edge with its
    value beside it, not allowed to flatten every other curve. Y ticks are 1-2-5 steps, epoch
    ticks whole epochs."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    names = list(labels) if labels is not None else [run.name for run in runs]
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    curves: list[tuple[str, str, str, tuple[str, ...]]] = list(CURVES)
    grad_columns = _grad_columns(runs)
    if grad_columns:
        curves.append((*GRAD_NORM[:3], tuple(grad_columns)))
    for stem, ylabel, shown, columns in curves:
        figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
        drawn: list[tuple[list[float], list[float], str]] = []
        for index, (run, name) in enumerate(zip(runs, names, strict=True)):
            colour = f"C{index % 10}"
            for column, style in zip(columns, ("-", "--", ":", "-."), strict=False):
                points = _series(run.metrics, column)
                if points:
                    xs, ys = (list(v) for v in zip(*points, strict=True))
                    label = name if len(columns) == 1 else f"{name} ({metric_words(column)})"
                    axes.plot(xs, ys, style, color=colour, label=label, linewidth=1.4)
                    drawn.append((xs, ys, colour))
        note = _clip_outliers(axes, drawn) if drawn else ""
        axes.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        axes.yaxis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10]))
        axes.set_xlabel("epoch")
        axes.set_ylabel(ylabel)
        heading = f"{title}: {shown}"
        axes.set_title(f"{heading}\n{note}" if note else heading)
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize="small")
        figure.tight_layout()
        written += save_figure(figure, directory, stem, formats)
    return written


def _clip_outliers(axes: Any, drawn: Sequence[tuple[list[float], list[float], str]]) -> str:
    """Set the y range to the bulk of the values, with a margin, and mark each point beyond
    it with a triangle on the edge in its curve's colour. Returns a line that gives the values
    off scale (empty when none is)."""
    everything = [y for _, ys, _ in drawn for y in ys]
    low, high = bulk_range(everything)
    if low <= min(everything) and high >= max(everything):
        return ""  # nothing clipped: matplotlib's own range
    margin = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    bottom, top = low - margin, high + margin
    axes.set_ylim(bottom, top)
    off: list[tuple[float, float]] = []
    for xs, ys, colour in drawn:
        for x, y in zip(xs, ys, strict=True):
            if y > high or y < low:
                edge, marker = (top, "^") if y > high else (bottom, "v")
                axes.plot([x], [edge], marker=marker, color=colour, markersize=8, clip_on=False)
                off.append((x, y))
    off.sort(key=lambda point: -abs(point[1]))
    shown = ", ".join(f"{y:.4g} at epoch {x:g}" for x, y in off[:OFF_SCALE_LISTED])
    more = f" and {len(off) - OFF_SCALE_LISTED} more" if len(off) > OFF_SCALE_LISTED else ""
    return f"off scale (\u25b2\u25bc on the edge): {shown}{more}"


def _series(rows: Sequence[Row], column: str) -> list[tuple[float, float]]:
    xs, ys = plottable([row.get("epoch") for row in rows], [row.get(column) for row in rows])
    return list(zip(xs, ys, strict=True))
