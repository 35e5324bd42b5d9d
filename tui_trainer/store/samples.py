"""The sheet of test images a run writes at its end: samples.png, samples.csv saying which tile
of it is which image (its pixel box, its test index, its true and predicted class names, the
probability of the predicted class, and whether it is a `mistake` or `correct`), and
samples_cam.png, the same boxes each blended with its activation map.

Only the CSV is read here (no image library in store/): a reader that draws the tiles crops them
from the PNG by these boxes. Rows that do not parse are left out rather than failing the run's
view: the sheet is an illustration, not a figure anybody computes with.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from tui_trainer.printable import printable
from tui_trainer.store.files import read_limited

MAX_SAMPLES_BYTES = 1024 * 1024  # at most 128 tiles, a few hundred bytes each
MAX_TILES = 128
MISTAKE, CORRECT = "mistake", "correct"


@dataclass(frozen=True)
class SampleTile:
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


def _tile(row: dict[str, str]) -> SampleTile | None:
    try:
        numbers = [int(row[key]) for key in ("tile", "x", "y", "width", "height", "index")]
        probability = float(row["probability"])
    except (KeyError, TypeError, ValueError):
        return None
    if min(numbers) < 0 or numbers[3] == 0 or numbers[4] == 0 or not math.isfinite(probability):
        return None
    return SampleTile(
        *numbers,
        true=printable(row.get("true") or "?", limit=40),
        predicted=printable(row.get("predicted") or "?", limit=40),
        probability=probability,
        kind=printable(row.get("kind") or "", limit=20),
    )


def read_samples(path: Path) -> list[SampleTile] | None:
    """The tiles of samples.csv, mistakes first (in the file's order within each kind); None when
    the run has no sheet (not yet, or a run older than the sheet: `tui-trainer backfill`)."""
    try:
        text = read_limited(path, MAX_SAMPLES_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    rows = csv.DictReader(io.StringIO(text))
    tiles = [tile for row in rows if (tile := _tile(row)) is not None][:MAX_TILES]
    return sorted(tiles, key=lambda tile: not tile.is_mistake)
