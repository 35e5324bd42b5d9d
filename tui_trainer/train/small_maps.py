"""Faster backward passes for the convolutions of small feature maps, on the CPU.

MobileNet v1/V2 on 32x32 CIFAR images end in blocks whose maps are 4x4 and 2x2 with 512-1024
channels. There oneDNN's convolution backward is far slower than the arithmetic warrants
(benchmarks/README.md, 2-core CPU, batch 128):

- the weight gradient of a 1024-channel depthwise 3x3 layer at 2x2 takes 30 ms, where the same
  sum written as nine shifted products takes 2 ms;
- the backward of a 512->512 pointwise (1x1) layer at 4x4 takes 17 ms, where the two matrix
  products it amounts to take 13 ms (and its forward at 2x2 with 1024 channels 8.7 ms against
  6.6 ms).

Such layers are switched to SmallMapDepthwiseConv2d / SmallMapPointwiseConv2d: same parameters,
same state_dict, outputs and gradients equal to torch's up to float rounding. Large maps,
evaluation, frozen layers, other devices and autocast take nn.Conv2d's own path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Output maps of at most this many pixels take the faster backward passes. Depthwise: oneDNN
# wins from 4x4 up (0.3 ms against 2 ms for 512 channels). Pointwise: the matrix products win up
# to 8x8 (15 ms against 17 ms for 256 channels) and lose at 16x16 (19 ms against 17.5 ms).
SMALL_MAP_PIXELS = 4
SMALL_POINTWISE_MAP_PIXELS = 64


class _SmallMapDepthwise(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, stride, padding, dilation):  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        ctx.conv = (stride, padding, dilation)
        return F.conv2d(x, weight, None, stride, padding, dilation, x.shape[1])

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        stride, padding, dilation = ctx.conv
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad,
                x,
                weight,
                None,
                list(stride),
                list(padding),
                list(dilation),
                False,
                [0, 0],
                x.shape[1],
                [True, False, False],
            )[0]
        if ctx.needs_input_grad[1]:
            grad_w = torch.empty_like(weight).copy_(  # the weight's own layout
                depthwise_weight_grad(x, grad, weight.shape, stride, padding, dilation)
            )
        return grad_x, grad_w, None, None, None


def depthwise_weight_grad(
    x: torch.Tensor,
    grad: torch.Tensor,
    weight_shape: torch.Size,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> torch.Tensor:
    """d(loss)/d(weight) of a depthwise conv2d: for each kernel offset (i, j), the sum over the
    batch and the output map of the output gradient times the input shifted by that offset."""
    channels, _, kh, kw = weight_shape
    out_h, out_w = grad.shape[-2:]
    # channels innermost (a no-op for channels-last tensors): the sums then run over contiguous
    # rows of channels, which is ten times faster than reducing NCHW's strided dimensions
    grad = grad.permute(0, 2, 3, 1).contiguous()
    padded = F.pad(
        x.permute(0, 2, 3, 1).contiguous(),
        (0, 0, padding[1], padding[1], padding[0], padding[0]),
    )
    columns = []
    for i in range(kh):
        for j in range(kw):
            top, left = i * dilation[0], j * dilation[1]
            patch = padded[
                :,
                top : top + stride[0] * (out_h - 1) + 1 : stride[0],
                left : left + stride[1] * (out_w - 1) + 1 : stride[1],
                :,
            ]
            columns.append((patch * grad).sum(dim=(0, 1, 2)))
    return torch.stack(columns, dim=1).view(channels, 1, kh, kw).to(grad.dtype)


def _training_on_cpu(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    """The weight will get a gradient, in fp32 (autocast would mix dtypes), on the CPU."""
    return (
        x.device.type == "cpu"
        and torch.is_grad_enabled()
        and not torch.is_autocast_enabled("cpu")
        and conv.weight.requires_grad
    )


class SmallMapDepthwiseConv2d(nn.Conv2d):
    """nn.Conv2d (depthwise, no bias) whose weight gradient on small CPU output maps is the
    shifted-product sum. Everywhere else it is nn.Conv2d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            _training_on_cpu(self, x)
            and self.padding_mode == "zeros"
            and _output_pixels(self, x) <= SMALL_MAP_PIXELS
        ):
            return _SmallMapDepthwise.apply(
                x, self.weight, self.stride, self.padding, self.dilation
            )
        return super().forward(x)


def _output_pixels(conv: nn.Conv2d, x: torch.Tensor) -> int:
    size = 1
    for dim in range(2):
        extent = x.shape[2 + dim] + 2 * conv.padding[dim]
        reach = conv.dilation[dim] * (conv.kernel_size[dim] - 1) + 1
        size *= (extent - reach) // conv.stride[dim] + 1
    return size


class _SmallMapPointwise(torch.autograd.Function):
    """A 1x1 convolution (stride 1, no padding, no bias) as matrix products over the
    channels-last [N*H*W, C] view of the maps: one forward, two backward."""

    @staticmethod
    def forward(ctx, x, weight):  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        batch, in_channels, height, width = x.shape
        out_channels = weight.shape[0]
        rows = x.permute(0, 2, 3, 1).reshape(-1, in_channels)  # a view: x is channels-last
        out = rows @ weight.reshape(out_channels, in_channels).t()
        return out.view(batch, height, width, out_channels).permute(0, 3, 1, 2)  # channels-last

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        batch, in_channels, height, width = x.shape
        out_channels = weight.shape[0]
        rows = grad.permute(0, 2, 3, 1).reshape(-1, out_channels)  # free when channels-last
        matrix = weight.reshape(out_channels, in_channels)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = (rows @ matrix).view(batch, height, width, in_channels).permute(0, 3, 1, 2)
        if ctx.needs_input_grad[1]:
            inputs = x.permute(0, 2, 3, 1).reshape(-1, in_channels)
            grad_w = torch.empty_like(weight).copy_(
                (rows.t() @ inputs).view(out_channels, in_channels, 1, 1)
            )
        return grad_x, grad_w


class SmallMapPointwiseConv2d(nn.Conv2d):
    """nn.Conv2d (1x1, stride 1, no padding, no bias) whose backward on small channels-last CPU
    maps is two matrix products. Everywhere else it is nn.Conv2d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            _training_on_cpu(self, x)
            and x.shape[2] * x.shape[3] <= SMALL_POINTWISE_MAP_PIXELS
            and x.is_contiguous(memory_format=torch.channels_last)
        ):
            return _SmallMapPointwise.apply(x, self.weight)
        return super().forward(x)


def is_depthwise(module: nn.Module) -> bool:
    return (
        type(module) is nn.Conv2d
        and module.groups > 1
        and module.groups == module.in_channels == module.out_channels
        and module.bias is None
        and isinstance(module.padding, tuple)  # not 'same'/'valid'
    )


def is_pointwise(module: nn.Module) -> bool:
    return (
        type(module) is nn.Conv2d
        and module.kernel_size == (1, 1)
        and module.stride == (1, 1)
        and module.padding == (0, 0)
        and module.groups == 1
        and module.bias is None
    )


def use_small_map_convolutions(model: nn.Module) -> int:
    """Switch every depthwise and pointwise nn.Conv2d of `model` to its SmallMap class in place
    (same parameters and state_dict). Returns how many were switched."""
    switched = 0
    for module in model.modules():
        if is_depthwise(module):
            module.__class__ = SmallMapDepthwiseConv2d
        elif is_pointwise(module):
            module.__class__ = SmallMapPointwiseConv2d
        else:
            continue
        switched += 1
    return switched
