"""Datasets as device-resident uint8 tensors, split by index, and the batches drawn from them.

The whole dataset is held once (one uint8 tensor on the training device); the train, validation
and test splits are index tensors into it. A batch is a gather, the augmentations, and one fused
scale-and-shift to normalized float, all on the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from tui_trainer.config.schema import DataSection
from tui_trainer.train.augment import apply_augmentations

DIGITS_SIZE = 32


@dataclass(frozen=True)
class ImageSplits:
    """A dataset held once, with its splits as indices into it."""

    images: torch.Tensor  # uint8 [N, C, H, W]
    labels: torch.Tensor  # int64 [N]
    train: torch.Tensor  # int64 indices
    val: torch.Tensor
    test: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]  # per channel, in [0, 1] units
    std: tuple[float, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to(self, device: torch.device) -> ImageSplits:
        return replace(
            self,
            images=self.images.to(device),
            labels=self.labels.to(device),
            train=self.train.to(device),
            val=self.val.to(device),
            test=self.test.to(device),
        )


def stratified_split(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held) index arrays: `fraction` of each class held out, chosen by `rng`."""
    held, rest = [], []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        n_held = round(len(members) * fraction)
        held.append(members[:n_held])
        rest.append(members[n_held:])
    return np.sort(np.concatenate(rest)), np.sort(np.concatenate(held))


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units (0 and 1 for no images)."""
    if images.shape[0] == 0:
        channels = images.shape[1]
        return (0.0,) * channels, (1.0,) * channels
    x = images.to(torch.float64) / 255.0
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return tuple(mean.tolist()), tuple(std.tolist())


def load_digits_splits(config: DataSection) -> ImageSplits:
    """scikit-learn's bundled 8x8 digits, upscaled (bilinear) to 32x32 and repeated to 3 channels.

    Split: `test_fraction` of each class is the test set, then `val_fraction` of what remains is
    the validation set, both drawn with `split_seed`. Mean/std come from the training split.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = torch.from_numpy(digits.images).float().unsqueeze(1) * (255.0 / 16.0)
    pixels = F.interpolate(
        pixels, size=(DIGITS_SIZE, DIGITS_SIZE), mode="bilinear", align_corners=False
    )
    images = pixels.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = np.asarray(digits.target, dtype=np.int64)

    rng = np.random.default_rng(config.split_seed)
    rest, test = stratified_split(labels, config.test_fraction, rng)
    train_pos, val_pos = stratified_split(labels[rest], config.val_fraction, rng)
    train, val = rest[train_pos], rest[val_pos]
    mean, std = channel_stats(images[torch.from_numpy(train)])
    return ImageSplits(
        images=images,
        labels=torch.from_numpy(labels),
        train=torch.from_numpy(train),
        val=torch.from_numpy(val),
        test=torch.from_numpy(test),
        class_names=tuple(str(name) for name in digits.target_names),
        mean=mean,
        std=std,
    )


def load_splits(config: DataSection) -> ImageSplits:
    """The dataset a [data] section names, on the CPU."""
    if config.dataset == "digits":
        return load_digits_splits(config)
    raise ValueError(f"unknown dataset {config.dataset!r}")  # the schema forbids this


def split_problems(splits: ImageSplits) -> list[str]:
    """What is wrong with the sizes of the splits for training, if anything."""
    sizes = {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)}
    described = ", ".join(f"{n} {name}" for name, n in sizes.items())
    problems = []
    if sizes["train"] < 2:
        problems.append(f"leaves {sizes['train']} training images ({described}); lower it")
    if sizes["val"] == 0 or sizes["test"] == 0:
        problems.append(f"leaves an empty split ({described}); raise it")
    return problems


class DatasetCache:
    """Keeps the last dataset loaded, on its device, so that the runs of a sweep share one copy."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._splits: ImageSplits | None = None

    def get(self, config: DataSection, device: torch.device) -> ImageSplits:
        key = (
            config.dataset,
            config.val_fraction,
            config.test_fraction,
            config.split_seed,
            str(device),
        )
        if self._key != key or self._splits is None:
            self._splits = None  # release the old copy before loading the next
            self._splits = load_splits(config).to(device)
            self._key = key
        return self._splits


class Normalizer:
    """uint8 NCHW -> normalized float, channels-last, in one multiply-add."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device):
        std_t = torch.tensor(std, dtype=torch.float32, device=device)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=device)
        self.scale = (1.0 / (255.0 * std_t)).view(1, -1, 1, 1)
        self.shift = (-mean_t / std_t).view(1, -1, 1, 1)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float().contiguous(memory_format=torch.channels_last)
        return torch.addcmul(self.shift, x, self.scale)


def iterate_batches(
    splits: ImageSplits,
    indices: torch.Tensor,
    batch_size: int,
    normalize: Normalizer,
    *,
    generator: torch.Generator | None = None,
    augment: list[str] | None = None,
    crop_padding: int = 4,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images, labels) batches over `indices`: shuffled and augmented when a generator is given.

    In training (generator given) a last batch of a single image is dropped: BatchNorm cannot
    train on one sample.
    """
    if generator is not None:
        order = torch.randperm(len(indices), generator=generator, device=generator.device)
        indices = indices[order.to(indices.device)]
    count = len(indices)
    for start in range(0, count, batch_size):
        chosen = indices[start : start + batch_size]
        if generator is not None and len(chosen) < 2:
            break
        images = splits.images[chosen]
        if generator is not None and augment:
            images = apply_augmentations(images, augment, crop_padding, generator)
        yield normalize(images), splits.labels[chosen]


def steps_per_epoch(train_size: int, batch_size: int) -> int:
    full, rest = divmod(train_size, batch_size)
    return full + (1 if rest >= 2 else 0)
