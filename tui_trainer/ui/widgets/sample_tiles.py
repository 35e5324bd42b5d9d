"""A run's sample test images drawn in the terminal: each tile of samples.png (or of
samples_cam.png, its activation maps) cropped by its box in samples.csv and drawn as half-block
cells (`▀`, its top pixel the foreground colour and its bottom pixel the background), so a
TILE_COLS x TILE_ROWS cell tile holds TILE_COLS x 2*TILE_ROWS pixels; under each, the true
class, the predicted one and its probability, and `✗` on a mistake so that it shows without
colour.

Pillow decodes the sheet through store/sheet_png.py, the one reader that checks it first (a
regular file, a PNG, no larger than a run's sheet); torch is never needed. Decoding can be slow
(an image folder's 1024-pixel images make sheets of 16399x8199 pixels), so the inspect screen
draws in a worker thread, never on the UI thread. Tiles are drawn once when the sheet is
loaded, not on every refresh.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.reactive import var
from textual.widget import Widget

from tui_trainer.printable import printable
from tui_trainer.store.samples import SheetTile
from tui_trainer.store.sheet_png import UnreadableSheet, read_sheet_png

TILE_COLS, TILE_ROWS = 16, 8  # 16x16 pixels: CIFAR's 32x32 halved, digits' 8x8 doubled
GAP = 2  # columns between tiles
CAPTION_ROWS = 2


def half_blocks(image: object, cols: int = TILE_COLS, rows: int = TILE_ROWS) -> list[Text]:
    """`image` (a pillow RGB image) scaled to cols x 2*rows pixels, as `rows` lines of `▀`."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    scaled = image.resize((cols, rows * 2), Image.Resampling.BOX).convert("RGB")
    pixels = scaled.load()
    assert pixels is not None
    lines = []
    for row in range(rows):
        line = Text()
        for col in range(cols):
            top, bottom = pixels[col, 2 * row], pixels[col, 2 * row + 1]
            line.append(
                "\u2580", Style(color=Color.from_rgb(*top), bgcolor=Color.from_rgb(*bottom))
            )
        lines.append(line)
    return lines


def draw_tiles(sheet: Path, tiles: list[SheetTile]) -> tuple[dict[int, list[Text]], str]:
    """Each tile of `sheet` drawn as half blocks, by tile number; and what went wrong (empty
    when nothing did): `unreadable: <why>` for a sheet that is not there or not a sheet (a
    FIFO, a device, another format, too large), or boxes outside it (those tiles are left
    out). Call it off the UI thread: it reads and decodes the file."""
    try:
        image = read_sheet_png(sheet)
    except FileNotFoundError:
        return {}, f"unreadable: {printable(sheet.name)}: no such file"
    except UnreadableSheet as error:
        return {}, f"unreadable: {error}"
    drawn = {}
    outside = 0
    for tile in tiles:
        _, _, right, bottom = tile.box
        if right > image.width or bottom > image.height:
            outside += 1
            continue
        drawn[tile.tile] = half_blocks(image.crop(tile.box))
    note = f"{outside} tiles lie outside {sheet.name}" if outside else ""
    return drawn, note


def captions(tile: SheetTile) -> list[Text]:
    """Two lines of TILE_COLS: `cat→dog ✗` (or `cat ✓`), then `p 0.83 #42`."""
    mark = " \u2717" if tile.is_mistake else " \u2713"
    said = f"{tile.true}\u2192{tile.predicted}" if tile.is_mistake else tile.true
    first = said[: TILE_COLS - len(mark)] + mark
    style = "bold red" if tile.is_mistake else "green"
    return [
        Text(first.ljust(TILE_COLS), style=style),
        Text(f"p {tile.probability:.2f} #{tile.index}"[:TILE_COLS].ljust(TILE_COLS)),
    ]


@dataclass(frozen=True)
class SheetView:
    """What the sheet shows: the tiles in order, their drawings by tile number (missing ones
    drawn as blank), and a line above them."""

    tiles: tuple[SheetTile, ...] = ()
    drawn: dict[int, list[Text]] = field(default_factory=dict)
    note: str = ""


class SampleSheet(Widget):
    """Tiles in rows as many as the width takes, each with its captions; grows downwards (put
    it in a VerticalScroll)."""

    DEFAULT_CSS = "SampleSheet { height: auto; padding: 0 1; }"

    view: var[SheetView] = var(SheetView, init=False)

    def watch_view(self) -> None:
        self.refresh(layout=True)

    def per_row(self, width: int) -> int:
        return max(1, (width + GAP) // (TILE_COLS + GAP))

    def note_lines(self, width: int) -> list[str]:
        """The line above the tiles, wrapped to `width` (a reason a sheet is unreadable is
        read whole at 80 columns too)."""
        return textwrap.wrap(self.view.note, max(width, 1)) if self.view.note else []

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        tiles = len(self.view.tiles)
        rows = -(-tiles // self.per_row(width)) if tiles else 0
        return len(self.note_lines(width)) + rows * (TILE_ROWS + CAPTION_ROWS + 1)

    def render(self) -> Text:
        view = self.view
        width = self.content_size.width
        lines = [Text(line, style="italic") for line in self.note_lines(width)]
        per_row = self.per_row(width)
        blank = [Text(" " * TILE_COLS) for _ in range(TILE_ROWS)]
        for start in range(0, len(view.tiles), per_row):
            group = view.tiles[start : start + per_row]
            blocks = [view.drawn.get(tile.tile, blank) + captions(tile) for tile in group]
            for row in range(TILE_ROWS + CAPTION_ROWS):
                lines.append(Text(" " * GAP).join(block[row] for block in blocks))
            lines.append(Text(""))
        return Text("\n").join(lines)
