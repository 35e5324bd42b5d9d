"""Class activation maps (Grad-CAM, Selvaraju et al. 2017) of any model here, with two hooks'
worth of code.

The map of class c at a layer with activations A_k (k: channel) is sum_k alpha_k A_k, where
alpha_k is the spatial mean of d logit_c / d A_k; shown after a ReLU, upsampled to the image.

Why not pytorch-grad-cam: it pulls in opencv, scikit-learn's and matplotlib's stacks for what is
one forward hook and one autograd.grad call, and it takes gradients through `backward()` on
parameters, which finds none at a frozen block (model.trainable_blocks, head_only_epochs) and
leaves .grad behind. Here the input requires the gradient, so frozen blocks pass it on;
`torch.autograd.grad` returns it without touching any parameter's .grad; the hook is removed and
every module's train/eval mode restored in `finally`; and the hook returns a copy of the layer's
output, so that an in-place activation after it (ReLU(inplace=True)) cannot overwrite the
activations the map is made of. Channels-last models need nothing special.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tui_trainer.errors import UsageError

MIN_MAP_SIDE = 4  # the default layer is the deepest block whose map is at least 4x4
BLEND = 0.5  # weight of the heat map in an overlay


def block_names(model: nn.Module) -> list[str]:
    """The names of the model's feature blocks, input to output: MobileNet v1's `layers.i`,
    V2/V3's `features.i`."""
    for container in ("layers", "features"):
        blocks = getattr(model, container, None)
        if isinstance(blocks, nn.Sequential):
            return [f"{container}.{index}" for index in range(len(blocks))]
    return []


def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The module `name` (as named_modules names it); a UsageError listing the blocks otherwise."""
    module = dict(model.named_modules()).get(name)
    if module is None or name == "":
        raise UsageError(
            f"--cam-layer {name}: this model has no such layer; its blocks are "
            f"{', '.join(block_names(model))} (or any name of model.named_modules())"
        )
    return module


@torch.no_grad()
def default_layer(model: nn.Module, channels: int, side: int, device: torch.device) -> str:
    """The deepest block whose output map is at least MIN_MAP_SIDE on each side for an input
    of `side` pixels (the first block when none is)."""
    names = block_names(model)
    if not names:
        raise UsageError("this model has no feature blocks to draw a map of; name --cam-layer")
    sizes: dict[str, tuple[int, int]] = {}
    handles = [
        find_layer(model, name).register_forward_hook(
            lambda _m, _i, out, name=name: sizes.__setitem__(name, tuple(out.shape[-2:]))
        )
        for name in names
    ]
    modes = {module: module.training for module in model.modules()}
    try:
        model.eval()
        model(torch.zeros(1, channels, side, side, device=device))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    fitting = [n for n in names if min(sizes.get(n, (0, 0))) >= MIN_MAP_SIDE]
    return fitting[-1] if fitting else names[0]


@dataclass(frozen=True)
class ClassMaps:
    """Grad-CAM of a batch: `raw` maps before the ReLU [N, h, w], the logits [N, K] and the
    class each map is of [N]."""

    raw: torch.Tensor
    logits: torch.Tensor
    classes: torch.Tensor

    def heat(self, height: int, width: int) -> torch.Tensor:
        """The maps after ReLU, upsampled to height x width, in [0, 1] (heat_map)."""
        return heat_map(self.raw, height, width)


def heat_map(raw: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Maps [N, h, w] before the ReLU -> after it, upsampled (bilinear) to height x width, each
    scaled to [0, 1] by its maximum (an all-zero map stays zero)."""
    maps = F.relu(raw)[:, None]
    maps = F.interpolate(maps, size=(height, width), mode="bilinear", align_corners=False)
    peak = maps.amax(dim=(2, 3), keepdim=True)
    return (maps / peak.clamp_min(1e-12))[:, 0].clamp(0, 1)


def grad_cam(
    model: nn.Module, images: torch.Tensor, layer: str, classes: torch.Tensor | None = None
) -> ClassMaps:
    """Grad-CAM at `layer` of normalized `images` for `classes` (default: each image's
    predicted class), computed in eval mode. Leaves no hook, no .grad and every module's mode
    as it found them."""
    module = find_layer(model, layer)
    captured: list[torch.Tensor] = []

    def keep(_module: nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        captured.append(output)
        return output.clone()  # what follows (an in-place ReLU) changes the copy, not these

    modes = {m: m.training for m in model.modules()}
    handle = module.register_forward_hook(keep)
    try:
        model.eval()
        with torch.enable_grad():
            x = images.detach().clone().requires_grad_(True)  # frozen blocks pass gradients on
            logits = model(x).float()
            if not captured:
                raise UsageError(f"--cam-layer {layer}: the layer is not used by the model")
            activations = captured[-1]
            chosen = logits.argmax(1) if classes is None else classes.to(logits.device)
            score = logits.gather(1, chosen[:, None]).sum()
            (gradient,) = torch.autograd.grad(score, activations)
        weights = gradient.float().mean(dim=(2, 3), keepdim=True)
        raw = (weights * activations.detach().float()).sum(dim=1)
    finally:
        handle.remove()
        for m, training in modes.items():
            m.training = training
    return ClassMaps(raw.detach(), logits.detach(), chosen.detach())


def heat_colors(heat: np.ndarray) -> np.ndarray:
    """A [0, 1] map as RGB floats in [0, 1], blue (cold) through green to red (hot): the
    'jet' ramp, written out so that nothing needs matplotlib."""
    v = heat[..., None] * 4.0
    centres = np.array([3.0, 2.0, 1.0])  # red, green, blue
    return np.clip(1.5 - np.abs(v - centres), 0.0, 1.0)


def overlay(image: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 `image` blended with the colors of its [0, 1] `heat` map."""
    blended = (1 - BLEND) * image.astype(np.float64) / 255.0 + BLEND * heat_colors(heat)
    return np.clip(np.rint(blended * 255.0), 0, 255).astype(np.uint8)
