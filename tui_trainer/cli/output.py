"""What every command prints the same way: tables on stdout, errors on stderr as one line each
with the exit code of their kind, never a traceback for a user's mistake."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tui_trainer.errors import ExitCode, TuiTrainerError, write_error

if TYPE_CHECKING:
    from rich.console import Console


def stdout_console() -> Console:
    from rich.console import Console  # not on the way to `--help` or an empty listing

    # Piped output (a file, `less`, CI) gets wide lines so that tables are not cut. No markup:
    # what is printed includes text read from files, which must never be parsed as markup.
    return Console(width=None if sys.stdout.isatty() else 200, soft_wrap=False, markup=False)


def print_error(line: str) -> None:
    """One line on stderr. Made printable: an error may quote what a file holds (a key of a
    hostile preset, a path in a study), and nothing from a file reaches the terminal raw."""
    from tui_trainer.printable import printable

    prefix = (
        typer.style("error:", fg=typer.colors.RED, bold=True) if sys.stderr.isatty() else "error:"
    )
    typer.echo(f"{prefix} {printable(line)}", err=True)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Print a user error as one line per problem on stderr and exit with its code."""
    try:
        yield
    except TuiTrainerError as error:
        for line in error.lines():
            print_error(line)
        raise typer.Exit(int(error.exit_code)) from None
    except KeyboardInterrupt:
        print_error("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except OSError as error:  # the last net: a file system error is a line, not a traceback
        where = f"{error.filename}: " if error.filename else ""
        print_error(f"{where}{error.strerror or error}")
        raise typer.Exit(int(ExitCode.UNAVAILABLE)) from None


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def for_stdout(text: str, terminal: bool) -> str:
    """What of `text` goes to stdout: on a terminal, made printable (a class name from a run's
    inputs.toml can hold an escape sequence that retitles it); to a file or a pipe, the data as
    it is, newlines and all."""
    from tui_trainer.printable import printable

    return printable(text, multiline=True) if terminal else text


def write_output(text: str, output: Path | None) -> None:
    """`text` on stdout, or into the file `--output` names (a line on stderr says so); either
    way `encodable`, so that a name that is not UTF-8 is kept, never a UnicodeEncodeError."""
    from tui_trainer.printable import encodable, printable

    text = encodable(text)
    if output is None:
        typer.echo(for_stdout(text, stdout_is_terminal()), nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise write_error(f"--output {output}: cannot write it", exc) from None
    typer.echo(f"wrote {printable(str(output))}", err=True)
