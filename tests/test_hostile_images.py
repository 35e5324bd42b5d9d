"""Images of an image folder that would hurt: a decompression bomb is one located line and exit
3, a FIFO named .png is refused instead of blocking, a 16-bit PNG is scaled to 8 bits instead of
being clipped to white, a damaged file names itself."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.helpers import TINY_PRESET, make_fifo, make_folder, within
from tui_trainer.cli import app
from tui_trainer.config.schema import DataSection
from tui_trainer.errors import UnavailableError
from tui_trainer.train.data import load_splits, read_image

runner = CliRunner()


def png(width: int, height: int, *, bits: int = 8, colour: bool = False, value: int = 0) -> bytes:
    """A PNG in the genuine format, every pixel `value`: greyscale or RGB, 8 or 16 bits. Its
    rows are streamed through zlib, so a 30000x30000 one (900 million pixels) is under 1 MB."""
    channels = 3 if colour else 1
    sample = value.to_bytes(bits // 8, "big")
    row = b"\x00" + sample * (width * channels)  # filter byte, then the samples
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(min(height, 64))]
    if height > 64:  # the same row again and again compresses to almost nothing
        block = row * 64
        for _ in range((height - 64) // 64):
            parts.append(compressor.compress(block))
        parts.append(compressor.compress(row * ((height - 64) % 64)))
    parts.append(compressor.flush())

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, bits, 2 if colour else 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(png(30000, 30000))
    return path


def test_a_decompression_bomb_is_refused_without_decoding(bomb):
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(UnavailableError, match=r"bomb.png: refused: .*decompression bomb"):
        read_image(bomb, 32)


def test_an_image_over_the_pixel_limit_is_refused_by_name(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(png(9000, 9000))  # 81 million pixels: under Pillow's limit, over ours
    with pytest.raises(UnavailableError) as caught:
        read_image(path, 32)
    assert str(caught.value) == (
        f"imagefolder: {path}: refused: 9000x9000 pixels is more than the 67,108,864 an image "
        "may have here (a decompression bomb?); resize or remove it"
    )


def test_a_bomb_in_an_image_folder_is_one_line_and_exit_3(tmp_path, write_preset, bomb):
    make_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=6, size=8)
    (tmp_path / "pets" / "cat" / "bomb.png").write_bytes(bomb.read_bytes())
    preset = write_preset(
        TINY_PRESET.replace(
            'dataset = "digits"', f'dataset = "imagefolder"\ndata_dir = "{tmp_path / "pets"}"'
        )
    )
    result = runner.invoke(app, ["run", str(preset), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 3
    assert result.output.startswith(
        f"error: imagefolder: {tmp_path / 'pets/cat/bomb.png'}: refused"
    )
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_a_file_that_is_no_image_says_so_not_the_decoders_file_object(tmp_path):
    path = tmp_path / "notes.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\nxx")
    with pytest.raises(UnavailableError) as caught:
        read_image(path, 8)
    assert str(caught.value) == (
        f"imagefolder: cannot read {path}: not an image of a known kind (PNG, JPEG, BMP, GIF, WEBP)"
    )


@pytest.mark.parametrize("colour", [False, True], ids=["grey", "rgb"])
def test_a_16_bit_png_is_scaled_to_8_bits_not_clipped_to_white(tmp_path, colour):
    path = tmp_path / "deep.png"
    path.write_bytes(png(6, 4, bits=16, colour=colour, value=30000))
    pixels = read_image(path, 4)
    assert pixels.shape == (3, 4, 4) and pixels.dtype == np.uint8
    assert set(pixels.ravel().tolist()) == {117}  # 30000 / 65535 * 255, not 255


def test_8_bit_images_read_as_before(tmp_path):
    path = tmp_path / "grey.png"
    Image.fromarray(np.full((4, 4), 200, dtype=np.uint8)).save(path)
    assert set(read_image(path, 4).ravel().tolist()) == {200}


def test_a_fifo_named_png_in_an_image_folder_is_refused_not_waited_for(tmp_path):
    make_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=4, size=8)
    make_fifo(tmp_path / "pets" / "dog" / "trap.png")
    config = DataSection(dataset="imagefolder", data_dir=str(tmp_path / "pets"))
    with pytest.raises(UnavailableError, match=r"trap.png: not a regular file \(a FIFO\)"):
        within(30, load_splits, config)


def test_a_damaged_image_names_itself(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(png(8, 8)[:40])
    with pytest.raises(UnavailableError, match=f"imagefolder: cannot read {path}"):
        read_image(path, 8)
