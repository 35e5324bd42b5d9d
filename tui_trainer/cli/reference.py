"""The CLI reference, docs/reference/cli.md, generated from Typer's own command tree.

Every command, argument and option is read from the same objects `--help` prints, so the page
cannot promise an option that is gone or miss a new one: a test regenerates it and compares.
Torch-free, like `--help` itself.

    python -m tui_trainer.cli.reference --update docs/reference/cli.md
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
import typer.main

from tui_trainer.cli.commands import app
from tui_trainer.generated_page import page_main

PAGE = Path("docs/reference/cli.md")
UPDATE_COMMAND = f"python -m tui_trainer.cli.reference --update {PAGE}"


def _cell(text: str) -> str:
    """Text as one Markdown table cell: Rich's escaped brackets plain, one line, pipes escaped."""
    return " ".join(text.replace("\\[", "[").split()).replace("|", "\\|")


def _usage(name: str, command: Any) -> str:
    pieces = [name, "[OPTIONS]"]
    for param in command.params:
        if param.param_type_name != "argument":
            continue
        piece = param.name.upper() + ("..." if param.nargs == -1 else "")
        pieces.append(piece if param.required else f"[{piece}]")
    if isinstance(command, typer.core.TyperGroup):
        pieces.append("COMMAND")
    return " ".join(pieces)


def _parameter_rows(command: Any, ctx: typer.Context) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        record = param.get_help_record(ctx)
        if param.param_type_name == "argument":
            names, help_text = param.name.upper(), param.help or ""
            if param.required:
                help_text += "  [required]"
        elif record is None:
            continue
        else:
            names, help_text = record
        rows.append(f"| `{_cell(names)}` | {_cell(help_text)} |")
    return rows


def _section(name: str, command: Any, ctx: typer.Context) -> list[str]:
    lines = [f"## {name}", "", f"`{_usage(name, command)}`", ""]
    for paragraph in (command.help or "").split("\n\n"):
        if paragraph.strip():
            lines += [" ".join(paragraph.split()), ""]
    rows = _parameter_rows(command, ctx)
    return [*lines, "| argument or option | meaning |", "|---|---|", *rows, ""]


def reference_page() -> str:
    """The whole page: the app's own options, then each visible command in `--help`'s order."""
    group = typer.main.get_command(app)
    root = typer.Context(group, info_name="tui-trainer")
    lines = [
        "# The CLI reference",
        "",
        f"<!-- generated from the Typer app by `{UPDATE_COMMAND}`; a test keeps it in step -->",
        "",
        "Every command of `tui-trainer`, as its `--help` gives it. The guides say what each does "
        "in practice; [the README](../../README.md#a-ten-line-tour) has a tour.",
        "",
        *_section("tui-trainer", group, root),
    ]
    for name in group.list_commands(root):
        command = group.get_command(root, name)
        if command is None or command.hidden:
            continue
        ctx = typer.Context(command, info_name=name, parent=root)
        lines += _section(f"tui-trainer {name}", command, ctx)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    page_main(sys.argv[1:], reference_page)
