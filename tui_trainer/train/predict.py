"""`tui-trainer predict`: classify a folder of new images with a finished run.

Each image is read as the run's image folders are read when training (train/data.read_image:
decoded to 8-bit RGB, 16-bit PNGs scaled rather than clipped, resized to the stored size), then
put through the run's evaluation transform (resize, the recorded mean/std): predicting the run's
own test images, written out as PNGs, gives its test accuracy. An image that cannot be read is
one line on stderr and a row with its error, in its place: rows never shift.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tui_trainer.errors import UnavailableError, UsageError, write_error
from tui_trainer.printable import encodable
from tui_trainer.store.atomic import write_bytes_atomic
from tui_trainer.train.cam_caption import caption_lines, captioned
from tui_trainer.train.data import IMAGE_SUFFIXES, read_image
from tui_trainer.train.gradcam import default_layer, find_layer, grad_cam, overlay
from tui_trainer.train.run_model import RunModel
from tui_trainer.train.samples import png_bytes
from tui_trainer.write_guard import OutputFile, OutputFolder, check_writes, claim

CAM_BATCH = 64  # a Grad-CAM batch keeps every activation for the backward pass
CAM_MIN_SIDE = 128  # overlays of small images are scaled up (nearest) to at least this side


@dataclass
class Prediction:
    """One image's row: its top classes with their probabilities, or why it has none."""

    path: str
    true: str | None  # the class its parent folder names, if it names one
    top: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None


def image_files(folder: Path) -> list[Path]:
    """Every file under `folder` (recursive, hidden ones left out) with a suffix that
    `imagefolder` reads, sorted by path."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES and not path.is_dir():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def predict_folder(
    run: RunModel,
    folder: Path,
    topk: int,
    warn: Callable[[str], None],
    cam_dir: Path | None = None,
    cam_layer: str | None = None,
    output: OutputFile | None = None,
) -> list[Prediction]:
    """A Prediction per image under `folder`, in image_files' order. Where it and `output` (the
    file the rows go to, written by the caller) may write is checked before any image is read
    (write_guard): never into `folder`, never over a file in `cam_dir` it did not write."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a directory of images")
    files = image_files(folder)
    if not files:
        raise UsageError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) under it")
    overlays = (
        [OutputFolder("--cam", cam_dir, [overlay_name(f, folder) for f in files])]
        if cam_dir is not None
        else []
    )
    check_writes([folder], [output] if output is not None else [], overlays)
    classes = run.inputs.classes
    topk = max(1, min(topk, len(classes)))
    layer = None
    if cam_dir is not None:  # named or found before any image is read: a bad name fails first
        inputs = run.inputs
        if cam_layer is not None:
            find_layer(run.model, cam_layer)
        layer = cam_layer or default_layer(run.model, inputs.channels, inputs.resize, run.device)
    rows: list[Prediction] = []
    for chunk in _chunks(files, run.batch_size):
        pixels, readable = [], []
        for path in chunk:
            parent = path.parent.name  # FOLDER's own name too: `predict RUN data/cat`
            row = Prediction(str(path), parent if parent in classes else None)
            rows.append(row)
            try:
                pixels.append(read_image(path, run.inputs.image_size))
                readable.append(row)
            except UnavailableError as exc:
                row.error = str(exc).removeprefix("imagefolder: ")
                warn(row.error)
        if not readable:
            continue
        batch = torch.from_numpy(np.stack(pixels)).to(run.device)
        with torch.no_grad():
            probabilities = torch.softmax(run.model(run.pipeline(batch)).float(), dim=1)
        values, indices = probabilities.topk(topk, dim=1)
        for row, value, index in zip(readable, values.tolist(), indices.tolist(), strict=True):
            row.top = [(classes[i], p) for i, p in zip(index, value, strict=True)]
        if cam_dir is not None and layer is not None:
            paths = [Path(r.path) for r in readable]
            captions = [(r.true, *r.top[0]) for r in readable]
            write_overlays(run, batch, paths, folder, cam_dir, layer, captions)
    return rows


