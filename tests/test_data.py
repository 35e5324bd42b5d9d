"""The digits dataset, its splits, the batch pipeline and the batched augmentations."""

from __future__ import annotations

import torch

from tui_trainer.config.schema import DataSection
from tui_trainer.train.augment import random_crop, random_hflip
from tui_trainer.train.data import (
    BatchPipeline,
    iterate_batches,
    load_digits_splits,
    steps_per_epoch,
)


def digits(**kwargs):
    return load_digits_splits(DataSection(dataset="digits", **kwargs))


def test_digits_are_32x32_rgb_uint8_held_once():
    splits = digits()
    assert splits.images.shape == (1797, 3, 32, 32) and splits.images.dtype == torch.uint8
    assert splits.class_names == tuple(str(d) for d in range(10))
    assert splits.images.max() == 255 and splits.images.min() == 0
    assert torch.equal(splits.images[:, 0], splits.images[:, 2])  # grey in three channels


def test_splits_are_disjoint_stratified_and_seeded():
    splits = digits(val_fraction=0.2, test_fraction=0.2, split_seed=0)
    parts = [set(s.tolist()) for s in (splits.train, splits.val, splits.test)]
    assert sum(map(len, parts)) == 1797 and len(set.union(*parts)) == 1797
    assert len(splits.test) == 359 and len(splits.val) == 287
    per_class = torch.bincount(splits.labels[splits.test], minlength=10)
    assert per_class.min() >= 35 and per_class.max() <= 37  # 20% of each class
    again = digits(val_fraction=0.2, test_fraction=0.2, split_seed=0)
    other = digits(val_fraction=0.2, test_fraction=0.2, split_seed=1)
    assert torch.equal(again.test, splits.test)
    assert not torch.equal(other.test, splits.test)


def test_normalization_uses_training_statistics():
    splits = digits()
    normalize = BatchPipeline(splits.mean, splits.std, torch.device("cpu"))
    x = normalize(splits.images[splits.train])
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert abs(x.mean().item()) < 1e-3 and abs(x.std().item() - 1) < 1e-2


def test_batches_cover_the_split_once_per_epoch():
    splits = digits()
    normalize = BatchPipeline(splits.mean, splits.std, torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    labels = [
        y for _, y in iterate_batches(splits, splits.train, 64, normalize, generator=generator)
    ]
    assert sum(len(y) for y in labels) == len(splits.train)
    assert len(labels) == steps_per_epoch(len(splits.train), 64)
    assert sorted(torch.cat(labels).tolist()) == sorted(splits.labels[splits.train].tolist())


def test_a_last_batch_of_one_is_dropped_in_training_only():
    assert steps_per_epoch(129, 64) == 2 and steps_per_epoch(130, 64) == 3
    splits = digits()
    normalize = BatchPipeline(splits.mean, splits.std, torch.device("cpu"))
    indices = splits.train[:129]
    train = list(iterate_batches(splits, indices, 64, normalize, generator=torch.Generator()))
    evaluation = list(iterate_batches(splits, indices, 64, normalize))
    assert [len(y) for _, y in train] == [64, 64]
    assert [len(y) for _, y in evaluation] == [64, 64, 1]


def test_crop_is_a_window_of_the_padded_image():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.int64).reshape(2, 3, 8, 8).to(torch.uint8)
    cropped = random_crop(images, 2, torch.Generator().manual_seed(3))
    assert cropped.shape == images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for b in range(2):
        windows = [padded[b, :, y : y + 8, x : x + 8] for y in range(5) for x in range(5)]
        assert any(torch.equal(cropped[b], w) for w in windows)


def test_flip_mirrors_some_images_and_keeps_others():
    images = torch.randint(0, 255, (64, 3, 4, 4), dtype=torch.uint8)
    flipped = random_hflip(images, torch.Generator().manual_seed(0))
    mirrored = [torch.equal(flipped[i], images[i].flip(2)) for i in range(64)]
    kept = [torch.equal(flipped[i], images[i]) for i in range(64)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert 16 < sum(mirrored) < 48
