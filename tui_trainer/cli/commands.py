"""The `tui-trainer` Typer app: its own options (`--version`, `--runs-dir`, the app without a
command) and every command, listed in the order `--help` shows them.

Each command lives with its kind (training.py, reading.py, inspecting.py); this module only puts
them together, so that what the CLI offers reads in one place.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from tui_trainer import __version__
from tui_trainer.cli import inspecting, reading, training
from tui_trainer.cli.options import FlagsWithoutType, RunsDirOption
from tui_trainer.errors import ExitCode

app = typer.Typer(
    cls=FlagsWithoutType,
    name="tui-trainer",
    help="A terminal experiment runner for PyTorch image-classification studies.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tui-trainer {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    runs_dir: RunsDirOption = Path("runs"),
    preset: Annotated[
        list[Path] | None,
        typer.Option(
            "--preset",
            help="A preset file to list in the app too (repeatable).",
            show_default=False,
        ),
    ] = None,
    bell: Annotated[
        bool,
        typer.Option(
            "--bell",
            help="Ring the terminal bell when a study watched in the monitor finishes or "
            "crashes (b in the monitor switches it too).",
        ),
    ] = False,
) -> None:
    """A terminal experiment runner for PyTorch image-classification studies.

    Without a command: open the app (pick a preset, launch, watch, browse past studies).
    """
    if ctx.invoked_subcommand is not None:
        return
    if not sys.stdout.isatty():
        typer.echo(ctx.get_help())
        typer.echo("\n(the app needs a terminal; `tui-trainer run quickstart` trains headless)")
        raise typer.Exit(int(ExitCode.USAGE))
    from tui_trainer.ui.app import create_app
    from tui_trainer.ui.screens.monitor import MonitorScreen

    MonitorScreen.bell_on_end = bell
    app_ = create_app(runs_dir, list(preset or []))
    app_.run()
    if app_.return_code:  # the app crashed (Textual printed why): say so in the exit code
        raise typer.Exit(app_.return_code)


app.command()(training.run)
app.command()(training.resume)
app.command()(reading.runs)
app.command()(reading.show)
app.command()(reading.export)
app.command()(reading.compare)
app.command()(inspecting.predict)
app.command()(inspecting.backfill)
app.command("worker-run", hidden=True)(training.worker_run)
app.command("worker-check", hidden=True)(training.worker_check)
app.command()(reading.models)
app.command()(reading.params)
app.command()(inspecting.data)
app.command()(reading.presets)


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
