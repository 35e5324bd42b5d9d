"""The sample sheet of a run's test split: samples.png and samples.csv.

One small PNG says more about what a model gets wrong than a confusion matrix: the most confident
mistakes of the most confused class pairs first, then one confident correct image per class.
Tiles are the test images at their stored size, in a grid with a 1-pixel gap; samples.csv names
each tile's pixel box, so that readers (the inspect screen, `backfill --cam`) cut tiles out of
the sheet without the dataset. The layout's figures are store/samples.py's, where readers take
their limits from; `backfill --cam` reads the sheet through the same checked reader as the app
(store/sheet_png.py), and refuses a tile whose box is empty or outside the sheet by its line.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tui_trainer.errors import UnavailableError, UsageError
from tui_trainer.store.atomic import write_bytes_atomic, write_text_atomic
from tui_trainer.store.samples import MAX_TILES, box_problem
from tui_trainer.store.samples import SHEET_COLUMNS as MAX_COLUMNS
from tui_trainer.store.samples import SHEET_GAP as GAP

MAX_MISTAKES = 64  # so that one correct tile per class of a 64-class set still fits
MISTAKES_PER_PAIR = 4  # spread the mistakes over several confused pairs
SAMPLE_COLUMNS = (
    "tile",
    "x",
    "y",
    "width",
    "height",
    "index",
    "true",
    "predicted",
    "probability",
    "kind",
)


@dataclass(frozen=True)
class Tile:
    """One tile of the sheet: which test image, where, and what the model said of it."""

    tile: int
    x: int
    y: int
    width: int
    height: int
    index: int  # into the test split
    true: str
    predicted: str
    probability: float  # of the predicted class
    kind: str  # mistake | correct


def choose_samples(probabilities: np.ndarray, labels: np.ndarray) -> list[tuple[int, str]]:
    """(test index, kind) in sheet order. Mistakes: class pairs (true, predicted) by how many
    test images they confuse, most first, at most MISTAKES_PER_PAIR of each pair, most
    confident first, MAX_MISTAKES in all. Then, per class in class order, its most confident
    correct image, until MAX_TILES. Ties go to the lower index, so the sheet is deterministic."""
    predicted = probabilities.argmax(1)
    confidence = probabilities[np.arange(len(labels)), predicted]
    wrong = np.flatnonzero(predicted != labels)
    pairs: dict[tuple[int, int], list[int]] = {}
    for index in wrong:
        pairs.setdefault((int(labels[index]), int(predicted[index])), []).append(int(index))
    chosen: list[tuple[int, str]] = []
    for pair in sorted(pairs, key=lambda p: (-len(pairs[p]), p)):
        members = sorted(pairs[pair], key=lambda i: (-confidence[i], i))
        for index in members[:MISTAKES_PER_PAIR]:
            if len(chosen) < MAX_MISTAKES:
                chosen.append((index, "mistake"))
    for cls in range(probabilities.shape[1]):
        if len(chosen) >= MAX_TILES:
            break
        right = np.flatnonzero((labels == cls) & (predicted == cls))
        if len(right):
            best = min(right, key=lambda i: (-confidence[i], i))
            chosen.append((int(best), "correct"))
    return chosen


def layout(count: int, size: int) -> tuple[int, int, list[tuple[int, int]]]:
    """(sheet width, sheet height, top-left corner of each tile) of `count` square tiles."""
    columns = max(1, min(MAX_COLUMNS, count))
    rows = max(1, math.ceil(count / columns))
    step = size + GAP
    corners = [((i % columns) * step, (i // columns) * step) for i in range(count)]
    return columns * step - GAP, rows * step - GAP, corners


def build_sheet(
    images: np.ndarray,
    probabilities: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
) -> tuple[np.ndarray, list[Tile]]:
    """The sheet (uint8 HxWx3) and its tiles; `images` are the test split's, uint8 [N,C,S,S]."""
    chosen = choose_samples(probabilities, labels)
    size = images.shape[-1]
    width, height, corners = layout(len(chosen), size)
    sheet = np.zeros((height, width, 3), dtype=np.uint8)
    tiles = []
    for number, ((index, kind), (x, y)) in enumerate(zip(chosen, corners, strict=True)):
        picture = images[index].transpose(1, 2, 0)
        if picture.shape[2] == 1:
            picture = np.repeat(picture, 3, axis=2)
        sheet[y : y + size, x : x + size] = picture[:, :, :3]
        predicted = int(probabilities[index].argmax())
        tiles.append(
            Tile(
                tile=number,
                x=x,
                y=y,
                width=size,
                height=size,
                index=index,
                true=class_names[int(labels[index])],
                predicted=class_names[predicted],
                probability=round(float(probabilities[index, predicted]), 4),
                kind=kind,
            )
        )
    return sheet, tiles


