"""What the CLI imports before it does anything: `--help` and `runs` on an empty runs
directory start in a fresh interpreter without pydantic (typer builds a pydantic adapter for a
parameter's value unless cli/plain_params.py converts it), torch, textual, or, for `--help`,
the store's readers and the console's tables. Checked in sys.modules, as tests/test_import_rule.py
does; no test here times anything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import pytest
import typer

from tui_trainer.cli.options import FlagsWithoutType

HEAVY = ("pydantic", "torch", "textual")
READERS = ("tui_trainer.store.reader", "tui_trainer.store.schema", "tui_trainer.console.tables")


def imported_by(*args: str) -> tuple[int, list[str]]:
    """The exit code of `tui-trainer ARGS` run in a fresh interpreter, and the modules of
    HEAVY and READERS it imported."""
    code = f"""
import json, sys
from tui_trainer.cli import app
try:
    app({list(args)!r})
except SystemExit as exit:
    code = exit.code or 0
watched = {HEAVY + READERS!r}
print(json.dumps([code, sorted(m for m in watched if m in sys.modules)]), file=sys.stderr)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    exit_code, modules = json.loads(done.stderr.splitlines()[-1])
    return exit_code, modules


@pytest.mark.process
def test_help_imports_neither_pydantic_torch_textual_nor_the_store_readers():
    assert imported_by("--help") == (0, [])


@pytest.mark.process
def test_runs_on_an_empty_directory_imports_neither_pydantic_torch_nor_textual(tmp_path):
    assert imported_by("runs", "--runs-dir", str(tmp_path)) == (
        0,
        ["tui_trainer.store.reader", "tui_trainer.store.schema"],
    )


def test_runs_reads_its_runs_dir_from_the_environment_and_a_path_as_typed(tmp_path, monkeypatch):
    """The plain conversion keeps what typer did: the variable's value, `~` not expanded."""
    from typer.testing import CliRunner

    from tui_trainer.cli import app

    monkeypatch.setenv("TUI_TRAINER_RUNS_DIR", str(tmp_path / "from-env"))
    listed = CliRunner().invoke(app, ["runs"])
    assert (listed.exit_code, listed.output) == (
        0,
        f"no studies under {tmp_path}/from-env/ yet (start one with `tui-trainer run`)\n",
    )
    listed = CliRunner().invoke(app, ["runs", "--runs-dir", "~nobody-here/x"])
    assert listed.output.startswith("no studies under ~nobody-here/x/ yet")


def test_a_flag_from_an_environment_variable_is_read_by_typers_own_rules():
    """A flag's value that is not yet a bool ("0", "yes" from the environment) goes to typer's
    coercion; one given as a flag, and a path, are converted without it."""
    from typer.testing import CliRunner

    app = typer.Typer(cls=FlagsWithoutType)

    @app.command()
    def show(
        where: Path = Path("runs"),
        loud: Annotated[bool, typer.Option("--loud", envvar="LOUD")] = False,
    ) -> None:
        typer.echo(f"{where!r} {loud!r}")

    runner = CliRunner()
    assert runner.invoke(app, [], env={"LOUD": "0"}).output == "PosixPath('runs') False\n"
    assert (
        runner.invoke(app, ["--where", "x"], env={"LOUD": "yes"}).output == "PosixPath('x') True\n"
    )
    assert runner.invoke(app, ["--where", "x", "--loud"]).output == "PosixPath('x') True\n"
