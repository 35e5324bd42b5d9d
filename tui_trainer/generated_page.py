"""The command line of the docs' generated pages (docs/reference/*.md): print the page, or write
it with `--update FILE`. One place, so both references are regenerated the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def page_main(argv: list[str], make_page: Callable[[], str]) -> None:
    """`--update FILE` writes the page there; anything else prints it."""
    if len(argv) == 2 and argv[0] == "--update":
        Path(argv[1]).write_text(make_page(), encoding="utf-8")
        print(f"wrote {argv[1]}")
    else:
        print(make_page(), end="")