def write_overlays(
    run: RunModel,
    batch: torch.Tensor,
    paths: Sequence[Path],
    folder: Path,
    cam_dir: Path,
    layer: str,
    captions: Sequence[tuple[str | None, str, float]],
) -> None:
    """Per image: the image beside its Grad-CAM overlay for the predicted class, captioned
    with its (true class, predicted class, probability) of `captions` (train/cam_caption.py), as
    cam_dir/<overlay_name> (each name claimed in cam_dir's manifest just before)."""
    for start in range(0, len(paths), CAM_BATCH):
        images = batch[start : start + CAM_BATCH]
        maps = grad_cam(run.model, run.pipeline(images), layer)
        side = images.shape[-1]
        heat = maps.heat(side, side).cpu().numpy()
        names = [overlay_name(path, folder) for path in paths[start : start + CAM_BATCH]]
        try:
            claim(cam_dir, names)
        except OSError as exc:
            raise write_error(f"--cam {cam_dir}: cannot write it", exc) from None
        for offset, name in enumerate(names):
            picture = images[offset].permute(1, 2, 0).cpu().numpy()
            pair = side_by_side(picture, overlay(picture, heat[offset]))
            true, predicted, probability = captions[start + offset]
            pair = captioned(pair, caption_lines(true, predicted, probability, pair.shape[1]))
            target = cam_dir / name
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(target, png_bytes(pair))
            except OSError as exc:
                raise write_error(f"--cam {cam_dir}: cannot write {target}", exc) from None


def overlay_name(image: Path, folder: Path) -> str:
    """Where `predict --cam DIR` writes the overlay of `image`, relative to DIR: its path under
    `folder`, `.png` added to any other suffix (`a/x.jpg` -> `a/x.jpg.png`, `a/y.png` stays)."""
    relative = image.relative_to(folder)
    if relative.suffix.lower() != ".png":
        relative = relative.with_name(relative.name + ".png")
    return relative.as_posix()


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 2) -> np.ndarray:
    """Two HxWx3 images, scaled up (nearest) so that their side reaches CAM_MIN_SIDE."""
    scale = max(1, math.ceil(CAM_MIN_SIDE / max(left.shape[:2])))
    left, right = (np.kron(x, np.ones((scale, scale, 1), dtype=np.uint8)) for x in (left, right))
    spacer = np.zeros((left.shape[0], gap, 3), dtype=np.uint8)
    return np.concatenate([left, spacer, right], axis=1)


def accuracy(rows: Sequence[Prediction]) -> tuple[int, int]:
    """(correct, counted) over the rows whose folder names a class and that were read."""
    counted = [row for row in rows if row.true is not None and row.top]
    return sum(row.top[0][0] == row.true for row in counted), len(counted)


def to_csv(rows: Sequence[Prediction], topk: int) -> str:
    """path,true,class_1,p_1..class_k,p_k,error: one row per image, empty cells where an
    image has no class or no prediction. Every cell is `encodable`: a file name that is not
    UTF-8 is kept, its undecodable bytes written as `\xff`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["path", "true"]
    for rank in range(1, topk + 1):
        header += [f"class_{rank}", f"p_{rank}"]
    writer.writerow([*header, "error"])
    for row in rows:
        cells = [row.path, row.true or ""]
        for rank in range(topk):
            if rank < len(row.top):
                cells += [row.top[rank][0], f"{row.top[rank][1]:.6f}"]
            else:
                cells += ["", ""]
        writer.writerow([encodable(cell) for cell in (*cells, row.error or "")])
    return buffer.getvalue()


def to_json(rows: Sequence[Prediction]) -> str:
    """A list of {path, true, top: [{class, probability}], error}; strings `encodable` as in
    to_csv, then escaped as JSON escapes them."""

    def text(value: str | None) -> str | None:
        return None if value is None else encodable(value)

    return (
        json.dumps(
            [
                {
                    "path": text(row.path),
                    "true": text(row.true),
                    "top": [{"class": text(c), "probability": round(p, 6)} for c, p in row.top],
                    "error": text(row.error),
                }
                for row in rows
            ],
            indent=1,
        )
        + "\n"
    )
