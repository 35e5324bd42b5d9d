"""Where each key of a TOML document is written, so that schema errors can name a line.

TOML parsers give values, not positions. This scanner reads the text line by line, follows
`[table]` headers and `key = value` lines (bare, quoted and dotted keys), and records the 1-based
line and column of each key path. It only serves error messages: when a key cannot be found, the
nearest enclosing table that can is used instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_KEY_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED_KEY = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_TABLE_RE = re.compile(rf"^\s*\[\[?\s*({_DOTTED_KEY})\s*\]\]?")
_ASSIGN_RE = re.compile(rf"^(\s*)({_DOTTED_KEY})\s*=")
_PART_RE = re.compile(_KEY_PART)


def split_dotted_key(dotted: str) -> tuple[str, ...]:
    """'a."b.c".d' -> ('a', 'b.c', 'd'): quoted parts keep their dots."""
    parts = []
    for match in _PART_RE.finditer(dotted):
        part = match.group(0)
        if part[0] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return tuple(parts)


@dataclass(frozen=True)
class Position:
    line: int
    col: int


class KeyPositions:
    """Line and column of each key path written in a TOML text."""

    def __init__(self, text: str):
        self._positions: dict[tuple[str, ...], Position] = {}
        table: tuple[str, ...] = ()
        in_multiline_string = False
        # split on "\n" only: TOML's lines, unlike str.splitlines() (U+2028 and friends)
        for number, line in enumerate(text.split("\n"), start=1):
            quotes = line.count('"""') + line.count("'''")
            if in_multiline_string:
                in_multiline_string = quotes % 2 == 0
                continue
            if quotes % 2 == 1:
                in_multiline_string = True
            header = _TABLE_RE.match(line)
            if header:
                table = split_dotted_key(header.group(1))
                self._positions.setdefault(table, Position(number, line.index("[") + 1))
                continue
            assign = _ASSIGN_RE.match(line)
            if assign:
                path = table + split_dotted_key(assign.group(2))
                self._positions.setdefault(path, Position(number, len(assign.group(1)) + 1))

    def has(self, path: Sequence[str]) -> bool:
        """Whether exactly this key path is written in the text."""
        return tuple(str(p) for p in path) in self._positions

    def find(self, path: Sequence[str]) -> Position | None:
        """The position of `path`, or of its nearest written ancestor; None if none is written."""
        key = tuple(str(p) for p in path)
        while key:
            if key in self._positions:
                return self._positions[key]
            key = key[:-1]
        return None
