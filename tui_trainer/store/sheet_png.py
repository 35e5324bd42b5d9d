"""The one reader of the sample sheets' PNGs (samples.png, samples_cam.png), for the inspect
screen and `backfill --cam` alike.

A run directory is data, and data can be hostile or damaged: a FIFO in place of the sheet would
block whoever opens it by path (the app froze for good), a symlink can lead to /dev/zero, a file
of another image format would be decoded by whichever Pillow plugin claims it, and a PNG of
30000x30000 pixels takes under 1 MB on disk but gigabytes once decoded (a decompression bomb).
So the file is opened by store/files.py (a regular file, not through a symlink, non-blocking),
its size is bounded, its width and height are read from the PNG header and checked against the
largest sheet a run writes (store/samples.py) before a single pixel is decoded, and only
Pillow's PNG plugin may decode it. Whatever is wrong is one UnreadableSheet naming the file.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from tui_trainer.printable import printable
from tui_trainer.store.files import open_regular
from tui_trainer.store.samples import MAX_SHEET_HEIGHT, MAX_SHEET_WIDTH

if TYPE_CHECKING:
    from PIL.Image import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# RGB bytes of the largest sheet, and room for PNG's framing (zlib grows data it cannot compress
# by far less than 1%): no PNG a run writes is larger.
MAX_SHEET_BYTES = MAX_SHEET_WIDTH * MAX_SHEET_HEIGHT * 3 * 101 // 100 + (1 << 20)


class UnreadableSheet(ValueError):
    """A sheet PNG that is there but cannot be drawn; its text names the file and says why."""

    def __init__(self, path: Path, reason: str):
        self.reason = reason
        super().__init__(f"{printable(path.name)}: {reason}")


def png_size(header: bytes) -> tuple[int, int] | None:
    """(width, height) from the first 24 bytes of a PNG (its signature, then the IHDR chunk,
    which the format requires first); None when they are not a PNG's."""
    if len(header) < 24 or not header.startswith(PNG_SIGNATURE) or header[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def read_sheet_png(path: Path, max_bytes: int = MAX_SHEET_BYTES) -> Image:
    """The sheet at `path` decoded as RGB, once it is known to be a regular file of at most
    `max_bytes`, a PNG by its header, and at most MAX_SHEET_WIDTH x MAX_SHEET_HEIGHT pixels.
    FileNotFoundError when there is none; UnreadableSheet for anything else."""
    from PIL import Image

    try:
        handle = open_regular(path)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise UnreadableSheet(path, printable(error.strerror or str(error))) from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise UnreadableSheet(path, f"{size:,} bytes, more than a sheet has ({max_bytes:,})")
        dimensions = png_size(handle.read(24))
        if dimensions is None:
            raise UnreadableSheet(path, "not a PNG")
        width, height = dimensions
        if width > MAX_SHEET_WIDTH or height > MAX_SHEET_HEIGHT:
            raise UnreadableSheet(
                path,
                f"{width}x{height} pixels, larger than any sheet a run writes "
                f"({MAX_SHEET_WIDTH}x{MAX_SHEET_HEIGHT}); not decoded",
            )
        handle.seek(0)
        try:
            with Image.open(handle, formats=("PNG",)) as image:
                return image.convert("RGB")
        except Exception as error:  # a damaged PNG is the file's fault, whatever the decoder raises
            reason = printable(str(error) or type(error).__name__, limit=80)
            raise UnreadableSheet(path, f"a damaged PNG ({reason})") from None
