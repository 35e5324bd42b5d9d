"""Following a growing file line by line: metrics.csv, steps.csv and trainer.log as a trainer
appends to them.

Each poll reads only the bytes appended since the last one, whatever they hold: the unfinished
last line is kept (up to MAX_LINE_BYTES) and completed by a later poll, never read again from the
start. A line longer than the limit (a damaged file, or 50 MB without a newline) is dropped as it
streams past, so neither memory nor the cost of a poll grows with it: an idle monitor stays idle.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from tui_trainer.store.files import open_regular

MAX_LINE_BYTES = 1 << 20  # a metrics row is about 200 bytes; a log line a few hundred
READ_BLOCK = 1 << 20


class LineFollower:
    """The complete lines appended to `path` since the last poll, as bytes without their
    newline; a line over `max_line` bytes is returned as None (it was there, it is not read).

    A file that shrinks or is replaced (a new inode: cut back on resume, rewritten) is read
    again from its start, and `reset` is True until the next poll. With `tail_bytes`, the
    first poll starts that many bytes before the end (at the first line that starts there)."""

    def __init__(
        self, path: Path, *, max_line: int = MAX_LINE_BYTES, tail_bytes: int | None = None
    ):
        self.path = Path(path)
        self.max_line = max_line
        self.reset = False
        self._tail_bytes = tail_bytes
        self._pos = 0  # where the next read starts
        self._pending = bytearray()  # the unfinished last line
        self._oversized = False  # the unfinished line is over the limit: not kept
        self._partial = False  # the unfinished line began before where reading started
        self._identity: tuple[int, int] | None = None

    def poll(self) -> list[bytes | None]:
        self.reset = False
        try:
            with open_regular(self.path) as handle:
                info = os.fstat(handle.fileno())
                identity = (info.st_dev, info.st_ino)
                if self._identity is not None and (
                    identity != self._identity or info.st_size < self._pos
                ):
                    self._restart()
                    self.reset = True
                if self._identity is None and self._tail_bytes is not None:
                    self._start_near_end(handle, info.st_size)
                self._identity = identity
                if info.st_size <= self._pos:
                    return []
                handle.seek(self._pos)
                lines: list[bytes | None] = []
                while block := handle.read(READ_BLOCK):
                    self._pos += len(block)
                    self._take(block, lines)
                return lines
        except OSError:
            return []

    def _restart(self) -> None:
        self._pos = 0
        self._pending.clear()
        self._oversized = self._partial = False

    def _start_near_end(self, handle: IO[bytes], size: int) -> None:
        tail = self._tail_bytes or 0
        if size > tail:
            self._pos = size - tail
            handle.seek(self._pos - 1)
            # the first line read from the middle is not whole, unless a line ends just before
            self._partial = handle.read(1) != b"\n"

    def _take(self, block: bytes, lines: list[bytes | None]) -> None:
        start = 0
        while (end := block.find(b"\n", start)) >= 0:
            piece = block[start:end]
            if self._partial:
                self._partial = False
            elif self._oversized or len(self._pending) + len(piece) > self.max_line:
                lines.append(None)
            else:
                lines.append(bytes(self._pending) + piece if self._pending else piece)
            self._pending.clear()
            self._oversized = False
            start = end + 1
        rest = block[start:]
        if self._partial or self._oversized or not rest:
            return
        if len(self._pending) + len(rest) > self.max_line:
            self._pending.clear()
            self._oversized = True  # dropped as it streams past; None once its newline comes
        else:
            self._pending += rest
