"""`tui-trainer backfill`: write what an older run lacks of what runs now write (inputs.toml,
predictions.csv, samples.png/csv), and on request the activation-map sheet samples_cam.png.

inputs.toml, predictions.csv and the sample sheet need the run's dataset (the train-split
statistics, the test images) and its checkpoint; samples_cam.png needs neither the dataset nor
the trainer: its tiles are cut from samples.png along samples.csv's boxes and normalized as
inputs.toml says, so the inspect screen can draw it on a machine without the data. Progress
goes to stdout as `<what> <done>/<total>` lines, which the inspect screen shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tui_trainer.errors import UsageError
from tui_trainer.store.atomic import write_bytes_atomic
from tui_trainer.store.layout import RunPaths
from tui_trainer.train.checkpoint import CheckpointError
from tui_trainer.train.data import load_splits
from tui_trainer.train.gradcam import default_layer, grad_cam, heat_map, overlay
from tui_trainer.train.inputs import read_inputs, run_inputs, write_inputs
from tui_trainer.train.outputs import ProgressCallback, test_probabilities, write_test_outputs
from tui_trainer.train.run_model import RunModel, checkpoint_path, load_run_model
from tui_trainer.train.samples import cut_tiles, png_bytes, read_sheet, read_tiles
from tui_trainer.write_guard import OutputFile, check_writes, dataset_folders

CAM_BATCH = 16


def backfill(
    paths: RunPaths,
    *,
    cam: bool,
    weights: str,
    device: torch.device,
    progress: ProgressCallback,
    cam_layer: str | None = None,
) -> list[Path]:
    """Write the files `paths` lacks (and samples_cam.png with `cam`); returns what it wrote."""
    from tui_trainer.config.run_file import run_config

    if not paths.summary.is_file():
        raise UsageError(
            f"{paths.root}: the run has not finished (no summary.toml); it writes these files "
            "when it completes"
        )
    config = run_config(paths.config)
    written: list[Path] = []
    lacking = [p for p in (paths.predictions, paths.samples_image, paths.samples) if not p.exists()]
    drawing = cam and not paths.samples_cam_image.exists()
    weights_file = checkpoint_path(paths, weights)
    if (lacking or drawing) and not weights_file.is_file():  # before a long dataset load
        raise CheckpointError(f"{weights_file}: no such checkpoint")
    # a hand-edited inputs.toml is refused before the dataset loads and anything is written
    has_inputs = paths.inputs.exists()
    recorded = read_inputs(paths.inputs) if has_inputs and (lacking or drawing) else None
    if lacking or not has_inputs:
        adding = [OutputFile("backfill", p) for p in (*lacking, paths.inputs) if not p.exists()]
        check_writes(dataset_folders([config.data]), adding)  # never into the dataset's folder
        progress("dataset", 0, 1)
        splits = load_splits(config.data)
        progress("dataset", 1, 1)
        if not has_inputs:
            recorded = run_inputs(config, splits)
            write_inputs(paths.inputs, recorded)
            written.append(paths.inputs)
        if lacking:
            run = load_run_model(paths, config, weights, device, recorded)
            splits = splits.to(device)
            probabilities = test_probabilities(
                run.model, splits, run.pipeline, run.batch_size, progress
            )
            write_test_outputs(
                paths,
                probabilities,
                splits,
                run.inputs.classes,
                predictions=not paths.predictions.exists(),
                samples=not (paths.samples_image.exists() and paths.samples.exists()),
            )
            written += lacking
    if drawing:
        run = load_run_model(paths, config, weights, device, recorded)
        write_cam_sheet(run, progress, cam_layer)
        written.append(paths.samples_cam_image)
    return written


def write_cam_sheet(run: RunModel, progress: ProgressCallback, layer: str | None = None) -> None:
    """samples_cam.png: samples.png with each tile blended with its Grad-CAM heat map for the
    class samples.csv says the model predicted."""
    paths, inputs = run.paths, run.inputs
    tiles = read_tiles(paths.samples)
    sheet = read_sheet(paths.samples_image)
    pictures = cut_tiles(sheet, tiles)
    index_of = {name: i for i, name in enumerate(inputs.classes)}
    unknown = [t.predicted for t in tiles if t.predicted not in index_of]
    if unknown:
        raise UsageError(f"{paths.samples}: class {unknown[0]!r} is not in {paths.inputs}")
    layer = layer or default_layer(run.model, inputs.channels, inputs.resize, run.device)
    result = sheet.copy()
    total = len(tiles)
    progress("cam", 0, total)
    for start in range(0, total, CAM_BATCH):
        group = tiles[start : start + CAM_BATCH]
        batch = _as_batch(pictures[start : start + CAM_BATCH], inputs.image_size, run.device)
        classes = torch.tensor([index_of[t.predicted] for t in group], device=run.device)
        maps = grad_cam(run.model, run.pipeline(batch), layer, classes)
        for offset, tile in enumerate(group):
            raw = maps.raw[offset : offset + 1]
            heat = heat_map(raw, tile.height, tile.width)[0].cpu().numpy()
            box = (slice(tile.y, tile.y + tile.height), slice(tile.x, tile.x + tile.width))
            result[box] = overlay(pictures[start + offset], heat)
        progress("cam", min(start + CAM_BATCH, total), total)
    write_bytes_atomic(paths.samples_cam_image, png_bytes(result), durable=True)


def _as_batch(pictures: list[np.ndarray], size: int, device: torch.device) -> torch.Tensor:
    """Tiles (HxWx3 uint8) as the uint8 [N, 3, size, size] batch the run's transform takes."""
    from PIL import Image

    resized = [
        np.asarray(Image.fromarray(p).resize((size, size), Image.Resampling.BILINEAR))
        if p.shape[:2] != (size, size)
        else p
        for p in pictures
    ]
    return torch.from_numpy(np.stack(resized).transpose(0, 3, 1, 2).copy()).to(device)


def print_progress(what: str, done: int, total: int) -> None:
    print(f"{what} {done}/{total}", flush=True)
