"""The sheet of test images a run writes at its end: samples.png, samples.csv saying which tile
of it is which image (its pixel box, its test index, its true and predicted class names, the
probability of the predicted class, and whether it is a `mistake` or `correct`), and
samples_cam.png, the same boxes each blended with its activation map.

Only the CSV is read here (store/sheet_png.py decodes the PNGs): a reader that draws the tiles
crops them from the PNG by these boxes. Rows that do not parse, or whose box is empty or could not
lie inside any sheet a run writes, are left out rather than failing the run's view: the sheet is
an illustration, not a figure anybody computes with.

The sheet's layout is defined here, where readers and the trainer (train/samples.py) both take
it: at most MAX_TILES square tiles, SHEET_COLUMNS to a row, SHEET_GAP pixels apart, each a test
image at its stored size, at most MAX_TILE_SIZE (data.image_size's upper bound; CIFAR's are 32).
So no sheet a run writes is larger than MAX_SHEET_WIDTH x MAX_SHEET_HEIGHT: the pixel limit of
every reader of samples.png and samples_cam.png.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from tui_trainer.printable import printable
from tui_trainer.store.csvlog import INT_LIMIT
from tui_trainer.store.files import read_limited

MAX_SAMPLES_BYTES = 1024 * 1024  # at most 128 tiles, a few hundred bytes each
MAX_TILES = 128
SHEET_COLUMNS = 16
SHEET_GAP = 1  # pixels between two tiles
MAX_TILE_SIZE = 1024  # pixels: config/schema.py's bound of data.image_size
MAX_SHEET_WIDTH = SHEET_COLUMNS * (MAX_TILE_SIZE + SHEET_GAP) - SHEET_GAP
MAX_SHEET_HEIGHT = -(-MAX_TILES // SHEET_COLUMNS) * (MAX_TILE_SIZE + SHEET_GAP) - SHEET_GAP
MISTAKE, CORRECT = "mistake", "correct"


@dataclass(frozen=True)
class SheetTile:
    """One test image of the sheet: where it is in samples.png and what the model said."""

    tile: int
    x: int
    y: int
    width: int
    height: int
    index: int
    true: str
    predicted: str
    probability: float
    kind: str

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), as pillow's crop takes it."""
        return (self.x, self.y, self.x + self.width, self.y + self.height)

    @property
    def is_mistake(self) -> bool:
        return self.true != self.predicted

    def caption(self) -> str:
        """`cat→dog 0.83`, or `cat 0.97` when right."""
        said = self.true if not self.is_mistake else f"{self.true}\u2192{self.predicted}"
        return f"{said} {self.probability:.2f}"


def box_problem(x: int, y: int, width: int, height: int) -> str | None:
    """Why a tile's box cannot be one of a sheet's (an empty box, or one reaching beyond the
    largest sheet a run writes), or None."""
    if width < 1 or height < 1:
        return f"an empty box ({width}x{height} pixels)"
    if x < 0 or y < 0 or x + width > MAX_SHEET_WIDTH or y + height > MAX_SHEET_HEIGHT:
        return (
            f"a box ({x},{y} {width}x{height}) outside the largest sheet a run writes "
            f"({MAX_SHEET_WIDTH}x{MAX_SHEET_HEIGHT})"
        )
    return None


def _tile(row: dict[str, str]) -> SheetTile | None:
    try:
        numbers = [int(row[key]) for key in ("tile", "x", "y", "width", "height", "index")]
        probability = float(row["probability"])
    except (KeyError, TypeError, ValueError):
        return None
    if not 0 <= numbers[0] < MAX_TILES or not 0 <= numbers[5] < INT_LIMIT:
        return None
    if box_problem(*numbers[1:5]) is not None or not math.isfinite(probability):
        return None
    return SheetTile(
        *numbers,
        true=printable(row.get("true") or "?", limit=40),
        predicted=printable(row.get("predicted") or "?", limit=40),
        probability=probability,
        kind=printable(row.get("kind") or "", limit=20),
    )


class UnreadableSamples(ValueError):
    """samples.csv is there but cannot be read (a FIFO, a link, too large); says why."""


def read_samples(path: Path) -> list[SheetTile] | None:
    """The tiles of samples.csv, mistakes first (in the file's order within each kind); None when
    the run has no sheet (not yet, or a run older than the sheet: `tui-trainer backfill`).
    UnreadableSamples when something else is there in its place."""
    try:
        text = read_limited(path, MAX_SAMPLES_BYTES).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as error:
        reason = printable(error.strerror or str(error))
        raise UnreadableSamples(f"{printable(path.name)}: {reason}") from None
    rows = csv.DictReader(io.StringIO(text))
    tiles = [tile for row in rows if (tile := _tile(row)) is not None][:MAX_TILES]
    return sorted(tiles, key=lambda tile: not tile.is_mistake)
