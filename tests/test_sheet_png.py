"""The one reader of samples.png and samples_cam.png (store/sheet_png.py), which the inspect
screen and `backfill --cam` share: a FIFO, a link to /dev/zero, another image format, a file
too large and a decompression bomb are each one `samples.png: <why>` without a pixel decoded,
and the largest sheet a run can write is within its limits. Every call that could block runs
under `within`."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.helpers import make_fifo, within
from tests.test_hostile_images import png
from tui_trainer.config.schema import DataSection
from tui_trainer.store.samples import (
    MAX_SHEET_HEIGHT,
    MAX_SHEET_WIDTH,
    MAX_TILE_SIZE,
    MAX_TILES,
    SheetTile,
)
from tui_trainer.store.sheet_png import UnreadableSheet, read_sheet_png
from tui_trainer.train.samples import layout
from tui_trainer.ui.widgets.sample_tiles import draw_tiles


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header says `width` x `height` RGB pixels (2.7 GB decoded at 30000x30000),
    followed by its first rows only: the header is all a reader may look at before it refuses
    (Pillow's own check, and this reader's, look at nothing else), so building the whole
    stream (seconds of zlib) would prove nothing more."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress((b"\x00" + b"\x00" * 3 * width) * 4)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def image_bytes(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format=kind)
    return buffer.getvalue()


def refusal(path, **limits) -> str:
    with pytest.raises(UnreadableSheet) as raised:
        within(10, read_sheet_png, path, **limits)
    return str(raised.value)


def test_the_largest_sheet_a_run_writes_is_the_readers_limit():
    bounds = {type(rule).__name__: rule for rule in DataSection.model_fields["image_size"].metadata}
    assert MAX_TILE_SIZE == bounds["Le"].le == 1024  # the largest stored image a run keeps
    assert layout(MAX_TILES, MAX_TILE_SIZE)[:2] == (MAX_SHEET_WIDTH, MAX_SHEET_HEIGHT)
    assert (MAX_SHEET_WIDTH, MAX_SHEET_HEIGHT) == (16399, 8199)


def test_a_fifo_or_a_link_to_dev_zero_is_refused_without_blocking(tmp_path):
    fifo = make_fifo(tmp_path / "samples.png")
    assert refusal(fifo) == "samples.png: not a regular file (a FIFO)"
    link = tmp_path / "cam" / "samples.png"
    link.parent.mkdir()
    link.symlink_to("/dev/zero")
    assert refusal(link) == "samples.png: is a symlink; not followed"


@pytest.mark.parametrize("kind", ["JPEG", "GIF", "BMP"])
def test_an_image_of_another_format_is_not_a_png(tmp_path, kind):
    path = tmp_path / "samples.png"
    path.write_bytes(image_bytes(kind))
    assert refusal(path) == "samples.png: not a PNG"


def test_a_decompression_bomb_is_refused_from_its_header_without_decoding(tmp_path):
    path = tmp_path / "samples.png"
    path.write_bytes(bomb_png())
    start = time.perf_counter()
    assert refusal(path) == (
        "samples.png: 30000x30000 pixels, larger than any sheet a run writes (16399x8199); "
        "not decoded"
    )
    assert time.perf_counter() - start < 1.0
    path.write_bytes(png(MAX_SHEET_WIDTH + 1, 1))
    assert refusal(path).startswith("samples.png: 16400x1 pixels, larger than any sheet")
    path.write_bytes(png(MAX_SHEET_WIDTH, 1, colour=True, value=7))
    assert np.asarray(read_sheet_png(path)).shape == (1, MAX_SHEET_WIDTH, 3)


def test_a_file_over_the_byte_limit_or_a_damaged_png_names_itself(tmp_path):
    path = tmp_path / "samples.png"
    path.write_bytes(png(16, 16, colour=True))
    assert refusal(path, max_bytes=10) == (
        f"samples.png: {path.stat().st_size:,} bytes, more than a sheet has (10)"
    )
    path.write_bytes(png(16, 16, colour=True)[:-30])  # the pixels cut short
    assert refusal(path).startswith("samples.png: a damaged PNG (")


def test_the_app_draws_an_unreadable_sheet_as_one_line_that_says_why(tmp_path):
    tile = SheetTile(0, 0, 0, 8, 8, 17, "cat", "dog", 0.83, "mistake")
    path = tmp_path / "samples.png"
    path.write_bytes(bomb_png())
    assert within(10, draw_tiles, path, [tile]) == (
        {},
        "unreadable: samples.png: 30000x30000 pixels, larger than any sheet a run writes "
        "(16399x8199); not decoded",
    )
    make_fifo(path)
    assert within(10, draw_tiles, path, [tile]) == (
        {},
        "unreadable: samples.png: not a regular file (a FIFO)",
    )
    path.unlink()
    assert draw_tiles(path, [tile]) == ({}, "unreadable: samples.png: no such file")
