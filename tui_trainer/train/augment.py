"""Batched augmentations: tensor ops on the training device, no per-image Python.

They take and return uint8 NCHW batches (4x less memory traffic than float) and draw their
randomness from the given generator, so a seed fixes them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad each image by `padding` pixels, then cut a random window of the original size."""
    if padding == 0:
        return images
    batch, _, height, width = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    device = images.device
    dy = torch.randint(0, 2 * padding + 1, (batch,), generator=generator, device=device)
    dx = torch.randint(0, 2 * padding + 1, (batch,), generator=generator, device=device)
    rows = dy[:, None] + torch.arange(height, device=device)  # [B, H]
    cols = dx[:, None] + torch.arange(width, device=device)  # [B, W]
    picked = padded[
        torch.arange(batch, device=device)[:, None, None], :, rows[:, :, None], cols[:, None, :]
    ]
    return picked.permute(0, 3, 1, 2)  # [B, H, W, C] -> NCHW view, channels-last in memory


def random_hflip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(images.shape[0], generator=generator, device=images.device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def random_rotate(images: torch.Tensor, degrees: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate each float image about its centre by an angle drawn from [-degrees, degrees];
    corners outside the source are filled with zeros (black), as torchvision's RandomRotation."""
    if degrees == 0:
        return images
    batch = images.shape[0]
    angles = (torch.rand(batch, generator=generator, device=images.device) * 2 - 1) * degrees
    radians = angles * (torch.pi / 180.0)
    cos, sin = torch.cos(radians), torch.sin(radians)
    zero = torch.zeros_like(cos)
    # affine_grid works in [-1, 1] coordinates; scale by the aspect ratio so that a rotation of a
    # non-square image stays a rotation in pixels
    height, width = images.shape[-2:]
    theta = torch.stack(
        [
            torch.stack([cos, -sin * (height / width), zero], 1),
            torch.stack([sin * (width / height), cos, zero], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def mixup(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    lam: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mix each image with another of the batch: x = lam*x_i + (1-lam)*x_j.

    Returns the mixed images, soft targets (each row sums to 1) and, for accuracy, the label with
    the larger weight. The caller draws lam ~ Beta(alpha, alpha) on the host, so no device sync.
    """
    perm = torch.randperm(images.shape[0], generator=generator, device=images.device)
    mixed = images * lam + images[perm] * (1.0 - lam)
    one_hot = F.one_hot(labels, num_classes).to(images.dtype)
    targets = one_hot * lam + one_hot[perm] * (1.0 - lam)
    dominant = labels if lam >= 0.5 else labels[perm]
    return mixed, targets, dominant


def mixup_batch(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    alpha: float,
    mix_rng: np.random.Generator,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`mixup` with lambda ~ Beta(alpha, alpha) drawn from the run's host generator: the one
    place where training (and `tui-trainer data`'s sample sheet) mixes a batch."""
    lam = float(mix_rng.beta(alpha, alpha))
    return mixup(images, labels, num_classes, lam, generator)
