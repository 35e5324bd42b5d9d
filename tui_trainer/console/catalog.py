"""Rich tables of what tui-trainer offers: `tui-trainer models` and `tui-trainer presets`. The
CLI computes what needs torch (parameter counts) and hands the numbers in."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table
from rich.text import Text

from tui_trainer.config.load import LoadedStudy
from tui_trainer.errors import ConfigError
from tui_trainer.printable import printable


@dataclass(frozen=True)
class ModelRow:
    arch: str
    input_size: int  # native input, square
    params_10: int  # with a 10-class head
    params_100: int
    weights: tuple[str, bool] | None  # ImageNet weights file and whether it is cached


def models_table(rows: Sequence[ModelRow]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("arch")
    table.add_column("input", justify="right")
    table.add_column("params (10 classes)", justify="right")
    table.add_column("params (100 classes)", justify="right")
    table.add_column("ImageNet weights")
    for row in rows:
        weights = "-"
        if row.weights is not None:
            name, cached = row.weights
            weights = f"{name} ({'cached' if cached else 'not cached'})"
        size = f"{row.input_size}x{row.input_size}"
        table.add_row(row.arch, size, f"{row.params_10:,}", f"{row.params_100:,}", weights)
    return table


def presets_table(
    entries: Sequence[tuple[Path, LoadedStudy | ConfigError]],
    builtin: Collection[Path] = (),
    user_dir: Path | None = None,
) -> Table:
    """One row per preset file: its runs, their epochs, whose it is (`built-in`, or `yours`: in
    `user_dir`, said below the table) and its description, or why it is invalid."""
    table = Table(box=None, pad_edge=False, header_style="bold", caption_justify="left")
    table.add_column("preset")
    table.add_column("runs", justify="right")
    table.add_column("epochs", justify="right")
    table.add_column("from")
    table.add_column("description")
    for path, study in entries:
        origin = Text("built-in" if path in builtin else "yours")
        if path not in builtin and user_dir is not None:
            table.caption = printable(f"yours: in {user_dir}")
        if isinstance(study, ConfigError):
            problem = Text(printable(f"invalid: {study.lines()[0]}"), style="red")
            table.add_row(Text(printable(path.stem)), "-", "-", origin, problem)
            continue
        epochs = sorted({run.config.train.epochs for run in study.runs})
        table.add_row(
            Text(printable(path.stem)),
            str(len(study.runs)),
            ",".join(map(str, epochs)),
            origin,
            Text(printable(study.preset.study.description, multiline=True)),
        )
    return table
