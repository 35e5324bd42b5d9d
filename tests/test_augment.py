"""Properties of the batched augmentations and of the batch pipeline."""

from __future__ import annotations

import torch

from tui_trainer.train.augment import mixup, random_crop, random_hflip, random_rotate
from tui_trainer.train.data import BatchPipeline


def test_rotation_keeps_shape_and_centre_and_zero_degrees_is_identity():
    images = torch.rand(8, 3, 9, 9)
    assert torch.equal(random_rotate(images, 0.0, torch.Generator()), images)
    rotated = random_rotate(images, 10.0, torch.Generator().manual_seed(1))
    assert rotated.shape == images.shape
    assert torch.allclose(rotated[:, :, 4, 4], images[:, :, 4, 4], atol=1e-5)  # about the centre
    assert not torch.allclose(rotated, images)


def test_rotation_by_up_to_180_degrees_can_turn_an_image_over():
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, 0, 2] = 1.0  # a dot at the top
    flipped = [random_rotate(image, 180.0, torch.Generator().manual_seed(s)) for s in range(50)]
    assert any(f[0, 0, 4, 2] > 0.5 for f in flipped)  # some draw lands near 180 degrees


def test_mixup_targets_sum_to_one_and_images_mix_linearly():
    images = torch.rand(16, 3, 4, 4)
    labels = torch.arange(16) % 10
    generator = torch.Generator().manual_seed(0)
    mixed, targets, dominant = mixup(images, labels, 10, 0.3, generator)
    assert torch.allclose(targets.sum(1), torch.ones(16))
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(mixed, 0.3 * images + 0.7 * images[perm])
    assert torch.equal(dominant, labels[perm])  # lambda < 0.5: the partner's label dominates
    assert torch.allclose(targets[0, labels[0]] + targets[0, labels[perm][0]], torch.tensor(1.0))


def test_crop_and_flip_keep_uint8_and_shape():
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    assert random_crop(images, 4, generator).dtype == torch.uint8
    assert random_hflip(images, generator).shape == images.shape


def test_pipeline_resizes_every_split_but_augments_only_training():
    pipeline = BatchPipeline(
        (0.5,) * 3,
        (0.25,) * 3,
        torch.device("cpu"),
        resize=64,
        augment=["crop", "hflip", "rotate"],
        rotate_degrees=10,
    )
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    evaluation = pipeline(images)
    assert evaluation.shape == (4, 3, 64, 64) and evaluation.is_contiguous(
        memory_format=torch.channels_last
    )
    assert torch.equal(pipeline(images), evaluation)  # deterministic without a generator
    trained = pipeline(images, torch.Generator().manual_seed(0))
    assert trained.shape == (4, 3, 64, 64) and not torch.equal(trained, evaluation)
    constant = torch.full((1, 3, 8, 8), 191, dtype=torch.uint8)
    plain = BatchPipeline((0.5,) * 3, (0.25,) * 3, torch.device("cpu"))
    assert torch.allclose(plain(constant), torch.full((1, 3, 8, 8), (191 / 255 - 0.5) / 0.25))


def test_rotation_of_a_non_square_image_matches_torchvision():
    import torchvision.transforms.functional as TF

    images = torch.zeros(1, 1, 16, 32)
    images[0, 0, 6:10, 4:28] = 1.0  # a horizontal bar
    generator = torch.Generator().manual_seed(3)
    angle = float((torch.rand(1, generator=torch.Generator().manual_seed(3)) * 2 - 1) * 30)
    ours = random_rotate(images, 30.0, generator)
    theirs = TF.rotate(images, angle, interpolation=TF.InterpolationMode.BILINEAR)
    assert abs(angle) > 5
    assert (ours - theirs).abs().mean() < 0.02  # the same rotation, up to resampling
