"""What `export` and `compare` share: the table to stdout or --output, the figures into --plots,
each output checked by the write guard before the first byte of either is written.

Both commands hand `write_table_and_figures` the names of every figure they may draw (in every
format asked for), so that the guard refuses a folder holding someone else's `loss.pdf` exactly
as it refuses their `loss.png`, and a missing matplotlib is said before the table is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tui_trainer.cli.options import ExportFormat
from tui_trainer.cli.output import write_output
from tui_trainer.errors import UsageError, write_error

if TYPE_CHECKING:
    from tui_trainer.store.compare import Comparison


def check_figure_options(plots: Path | None, plot_format: object, title: str | None) -> None:
    """--plot-format and --title shape figures: without --plots there are none, and silently
    writing only the table would hide the missing option (exit 2, before anything is read)."""
    given = [name for name, value in (("--plot-format", plot_format), ("--title", title)) if value]
    if plots is None and given:
        raise UsageError(f"{' and '.join(given)}: no figures without --plots DIR")


def write_table_and_figures(
    table: Comparison,
    format_: ExportFormat,
    output: Path | None,
    plots: Path | None,
    names: list[str],
    draw: Callable[[], list[Path]],
) -> None:
    """Check where `table` (as Markdown or CSV, to --output, else stdout) and the figures `names`
    (into --plots) go, then write the table, then call `draw` to write the figures, and list
    what it wrote."""
    from tui_trainer.console.export import to_csv, to_markdown
    from tui_trainer.console.figure_files import pyplot
    from tui_trainer.printable import printable
    from tui_trainer.write_guard import OutputFile, OutputFolder, check_writes, claim

    check_writes(
        [],
        [OutputFile("--output", output)] if output is not None else [],
        [OutputFolder("--plots", plots, names)] if plots is not None else [],
    )
    if plots is not None:
        pyplot()  # a missing matplotlib is said before anything is written
    write_output(to_markdown(table) if format_ is ExportFormat.md else to_csv(table), output)
    if plots is None:
        return
    try:
        claim(plots, names)
        written = draw()
    except OSError as exc:
        raise write_error(f"cannot write plots into {plots}", exc) from None
    typer.echo("wrote " + ", ".join(printable(str(p)) for p in written), err=True)
