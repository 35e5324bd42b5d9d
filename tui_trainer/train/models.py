"""Models, built from the [model] section of a config.

MobileNetV2 and MobileNetV3 small/large are torchvision's, with optional ImageNet weights read
from the torch hub cache, a replaceable head, a CIFAR stem (stride 1 in the first convolution)
and freezing of their feature blocks.

MobileNet v1, CIFAR variant: a 3x3 stem with stride 1 (CIFAR images are 32x32, so the ImageNet
stride-2 stem would throw away most of the image), then 13 depthwise-separable blocks reachable as
`model.layers[i]`, each `conv1` (depthwise 3x3) -> `bn1` -> `act1` -> `conv2` (pointwise 1x1) ->
`bn2` -> `act2`; adaptive average pool; dropout; linear head. Each activation is its own module so
that a block's activation can be swapped in place.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torch import nn

from tui_trainer.config.schema import ModelSection
from tui_trainer.errors import UnavailableError
from tui_trainer.store.files import open_regular

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


def override_activations(model: MobileNetV1Cifar, first: int, last: int, name: str) -> None:
    """Replace both activation modules of model.layers[first..last] (inclusive) with `name`."""
    for index in range(first, last + 1):
        block = model.layers[index]
        block.act1 = make_activation(name)
        block.act2 = make_activation(name)


# torchvision constructor, weights enum and native input size of each architecture
TORCHVISION_ARCHS = {
    "mobilenet_v2": ("mobilenet_v2", "MobileNet_V2_Weights", 224),
    "mobilenet_v3_small": ("mobilenet_v3_small", "MobileNet_V3_Small_Weights", 224),
    "mobilenet_v3_large": ("mobilenet_v3_large", "MobileNet_V3_Large_Weights", 224),
}
NATIVE_INPUT = {"mobilenet_v1": 32, **{a: size for a, (_, _, size) in TORCHVISION_ARCHS.items()}}


def pretrained_weights(arch: str):
    import torchvision.models as tvm

    return getattr(tvm, TORCHVISION_ARCHS[arch][1]).DEFAULT


def weights_path(arch: str) -> Path:
    """Where torchvision keeps the ImageNet weights of `arch`: the torch hub cache."""
    url = pretrained_weights(arch).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def ensure_weights(arch: str) -> Path:
    """The weights file of `arch`, downloaded into the hub cache if it is missing and the
    network allows; otherwise an UnavailableError naming the file and where it goes."""
    path = weights_path(arch)
    if path.is_file():
        return path
    url = pretrained_weights(arch).url
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # torchvision's file names carry the first digits of the file's SHA-256: check them
        digest = re.search(r"-([a-f0-9]+)\.", path.name)
        torch.hub.download_url_to_file(
            url, str(path), hash_prefix=digest.group(1) if digest else None, progress=False
        )
    except Exception as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UnavailableError(
            f"pretrained weights for {arch}: {path.name} is not in {path.parent} and the "
            f"download failed ({reason}); copy {path.name} (from {url}) into {path.parent}"
        ) from None
    return path


def _feature_channels(features: nn.Module) -> int:
    convs = [m for m in features.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1].out_channels


def build_torchvision(config: ModelSection, num_classes: int) -> nn.Module:
    import torchvision.models as tvm

    constructor = getattr(tvm, TORCHVISION_ARCHS[config.arch][0])
    model = constructor(weights=None, width_mult=config.width_mult)
    if config.pretrained:
        with open_regular(ensure_weights(config.arch), follow_links=True) as handle:
            state = torch.load(handle, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    if config.cifar_stem:
        model.features[0][0].stride = (1, 1)
    if config.head == "mlp":
        model.classifier = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(_feature_channels(model.features), config.head_hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.head_hidden, num_classes),
        )
    else:
        last = model.classifier[-1]
        model.classifier[-1] = nn.Linear(last.in_features, num_classes)
        for module in model.classifier:
            if isinstance(module, nn.Dropout):
                module.p = config.dropout
    return model


def build_model(config: ModelSection, num_classes: int) -> nn.Module:
    """The network a [model] section describes, with `num_classes` outputs."""
    if config.arch == "mobilenet_v1":
        model = MobileNetV1Cifar(
            num_classes,
            width_mult=config.width_mult,
            activation=config.activation,
            dropout=config.dropout,
        )
        if config.activation_override is not None:
            first, last = config.override_blocks
            override_activations(model, first, last, config.activation_override)
        return model
    if config.arch in TORCHVISION_ARCHS:
        return build_torchvision(config, num_classes)
    raise ValueError(f"unknown architecture {config.arch!r}")  # the schema forbids this


def trainable_feature_indices(config: ModelSection, feature_count: int) -> range:
    """Indices into V2/V3 `features` that train: all of them when trainable_blocks is None,
    else N inverted-residual blocks (features[1:-1]) from the input or the output end."""
    if config.trainable_blocks is None:
        return range(feature_count)
    blocks = range(1, feature_count - 1)
    n = min(config.trainable_blocks, len(blocks))
    if n == 0:
        return range(0)
    return blocks[:n] if config.unfreeze_from == "input" else blocks[-n:]


def set_trainable(model: nn.Module, config: ModelSection, head_only: bool) -> None:
    """Freeze V2/V3 feature layers as config says; with `head_only` all of them. The head
    (classifier) always trains. MobileNet v1 always trains whole."""
    features = getattr(model, "features", None)
    if features is None:
        return
    trainable = set() if head_only else set(trainable_feature_indices(config, len(features)))
    for index, block in enumerate(features):
        for parameter in block.parameters():
            parameter.requires_grad_(index in trainable)


def freeze_batchnorm_statistics(model: nn.Module) -> None:
    """Put BatchNorm layers whose parameters are all frozen into eval mode, so that frozen
    blocks are really frozen (their running statistics do not drift). Call after model.train()."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters())
            if params and not any(p.requires_grad for p in params):
                module.eval()


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def tracked_parameters(model: nn.Module, names: list[str]) -> dict[str, nn.Parameter]:
    """The parameters named in train.track_grad_norm; a ValueError names any that is missing."""
    available = dict(model.named_parameters())
    missing = [name for name in names if name not in available]
    if missing:
        examples = ", ".join(n for n in available if n.endswith("weight"))
        raise ValueError(
            f"train.track_grad_norm: no parameter {', '.join(missing)} in this model "
            f"(it has e.g. {examples[:200]}...)"
        )
    return {name: available[name] for name in names}
