"""The small-map convolutions: the same layers as nn.Conv2d with faster backward passes on small
CPU maps (depthwise: shifted products; pointwise: matrix products). Gradients must equal
torch's."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from tui_trainer.config.schema import ModelSection
from tui_trainer.train.models import build_model
from tui_trainer.train.small_maps import (
    SmallMapDepthwiseConv2d,
    SmallMapPointwiseConv2d,
    _SmallMapDepthwise,
    _SmallMapPointwise,
    depthwise_weight_grad,
    use_small_map_convolutions,
)


def _gradients(conv: nn.Module, x: torch.Tensor, g: torch.Tensor):
    x = x.clone().requires_grad_()
    y = conv(x)
    y.backward(g)
    return y.detach(), x.grad, conv.weight.grad


@pytest.mark.parametrize(
    ("channels", "size", "stride", "padding", "dilation", "layout"),
    [
        (16, 2, 1, 1, 1, torch.channels_last),  # MobileNet's last blocks on CIFAR
        (16, 2, 1, 1, 1, torch.contiguous_format),
        (8, 3, 2, 1, 1, torch.channels_last),  # 2x2 output from a stride-2 layer
        (8, 4, 2, 1, 1, torch.contiguous_format),
        (6, 5, 3, 2, 2, torch.channels_last),  # dilation and wider padding
    ],
)
def test_gradients_equal_torchs(channels, size, stride, padding, dilation, layout):
    torch.manual_seed(0)
    reference = nn.Conv2d(
        channels, channels, 3, stride, padding, dilation, groups=channels, bias=False
    ).to(memory_format=layout)
    fast = copy.deepcopy(reference)
    assert use_small_map_convolutions(fast) == 1 and type(fast) is SmallMapDepthwiseConv2d
    x = torch.randn(5, channels, size, size).contiguous(memory_format=layout)
    g = torch.randn_like(reference(x))
    expected, got = _gradients(reference, x, g), _gradients(fast, x, g)
    for want, have in zip(expected, got, strict=True):
        torch.testing.assert_close(have, want, rtol=1e-5, atol=1e-5)
    assert got[2].stride() == expected[2].stride()  # the weight's own layout


def test_gradcheck_in_double_precision():
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: _SmallMapDepthwise.apply(a, b, (1, 1), (1, 1), (1, 1)), (x, w)
    )
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: _SmallMapDepthwise.apply(a, b, (2, 2), (1, 1), (2, 2)), (x, w)
    )


def test_weight_grad_formula_on_a_hand_checked_case():
    x = torch.arange(4.0).view(1, 1, 2, 2)  # [[0, 1], [2, 3]]
    g = torch.ones(1, 1, 2, 2)
    grad = depthwise_weight_grad(x, g, torch.Size([1, 1, 3, 3]), (1, 1), (1, 1), (1, 1))
    # the centre tap sees every pixel once (0+1+2+3); the bottom-right tap sees only the
    # bottom-right pixel (3, from the top-left output), the top-left tap only x[0, 0] (0)
    assert grad[0, 0, 1, 1] == 6 and grad[0, 0, 2, 2] == 3 and grad[0, 0, 0, 0] == 0
    assert grad[0, 0, 1, 2] == 1 + 3  # the right tap: the right column


def test_only_depthwise_layers_switch_and_the_state_dict_is_unchanged():
    model = build_model(ModelSection(arch="mobilenet_v1", width_mult=0.25), 10)
    keys = list(model.state_dict())
    assert use_small_map_convolutions(model) == 26  # both convolutions of the 13 blocks
    assert list(model.state_dict()) == keys
    assert type(model.conv1) is nn.Conv2d  # the 3x3 stem is neither
    assert type(model.layers[0].conv1) is SmallMapDepthwiseConv2d
    assert type(model.layers[0].conv2) is SmallMapPointwiseConv2d
    v2 = build_model(ModelSection(arch="mobilenet_v2", cifar_stem=True, width_mult=0.5), 10)
    # 17 depthwise; 16 expansion and 17 projection 1x1 layers and the last 1x1 convolution
    assert use_small_map_convolutions(v2) == 17 + 16 + 17 + 1


def test_a_switched_model_trains_to_the_same_gradients():
    torch.manual_seed(0)
    reference = build_model(ModelSection(arch="mobilenet_v1", width_mult=0.25), 10)
    # in double precision, so that float32 rounding (amplified by BatchNorm's backward over a
    # 13-block network) does not hide a real difference
    reference = reference.double().to(memory_format=torch.channels_last)
    fast = copy.deepcopy(reference)
    use_small_map_convolutions(fast)
    x = torch.randn(6, 3, 32, 32, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    labels = torch.arange(6)
    for model in (reference, fast):
        nn.functional.cross_entropy(model(x), labels).backward()
    for (name, a), (_, b) in zip(
        reference.named_parameters(), fast.named_parameters(), strict=True
    ):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-9, atol=1e-12, msg=name)


@pytest.mark.parametrize(
    ("size", "needs_input_grad"), [(4, True), (2, True), (8, True), (4, False)]
)
def test_pointwise_gradients_equal_torchs(size, needs_input_grad):
    torch.manual_seed(0)
    reference = nn.Conv2d(12, 20, 1, bias=False).to(memory_format=torch.channels_last)
    fast = copy.deepcopy(reference)
    assert use_small_map_convolutions(fast) == 1 and type(fast) is SmallMapPointwiseConv2d
    x = torch.randn(5, 12, size, size).contiguous(memory_format=torch.channels_last)
    g = torch.randn_like(reference(x))
    results = []
    for conv in (reference, fast):
        xx = x.clone().requires_grad_(needs_input_grad)
        y = conv(xx)
        y.backward(g)
        results.append((y.detach(), xx.grad, conv.weight.grad))
    (y0, gx0, gw0), (y1, gx1, gw1) = results
    torch.testing.assert_close(y1, y0)
    torch.testing.assert_close(gw1, gw0, rtol=1e-5, atol=1e-5)
    assert gw1.stride() == gw0.stride()
    if needs_input_grad:
        torch.testing.assert_close(gx1, gx0, rtol=1e-5, atol=1e-5)
    else:
        assert gx1 is None


def test_pointwise_gradcheck_in_double_precision():
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    w = torch.randn(4, 3, 1, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_SmallMapPointwise.apply, (x.requires_grad_(), w))


def test_evaluation_and_frozen_layers_take_torchs_own_path(monkeypatch):
    calls = []
    monkeypatch.setattr(_SmallMapDepthwise, "apply", lambda *a: calls.append(a))
    conv = nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False)
    use_small_map_convolutions(conv)
    x = torch.randn(2, 4, 2, 2)
    with torch.no_grad():
        conv(x)
    conv.weight.requires_grad_(False)
    conv(x)
    conv.weight.requires_grad_(True)
    conv(torch.randn(2, 4, 8, 8))  # a large map: oneDNN's backward is the faster one
    with torch.autocast("cpu", dtype=torch.bfloat16):
        conv(x)
    assert calls == []
    conv(x)
    assert len(calls) == 1


def test_pointwise_on_large_or_nchw_maps_takes_torchs_own_path(monkeypatch):
    calls = []
    monkeypatch.setattr(_SmallMapPointwise, "apply", lambda *a: calls.append(a))
    conv = nn.Conv2d(4, 4, 1, bias=False)
    use_small_map_convolutions(conv)
    conv(torch.randn(2, 4, 16, 16).contiguous(memory_format=torch.channels_last))  # 256 pixels
    conv(torch.randn(3, 4, 4, 4))  # NCHW: the matrix view would need a copy
    assert calls == []
    conv(torch.randn(3, 4, 4, 4).contiguous(memory_format=torch.channels_last))
    assert len(calls) == 1
