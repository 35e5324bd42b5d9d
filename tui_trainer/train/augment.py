"""Batched augmentations: tensor ops on the training device, no per-image Python.

They take and return uint8 NCHW batches (4x less memory traffic than float) and draw their
randomness from the given generator, so a seed fixes them.
"""

from __future__ import annotations

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


def apply_augmentations(
    images: torch.Tensor, names: list[str], padding: int, generator: torch.Generator
) -> torch.Tensor:
    """Apply the named augmentations in a fixed order (crop, then flip)."""
    if "crop" in names:
        images = random_crop(images, padding, generator)
    if "hflip" in names:
        images = random_hflip(images, generator)
    return images
