"""What `tui-trainer data PRESET` reports about a run's dataset, computed by training's own code.

The splits come from `load_splits`, the training split's mean/std from the `channel_stats` it
calls, the normalization from `normalization`, and the sample sheet from the run's first
training batches drawn by `iterate_batches` with the run's `BatchPipeline`, its seeded
generators and `mixup_batch`. So the summary cannot disagree with what a run trains on: it is
the same computation, stopped before the model. Everything returned is plain Python and numpy,
for console/ to print without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from tui_trainer.config.schema import RunConfig
from tui_trainer.config.sweep import RunSpec
from tui_trainer.errors import UsageError
from tui_trainer.train.augment import mixup_batch
from tui_trainer.train.data import (
    BatchPipeline,
    DatasetCache,
    ImageSplits,
    iterate_batches,
    normalization,
    normalization_source,
)
from tui_trainer.train.random_state import run_generators

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class SplitSummary:
    """One split: its image count per class."""

    name: str
    class_counts: tuple[int, ...]

    @property
    def count(self) -> int:
        return sum(self.class_counts)

    def shares(self) -> tuple[float, ...]:
        """Each class's share of the split (all 0 for an empty split)."""
        total = self.count
        return tuple(n / total if total else 0.0 for n in self.class_counts)


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset as `load_splits` makes it: splits, and the training split's statistics."""

    dataset: str
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]  # stored (C, H, W), before data.resize
    splits: tuple[SplitSummary, ...]
    train_mean: tuple[float, ...]  # channel_stats of the training split, [0, 1] units
    train_std: tuple[float, ...]


@dataclass(frozen=True)
class BatchSetup:
    """How a run turns those images into batches: resize, normalization and augmentation."""

    resize: int | None
    mean: tuple[float, ...]  # what the run normalizes with
    std: tuple[float, ...]
    normalization: str  # normalization_source: explicit | imagenet | dataset | train_split
    normalize: str  # data.normalize as set: auto chooses by model and dataset
    augment: tuple[str, ...]
    crop_padding: int
    rotate_degrees: float
    mixup_alpha: float


@dataclass(frozen=True)
class DataSummary:
    """A run's dataset as the run sees it."""

    dataset: DatasetSummary
    batches: BatchSetup


@dataclass(frozen=True)
class DatasetGroup:
    """One dataset of a study and the batch setups of the runs that train on it, each with
    the names of its runs: a sweep over the learning rate has one of each, one over
    data.augment one dataset with a setup per value."""

    dataset: DatasetSummary
    setups: tuple[tuple[BatchSetup, tuple[str, ...]], ...]


@dataclass(frozen=True)
class AugmentedSample:
    """One augmented training image (HWC uint8, as the model sees it before normalization)
    with the classes that make it: one (1.0) or, mixed, two with their weights."""

    pixels: np.ndarray
    classes: tuple[tuple[str, float], ...]


def summarize(config: RunConfig, splits: ImageSplits) -> DataSummary:
    """The summary of `splits` (as `load_splits(config.data)` made them) for the run `config`."""
    labels = splits.labels.cpu()
    parts = (splits.train, splits.val, splits.test)
    counts = [
        tuple(torch.bincount(labels[part.cpu()], minlength=splits.num_classes).tolist())
        for part in parts
    ]
    mean, std = normalization(config, splits)
    data = config.data
    dataset = DatasetSummary(
        dataset=data.dataset,
        class_names=splits.class_names,
        image_shape=tuple(splits.images.shape[1:]),  # type: ignore[arg-type]
        splits=tuple(SplitSummary(n, c) for n, c in zip(SPLIT_NAMES, counts, strict=True)),
        train_mean=tuple(splits.mean),
        train_std=tuple(splits.std),
    )
    batches = BatchSetup(
        resize=data.resize,
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        normalization=normalization_source(config),
        normalize=data.normalize,
        augment=tuple(data.augment),
        crop_padding=data.crop_padding,
        rotate_degrees=data.rotate_degrees,
        mixup_alpha=data.mixup_alpha,
    )
    return DataSummary(dataset, batches)


def training_samples(config: RunConfig, splits: ImageSplits, count: int) -> list[AugmentedSample]:
    """The first `count` images of the run's first epoch as a CPU run trains on them: its
    shuffle, crop/flip/resize/rotation and (when data.augment has it) mixup, drawn from the
    generators train.seed seeds, batch after batch, in the order the loop draws them. (On a
    GPU the device's generator draws other numbers: the same kind of images, not these.)"""
    device = torch.device("cpu")
    pipeline = BatchPipeline.for_run(config, splits, device)
    generator, mix_rng = run_generators(config.train.seed, device)
    mixing = "mixup" in config.data.augment
    names = splits.class_names
    tiles: list[AugmentedSample] = []
    batches = iterate_batches(
        splits, splits.train, config.data.batch_size, pipeline, generator=generator
    )
    for images, labels in batches:
        if mixing:
            images, targets, _ = mixup_batch(
                images, labels, splits.num_classes, config.data.mixup_alpha, mix_rng, generator
            )
        else:
            targets = torch.nn.functional.one_hot(labels, splits.num_classes).float()
        pixels = _unnormalized(images, pipeline)
        for tile, weights in zip(pixels, targets.tolist(), strict=True):
            tiles.append(AugmentedSample(tile, _parts(weights, names)))
            if len(tiles) == count:
                return tiles
    return tiles


def _unnormalized(images: torch.Tensor, pipeline: BatchPipeline) -> np.ndarray:
    """Normalized NCHW floats back to NHWC uint8 pixels: the pipeline's own scale and shift
    undone."""
    pixels = (images - pipeline.shift) / pipeline.scale
    return pixels.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def _parts(weights: list[float], names: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """The classes with a weight in a (soft) target row, heaviest first."""
    present = [(names[i], w) for i, w in enumerate(weights) if w > 0]
    return tuple(sorted(present, key=lambda part: -part[1]))


def summarize_runs(runs: Sequence[RunSpec], cache: DatasetCache) -> list[DatasetGroup]:
    """The distinct datasets among `runs`, each with the distinct batch setups of its runs,
    in the study's order: what differs between runs is shown once per difference."""
    groups: dict[DatasetSummary, dict[BatchSetup, list[str]]] = {}
    for run in runs:
        summary = summarize(run.config, cache.get(run.config.data, torch.device("cpu")))
        setups = groups.setdefault(summary.dataset, {})
        setups.setdefault(summary.batches, []).append(run.name)
    return [
        DatasetGroup(dataset, tuple((setup, tuple(names)) for setup, names in setups.items()))
        for dataset, setups in groups.items()
    ]


def samples_for(runs: Sequence[RunSpec], count: int, cache: DatasetCache) -> list[AugmentedSample]:
    """The sample tiles of the one run in `runs`, or of any of them when they all draw the same
    images (a sweep that changes neither data, seed nor batch size). Runs that draw different
    images are a UsageError that names them: pick one with --run."""
    settings = {(run.config.data.model_dump_json(), run.config.train.seed) for run in runs}
    if len(settings) > 1:
        names = ", ".join(run.name for run in runs)
        raise UsageError(
            f"--samples: the study's runs draw different training images ({names}); "
            "pick one with --run NAME"
        )
    config = runs[0].config
    tiles = training_samples(config, cache.get(config.data, torch.device("cpu")), count)
    if not tiles:
        raise UsageError(
            "--samples: the training split has fewer than 2 images, so training draws no "
            "batch from it; lower data.val_fraction or data.test_fraction"
        )
    return tiles