def png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def write_sheet(image_path: Path, csv_path: Path, sheet: np.ndarray, tiles: Sequence[Tile]) -> None:
    """samples.png, then samples.csv (a reader that finds the CSV finds its sheet)."""
    write_bytes_atomic(image_path, png_bytes(sheet), durable=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SAMPLE_COLUMNS)
    for t in tiles:
        writer.writerow(
            [t.tile, t.x, t.y, t.width, t.height, t.index, t.true, t.predicted,
             f"{t.probability:.4f}", t.kind]
        )  # fmt: skip
    write_text_atomic(csv_path, buffer.getvalue(), durable=True)


def read_tiles(csv_path: Path) -> list[Tile]:
    """samples.csv's tiles: a UsageError naming the file and line when a row is not a tile of a
    sheet (a box of no width or height, or beyond any sheet), an UnavailableError when the file
    cannot be read."""
    from tui_trainer.store.files import MAX_TOML_BYTES, read_limited

    try:
        text = read_limited(csv_path, MAX_TOML_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnavailableError(f"{csv_path}: not a readable sample list ({exc})") from None
    tiles = []
    for line, r in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            tile = Tile(
                tile=int(r["tile"]),
                x=int(r["x"]),
                y=int(r["y"]),
                width=int(r["width"]),
                height=int(r["height"]),
                index=int(r["index"]),
                true=r["true"],
                predicted=r["predicted"],
                probability=float(r["probability"]),
                kind=r["kind"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{csv_path}:{line}: not a tile of the sheet ({exc})") from None
        problem = box_problem(tile.x, tile.y, tile.width, tile.height)
        if problem is not None:
            raise UsageError(f"{csv_path}:{line}: tile {tile.tile} has {problem}")
        tiles.append(tile)
    return tiles


def read_sheet(image_path: Path) -> np.ndarray:
    """samples.png as uint8 HxWx3, read by the checked reader the app uses (a regular file, a
    PNG, no larger than a run's sheet); a UsageError naming the file otherwise."""
    from tui_trainer.store.sheet_png import UnreadableSheet, read_sheet_png

    try:
        image = read_sheet_png(image_path)
    except FileNotFoundError:
        raise UsageError(f"{image_path}: no such file") from None
    except UnreadableSheet as exc:
        raise UsageError(f"{image_path}: {exc.reason}") from None
    return np.asarray(image, dtype=np.uint8).copy()


def cut_tiles(sheet: np.ndarray, tiles: Sequence[Tile]) -> list[np.ndarray]:
    """Each tile's pixels (uint8 HxWx3), cut from the sheet along its box."""
    height, width = sheet.shape[:2]
    cut = []
    for t in tiles:
        inside = min(t.x, t.y) >= 0 and t.x + t.width <= width and t.y + t.height <= height
        if not inside or min(t.width, t.height) < 1:
            raise UsageError(
                f"samples.csv: tile {t.tile}'s box ({t.x},{t.y} {t.width}x{t.height}) lies "
                f"outside samples.png ({width}x{height})"
            )
        cut.append(sheet[t.y : t.y + t.height, t.x : t.x + t.width])
    return cut
