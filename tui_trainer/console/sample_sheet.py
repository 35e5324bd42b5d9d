"""The PNG sheet of `tui-trainer data --samples FILE`: augmented training images in a grid, each
captioned with its class, or, mixed by mixup, its two classes and their weights in percent
(report 002's figure 8). Small images are enlarged by whole pixels (nearest), so what is shown
is what the model is given, not a smoothed copy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tui_trainer.printable import printable

if TYPE_CHECKING:
    from tui_trainer.train.data_summary import AugmentedSample

MIN_TILE = 96  # pixels: a 32x32 image is shown 3x
GAP = 4
LINE = 12  # caption line height with Pillow's default bitmap font
CHAR = 6  # its width per character


def caption_lines(tile: AugmentedSample, width: int) -> list[str]:
    """One line per class of the tile: its name, and its weight when the image is a mix."""
    room = max(4, width // CHAR)
    lines = []
    for name, weight in tile.classes:
        suffix = "" if len(tile.classes) == 1 else f" {weight:.0%}"
        label = printable(name, limit=room - len(suffix))
        lines.append(label + suffix)
    return lines


def sheet_image(tiles: Sequence[AugmentedSample], columns: int = 8) -> np.ndarray:
    """The sheet as HWC uint8: tiles row by row on white, captions below each."""
    from PIL import Image, ImageDraw

    height, width = tiles[0].pixels.shape[:2]
    scale = max(1, math.ceil(MIN_TILE / max(height, width)))
    tile_h, tile_w = height * scale, width * scale
    text_h = LINE * max(len(tile.classes) for tile in tiles) + 2
    columns = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    cell_h, cell_w = tile_h + text_h + GAP, tile_w + GAP
    sheet = Image.new("RGB", (columns * cell_w + GAP, rows * cell_h + GAP), "white")
    draw = ImageDraw.Draw(sheet)
    for index, tile in enumerate(tiles):
        top = GAP + (index // columns) * cell_h
        left = GAP + (index % columns) * cell_w
        pixels = tile.pixels.repeat(scale, axis=0).repeat(scale, axis=1)
        sheet.paste(Image.fromarray(pixels), (left, top))
        for line_no, line in enumerate(caption_lines(tile, tile_w)):
            draw.text((left, top + tile_h + 1 + line_no * LINE), line, fill="black")
    return np.asarray(sheet)


def write_sample_sheet(path: Path, tiles: Sequence[AugmentedSample], columns: int = 8) -> None:
    """Write the sheet as PNG (OSError when it cannot be written)."""
    from PIL import Image

    Image.fromarray(sheet_image(tiles, columns)).save(path, format="PNG")
