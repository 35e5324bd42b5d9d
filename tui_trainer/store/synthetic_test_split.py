"""What a finished run writes of its test split (confusion.csv, inputs.toml, samples.csv,
samples.png and samples_cam.png), made up and fixed: for the inspect screen's tests and
snapshots and the README's screenshot, without torch or a dataset. The images are drawn shapes
(pillow, imported only here), one look per class, so that a screenshot shows pictures, not
noise."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from tui_trainer.store.atomic import write_text_atomic, write_toml_atomic
from tui_trainer.store.layout import RunPaths

CIFAR10 = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
# the confusions a CIFAR-10 model makes most: (true, predicted, images of 1000)
CONFUSED = {(3, 5): 160, (5, 3): 110, (2, 4): 60, (9, 1): 55, (0, 8): 45, (4, 7): 40}
TILE = 32
PER_ROW = 8


def synthetic_confusion(classes: int = 10, per_class: int = 1000, seed: int = 0) -> list[list[int]]:
    """A plausible matrix: CONFUSED's cells where they exist, a few scattered mistakes else."""
    rng = random.Random(seed)
    scattered = [0, 0, 1, 3, 8] if classes <= 10 else [0] * 9 + [1]  # rows stay positive
    counts = []
    for true in range(classes):
        row = [0] * classes
        for predicted in range(classes):
            if predicted != true:
                row[predicted] = CONFUSED.get((true, predicted), rng.choice(scattered))
        row[true] = per_class - sum(row)
        counts.append(row)
    return counts


def write_confusion_csv(path: Path, names: list[str], counts: list[list[int]]) -> None:
    """confusion.csv in the trainer's format (train/metrics.py write_confusion)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true\\predicted", *names])
    for name, row in zip(names, counts, strict=True):
        writer.writerow([name, *row])
    write_text_atomic(path, buffer.getvalue())


def _draw_tile(draw: object, left: int, top: int, klass: int, cam: bool) -> None:
    from PIL import ImageDraw

    assert isinstance(draw, ImageDraw.ImageDraw)
    hue = [(70, 110, 200), (200, 60, 60), (90, 160, 70), (220, 160, 60), (120, 90, 60)]
    background = (30, 30, 30) if cam else (150 + 10 * (klass % 5), 190, 210)
    draw.rectangle((left, top, left + TILE - 1, top + TILE - 1), fill=background)
    colour = (250, 230, 40) if cam else hue[klass % len(hue)]
    inset = 4 + klass % 4
    box = (left + inset, top + inset, left + TILE - 1 - inset, top + TILE - 1 - inset)
    if klass % 2:
        draw.ellipse(box, fill=colour)
    else:
        draw.rectangle(box, fill=colour)
    if cam:  # a hot centre, as an activation map draws
        draw.ellipse((left + 12, top + 12, left + 20, top + 20), fill=(255, 60, 20))


def write_synthetic_test_split(
    run_dir: Path,
    classes: tuple[str, ...] = CIFAR10,
    mistakes: int = 12,
    correct: int = 4,
    cam: bool = True,
    seed: int = 0,
) -> None:
    """Write the files of RunPaths(run_dir) that a finished run has of its test split; the
    activation maps only when `cam`."""
    from PIL import Image, ImageDraw

    paths = RunPaths(Path(run_dir))
    names = list(classes)
    counts = synthetic_confusion(len(names), seed=seed)
    write_confusion_csv(paths.confusion, names, counts)
    write_toml_atomic(
        paths.inputs,
        {
            "inputs": {
                "dataset": "cifar10",
                "classes": names,
                "channels": 3,
                "image_size": TILE,
                "resize": TILE,
                "mean": [0.4914, 0.4822, 0.4465],
                "std": [0.2470, 0.2435, 0.2616],
            }
        },
    )
    pairs = sorted(CONFUSED.items(), key=lambda item: -item[1])
    rows = [(t, p, "mistake") for (t, p), _ in pairs] * mistakes
    rows = rows[:mistakes] + [(k % len(names), k % len(names), "correct") for k in range(correct)]
    count = len(rows)
    sheets = [Image.new("RGB", (PER_ROW * TILE, -(-count // PER_ROW) * TILE)) for _ in range(2)]
    draws = [ImageDraw.Draw(sheet) for sheet in sheets]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["tile", "x", "y", "width", "height", "index", "true", "predicted", "probability", "kind"]
    )
    for tile, (true, predicted, kind) in enumerate(rows):
        x, y = (tile % PER_ROW) * TILE, (tile // PER_ROW) * TILE
        for draw, is_cam in zip(draws, (False, True), strict=True):
            _draw_tile(draw, x, y, true, is_cam)
        probability = round(0.55 + 0.4 * ((tile * 37) % 10) / 10, 2)
        row = [tile, x, y, TILE, TILE, 100 + 37 * tile, names[true], names[predicted]]
        writer.writerow([*row, probability, kind])
    write_text_atomic(paths.samples, buffer.getvalue())
    sheets[0].save(paths.samples_image)
    if cam:
        sheets[1].save(paths.samples_cam_image)
