"""Models, built from the [model] section of a config.

MobileNet v1, CIFAR variant: a 3x3 stem with stride 1 (CIFAR images are 32x32, so the ImageNet
stride-2 stem would throw away most of the image), then 13 depthwise-separable blocks reachable as
`model.layers[i]`, each `conv1` (depthwise 3x3) -> `bn1` -> `act1` -> `conv2` (pointwise 1x1) ->
`bn2` -> `act2`; adaptive average pool; dropout; linear head. Each activation is its own module so
that a block's activation can be swapped in place.
"""

from __future__ import annotations

import torch
from torch import nn

from tui_trainer.config.schema import ModelSection

# (output channels, stride) of the 13 depthwise-separable blocks at width 1.0.
MOBILENET_V1_BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)
STEM_CHANNELS = 32

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "hardswish": nn.Hardswish,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}


def make_activation(name: str) -> nn.Module:
    cls = ACTIVATIONS[name]
    return cls(inplace=True) if cls in (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU) else cls()


def scaled(channels: int, width_mult: float) -> int:
    return max(8, round(channels * width_mult))


class DepthwiseSeparable(nn.Module):
    """Depthwise 3x3 conv (conv1) and pointwise 1x1 conv (conv2), each with BatchNorm and its
    own activation module."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, activation: str):
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False
        )
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.act1 = make_activation(activation)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act2 = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.bn1(self.conv1(x)))
        return self.act2(self.bn2(self.conv2(x)))


class MobileNetV1Cifar(nn.Module):
    def __init__(
        self,
        num_classes: int,
        width_mult: float = 1.0,
        activation: str = "relu",
        dropout: float = 0.0,
        in_channels: int = 3,
    ):
        super().__init__()
        stem = scaled(STEM_CHANNELS, width_mult)
        self.conv1 = nn.Conv2d(in_channels, stem, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.act1 = make_activation(activation)
        blocks = []
        channels = stem
        for out, stride in MOBILENET_V1_BLOCKS:
            out = scaled(out, width_mult)
            blocks.append(DepthwiseSeparable(channels, out, stride, activation))
            channels = out
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = torch.flatten(self.pool(x), 1)
        return self.linear(self.dropout(x))


def build_model(config: ModelSection, num_classes: int) -> nn.Module:
    """The network a [model] section describes, with `num_classes` outputs."""
    if config.arch == "mobilenet_v1":
        return MobileNetV1Cifar(
            num_classes,
            width_mult=config.width_mult,
            activation=config.activation,
            dropout=config.dropout,
        )
    raise ValueError(f"unknown architecture {config.arch!r}")  # the schema forbids this


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable
