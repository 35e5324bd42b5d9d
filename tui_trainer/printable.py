"""Text from a run's files made safe for a terminal: one function, `printable`, applied wherever
such text is read (store/ records, CSV headers and cells, trainer.log lines, directory names) and
where the CLI and the app print what the user or a file wrote (error lines, notifications).

A study directory is data that anyone who could write the runs directory may have written. Its
description, a directory name or a log line can hold escape sequences that retitle the terminal,
clear it, or write the clipboard (OSC 52) when printed raw, and undecodable bytes in a file name
(surrogate escapes) make `print` itself raise. Control characters are therefore shown as Python
writes them in a string literal (`\\x1b`), visible and inert; nothing else is changed, so plain
text and every name tui-trainer writes itself reads exactly as written.

No dependencies: config/, store/, console/ and ui/ all use it.
"""

from __future__ import annotations

import re

# C0 and C1 controls and DEL; the line and paragraph separators; the bidirectional embeddings,
# overrides and isolates (they reorder what follows them on screen); lone surrogates (an
# undecodable byte of a file name, which no terminal encoding can print).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_MULTILINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
ELLIPSIS = "…"


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\t":
        return " "
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's escape of an undecodable byte: show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, *, multiline: bool = False, limit: int | None = None) -> str:
    """`text` with every control character shown as an inert escape (`\\x1b`, `\\u202e`); a tab
    becomes a space; newlines are kept only when `multiline`. With `limit`, text longer than
    that many characters is cut and ends in an ellipsis."""
    pattern = _UNSAFE_MULTILINE if multiline else _UNSAFE
    if pattern.search(text) is not None:
        text = pattern.sub(_escape, text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + ELLIPSIS
    return text


def printable_value(value: object) -> object:
    """A value read from a TOML or CSV file with every string in it made `printable` (keys of
    tables included), for values of any shape: tables, arrays, scalars."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(key)): printable_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [printable_value(item) for item in value]
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """`text` with each lone surrogate (the undecodable byte of a file name that is not UTF-8,
    as os.fsdecode escapes it) written as `printable` shows it, `\\xff`, and nothing else
    changed: what a file or a pipe gets, in UTF-8, where `printable` is for a terminal."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(_escape, text)
