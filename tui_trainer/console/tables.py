"""Rich tables for `tui-trainer runs` and `tui-trainer show`, built from store readers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui_trainer import tomlcompat
from tui_trainer.console.formats import (
    SECONDS_COLUMNS,
    SECONDS_DECIMALS,
    STATE_STYLES,
    number,
    setting,
)
from tui_trainer.console.per_class import test_split_view
from tui_trainer.printable import printable
from tui_trainer.store.compare import comparison
from tui_trainer.store.csvlog import Row
from tui_trainer.store.reader import RunRecord, StudyRecord
from tui_trainer.store.status import COMPLETED


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def cell(value: Any, digits: int = 4) -> Text:
    """A table cell as plain Text: a string read from a file is never parsed as Rich markup
    (an unmatched `[/x]` would raise, `[link=...]` would make a link)."""
    return value if isinstance(value, Text) else Text(fmt(value, digits))


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return number(value, digits)
    if isinstance(value, str):
        return printable(value, limit=80)
    if isinstance(value, datetime):
        try:
            return value.astimezone().strftime("%Y-%m-%d %H:%M")
        except (OverflowError, OSError, ValueError):  # a date outside the platform's range
            return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _progress(run: RunRecord) -> str:
    return f"{run.epoch}/{run.epochs if run.epochs is not None else '?'}"


def study_best(study: StudyRecord) -> tuple[str, str]:
    """A study's best validation and test accuracy, both of its best run (StudyRecord.best_run),
    which the first names when the study has several: ('0.9810 (lr=0.1)', '0.9750')."""
    best = study.best_run
    if best is None:
        return "-", "-"
    val = fmt(best.best_val_acc)
    if len(study.runs) > 1:
        val += f" ({printable(best.name, limit=40)})"
    return val, fmt(best.test_acc)


# `tui-trainer runs`: its columns, and how each is justified
STUDIES_COLUMNS: tuple[tuple[str, str], ...] = (
    ("study / run", "left"),
    ("state", "left"),
    ("epochs", "right"),
    ("best val acc", "right"),
    ("test acc", "right"),
    ("launched", "left"),
)


def studies_rows(studies: Sequence[StudyRecord]) -> Iterator[tuple[Text | str, ...]]:
    """One bold row per study (newest first), then its problems, then one indented row per
    run: the cells of STUDIES_COLUMNS."""
    for study in studies:
        done = sum(1 for run in study.runs if run.state == COMPLETED)
        best_val, test = study_best(study)
        yield (
            Text(study.id, style="bold"),
            state_text(study.state),
            f"{done}/{len(study.runs)} runs",
            Text(best_val),  # a run name: never markup
            test,
            cell(study.launched),
        )
        for problem in study.problems:
            yield (Text(f"  {problem}", style="yellow"), "", "", "", "", "")
        for run in study.runs:
            yield (
                Text(f"  {run.name}"),
                state_text(run.state),
                _progress(run),
                fmt(run.best_val_acc),
                fmt(run.test_acc),
                "",
            )


def studies_table(studies: Sequence[StudyRecord]) -> Table:
    """The rows of studies_rows as a Rich table."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column, justify in STUDIES_COLUMNS:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in studies_rows(studies):
        table.add_row(*row)
    return table


def study_view(study: StudyRecord) -> RenderableType:
    """Header lines and the comparison table: one row per run."""
    launch = study.launch
    header = Text()
    header.append(f"{study.id}", style="bold")
    header.append("  ")
    header.append_text(state_text(study.state))
    lines: list[RenderableType] = [header]
    if study.description:
        lines.append(Text(study.description, style="italic"))
    for problem in study.problems:
        lines.append(Text(problem, style="yellow"))
    details = [
        ("preset", launch.preset),
        ("overrides", " ".join(launch.overrides or []) or None),
        ("launched", fmt(launch.time) if launch.time else None),
        ("host", launch.host),
        ("device", launch.device_name or launch.device),
    ]
    for label, value in details:
        if value:
            lines.append(Text(f"{label}: {printable(str(value))}", style="dim"))

    compared = comparison(study)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in compared.columns:
        justify = "left" if column in ("run", "state") else "right"
        table.add_column(Text(column), justify=justify)  # type: ignore[arg-type]
    swept = set(compared.swept)
    for row in compared.rows:
        cells: list[Text] = []
        for column, value in zip(compared.columns, row, strict=True):
            if column == "state":
                cells.append(state_text(str(value)))
            elif column in SECONDS_COLUMNS:  # as export's Markdown prints it: 209.2
                seconds = float(value) if isinstance(value, (int, float)) else None
                cells.append(
                    Text("-" if seconds is None else number(seconds, SECONDS_DECIMALS["markdown"]))
                )
            elif column in swept:  # as written: 0.05, not 0.050000
                cells.append(Text(printable(setting(value), limit=80)))
            else:
                cells.append(cell(value))
        table.add_row(*cells)
    return Group(*lines, Text(""), table)


def metrics_table(rows: Sequence[Row]) -> Table:
    """metrics.csv as a table, columns in file order."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    columns = list(rows[0]) if rows else []
    for column in columns:
        table.add_column(Text(column), justify="right")
    for row in rows:
        table.add_row(*[Text(_cell(column, row.get(column))) for column in columns])
    return table


def _cell(column: str, value: Any) -> str:
    if isinstance(value, float):
        if column == "lr":
            return f"{value:.4g}"
        if column.endswith("_s") or column == "images_per_s":
            return number(value, 1)
        return number(value)
    return fmt(value)


def summary_table(summary: Mapping[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={setting(v)}" for k, v in value.items()) or "-"
        table.add_row(Text(key), cell(value, 4))
    return table


def run_view(study: StudyRecord, run: RunRecord) -> RenderableType:
    """A run's state, config, summary, its test split per class, and its per-epoch table."""
    header = Text()
    header.append(f"{study.id}/{run.name}", style="bold")
    header.append("  ")
    header.append_text(state_text(run.state))
    header.append(f"  epoch {_progress(run)}")
    parts: list[RenderableType] = [header]
    if run.status.message:
        parts.append(Text(run.status.message, style="yellow"))
    if run.config:
        parts += [Text(""), Text("config", style="bold underline")]
        try:
            text = printable(tomlcompat.dumps(run.config).rstrip(), multiline=True)
        except (RecursionError, ValueError, TypeError):  # nested beyond what can be written
            text = "(config.toml cannot be shown: nested too deeply)"
        parts.append(Text(text))
    if run.summary is not None:
        summary = summary_table(run.summary.to_toml())
        parts += [Text(""), Text("summary", style="bold underline"), summary]
    parts += [Text(""), test_split_view(run)]
    parts += [Text(""), Text("epochs", style="bold underline")]
    parts.append(
        metrics_table(run.metrics) if run.metrics else Text("no finished epoch yet", style="dim")
    )
    return Group(*parts)
