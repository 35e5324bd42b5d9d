"""Append-only CSV logs (metrics.csv, steps.csv) and the tolerant reader that follows them.

The writer appends one row per call and flushes it, so a reader in another process sees it at
once. The reader counts only newline-terminated rows: a torn last line, as a killed writer leaves
it, is "not written yet", never a wrong number. Column order is fixed by the header.

The reader is total over any bytes: a cell is an int (within 64 bits), a float, empty (None) or
text made printable (a 5000-digit "number" is text, not a crash); a line over
lines.MAX_LINE_BYTES is skipped; only regular files are opened (store/files.py).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tui_trainer.printable import printable
from tui_trainer.store.atomic import write_bytes_atomic
from tui_trainer.store.files import open_for_append, open_for_update, open_regular
from tui_trainer.store.lines import LineFollower

Cell = float | int | str | None
Row = dict[str, Cell]

# ASCII only: float() would also take "1_5" and non-ASCII digits, which no writer produces.
# An int has at most 19 digits (64 bits); a longer run of digits is not a number any writer
# produced (and int() refuses more than 4300 of them).
_INT_RE = re.compile(r"^[+-]?[0-9]{1,19}$")
INT_LIMIT = 2**63
_FLOAT_RE = re.compile(
    r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$|^[+-]?(nan|inf|infinity)$", re.I
)


def format_cell(value: Any) -> str:
    """CSV text of a value: floats round-trip exactly, None is empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def parse_cell(text: str) -> Cell:
    """The value of a CSV cell: int (64-bit), float (nan/inf included), None for empty, else
    the text, made printable."""
    text = text.strip()
    if text == "":
        return None
    first = text[0]
    if first.isdigit() or first in "+-.":  # most cells are numbers: try the cheap test first
        if _INT_RE.match(text):
            value = int(text)
            if -INT_LIMIT <= value < INT_LIMIT:
                return value
        elif len(text) <= 400 and _FLOAT_RE.match(text):
            return float(text)
    elif len(text) <= 20 and _FLOAT_RE.match(text):  # nan, inf, infinity
        return float(text)
    return printable(text)


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that has no newline (a writer killed mid-row) so appends start clean."""
    with open_for_update(path) as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        block = min(size, 1 << 16)
        handle.seek(size - block)
        tail = handle.read(block)
        cut = tail.rfind(b"\n")
        handle.truncate(size - block + cut + 1 if cut >= 0 else 0)


class CsvAppender:
    """Appends rows with a fixed header to a CSV file, flushing each one."""

    def __init__(self, path: Path, fieldnames: Iterable[str]):
        self.path = Path(path)
        self.fieldnames = list(fieldnames)
        if self.path.exists():
            _drop_torn_tail(self.path)
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if not fresh:
            header = read_header(self.path)
            if header != self.fieldnames:
                raise ValueError(f"{self.path}: header {header} differs from {self.fieldnames}")
        self._file = open_for_append(self.path)  # a regular file with one link, no symlink
        self._writer = csv.writer(self._file, lineterminator="\n")
        if fresh:
            self._writer.writerow(self.fieldnames)
            self._file.flush()

    def append(self, row: Mapping[str, Any]) -> None:
        unknown = set(row) - set(self.fieldnames)
        if unknown:
            raise ValueError(f"{self.path}: unknown columns {sorted(unknown)}")
        try:
            self._writer.writerow([format_cell(row.get(name)) for name in self.fieldnames])
            self._file.flush()
        except OSError as exc:
            if exc.filename is None:
                exc.filename = str(self.path)
            raise

    def sync(self) -> None:
        """Make the rows appended so far durable (fsync): done before a checkpoint that counts
        on them."""
        self._file.flush()
        try:
            os.fsync(self._file.fileno())
        except OSError as exc:
            if exc.filename is None:
                exc.filename = str(self.path)
            raise

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CsvAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def split_fields(line: str) -> list[str] | None:
    """The fields of one CSV line; None when it is not valid CSV (or a field is oversized)."""
    try:
        return next(csv.reader(io.StringIO(line)), [])
    except csv.Error:
        return None


def read_header(path: Path) -> list[str] | None:
    """The header of a CSV log as written (not made printable: it is compared, not shown);
    None when the file is missing, unreadable or has no complete first line."""
    try:
        with open_regular(path) as handle:
            first = handle.readline(1 << 20)
    except OSError:
        return None
    if not first.endswith(b"\n"):
        return None
    return split_fields(first.decode("utf-8", errors="replace").rstrip("\r\n"))


class CsvFollower:
    """Reads the complete rows of a growing CSV file, each poll returning only the new ones.

    A file that shrinks (replaced or cut back on resume) is read again from the start; `poll`
    then returns every row and `reset` is True until the next poll. Header names are made
    printable; a row whose field count differs from the header's is skipped.

    With `tail_bytes`, the first poll returns only the rows of the file's last `tail_bytes`
    (the header is read from the first line): the recent rows of a long log, without reading
    all of it.
    """

    def __init__(self, path: Path, *, tail_bytes: int | None = None):
        self.path = Path(path)
        self.header: list[str] | None = None
        self._tail = tail_bytes is not None
        self._lines = LineFollower(self.path, tail_bytes=tail_bytes)

    @property
    def reset(self) -> bool:
        return self._lines.reset

    def poll(self) -> list[Row]:
        if self._tail and self.header is None:
            header = read_header(self.path)
            if header is None:
                return []
            self.header = [printable(name) for name in header]
        lines = self._lines.poll()
        if self._lines.reset:
            self.header = None
            self._tail = False  # read again from the start, header first
        rows: list[Row] = []
        for raw in lines:
            fields = None if raw is None else split_fields(_decode(raw))
            if self.header is None:
                self.header = [printable(name) for name in fields or []]
                continue
            if fields is None or len(fields) != len(self.header):
                continue  # a damaged or oversized row: skipped, never misread
            if self._tail and [printable(v) for v in fields] == self.header:
                continue  # the header itself, when the tail is the whole file
            rows.append({name: parse_cell(v) for name, v in zip(self.header, fields, strict=True)})
        return rows


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def cut_rows_after(path: Path, column: str, last: int) -> int:
    """Keep the header and the complete rows whose `column` is at most `last`; drop the rest
    (rows a resumed run will write again) and any torn tail. The kept lines are copied byte for
    byte and the file is replaced atomically, so a kill during the cut leaves the old file.
    Returns how many rows were dropped; a missing file is left missing."""
    try:
        with open_regular(path) as handle:
            data = handle.read()
    except FileNotFoundError:
        return 0
    lines = data.split(b"\n")[:-1]  # the part after the last newline is torn
    if not lines:
        write_bytes_atomic(path, b"", durable=True)
        return 0
    header = split_fields(_decode(lines[0])) or []
    index = header.index(column) if column in header else None
    kept = [lines[0]]
    for raw in lines[1:]:
        fields = split_fields(_decode(raw))
        if index is None or fields is None or len(fields) != len(header):
            continue  # a damaged row: never kept
        value = parse_cell(fields[index])
        if isinstance(value, int) and value <= last:
            kept.append(raw)
    dropped = len(lines) - len(kept)
    if dropped or data[-1:] != b"\n":
        write_bytes_atomic(path, b"\n".join(kept) + b"\n", durable=True)
    return dropped


def read_rows(path: Path) -> list[Row]:
    """Every complete row of a CSV log; [] when it does not exist yet."""
    return CsvFollower(path).poll()
