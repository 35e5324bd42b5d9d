"""Grad-CAM (train/gradcam.py): its identities on MobileNet v1, and that it works on every
architecture, frozen or channels-last, and leaves the model as it found it. The identities hold
for any weights, so these models are built, not trained."""

from __future__ import annotations

import pytest
import torch

from tui_trainer.config.schema import ModelSection
from tui_trainer.errors import UsageError
from tui_trainer.train.gradcam import default_layer, grad_cam
from tui_trainer.train.models import build_model, freeze_batchnorm_statistics, set_trainable


def v1(**overrides):
    torch.manual_seed(0)
    model = build_model(ModelSection(arch="mobilenet_v1", width_mult=0.25, **overrides), 10)
    for module in model.modules():  # BatchNorm statistics that are not the identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def images(count=3, side=32):
    return torch.randn(count, 3, side, side, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(
    "overrides",
    [{}, {"activation_override": "sigmoid", "override_blocks": [10, 12]}],
    ids=["relu", "sigmoid-override"],
)
def test_on_v1s_last_block_the_map_before_relu_sums_to_the_class_logit_minus_its_bias(overrides):
    model = v1(**overrides)
    x = images()
    for cls in (0, 7):
        maps = grad_cam(model, x, "layers.12", torch.full((3,), cls))
        assert maps.raw.shape == (3, 2, 2)
        expected = maps.logits[:, cls] - model.linear.bias[cls]
        torch.testing.assert_close(maps.raw.sum(dim=(1, 2)), expected, rtol=1e-4, atol=1e-5)


def test_the_map_is_of_the_predicted_class_unless_one_is_named():
    model = v1()
    maps = grad_cam(model, images(), "layers.12")
    assert maps.classes.tolist() == maps.logits.argmax(1).tolist()


def test_no_gradient_hook_or_mode_change_is_left_behind():
    model = v1()
    model.train()
    model.layers[0].bn1.eval()  # a frozen BatchNorm inside a training model keeps its eval mode
    modes = {name: m.training for name, m in model.named_modules()}
    grad_cam(model, images(), "layers.12")
    default_layer(model, 3, 32, torch.device("cpu"))
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert all(p.grad is None for p in model.parameters())
    assert all(
        not m._forward_hooks and not m._backward_hooks and not m._forward_pre_hooks
        for m in model.modules()
    )


def test_the_default_layer_is_the_deepest_block_whose_map_is_at_least_4x4():
    cpu = torch.device("cpu")
    assert default_layer(v1(), 3, 32, cpu) == "layers.10"  # 4x4; layers.11 and .12 are 2x2
    assert default_layer(v1(), 3, 64, cpu) == "layers.12"  # 4x4
    v2 = build_model(ModelSection(arch="mobilenet_v2", width_mult=0.25, cifar_stem=True), 10)
    assert default_layer(v2, 3, 32, cpu) == "features.13"  # 4x4; features.14 on are 2x2


def test_an_unknown_layer_is_a_usage_error_naming_the_blocks():
    with pytest.raises(UsageError, match=r"--cam-layer layers\.99: .*layers\.0, layers\.1"):
        grad_cam(v1(), images(), "layers.99")


@pytest.mark.parametrize("arch", ["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"])
def test_frozen_and_channels_last_models_give_the_maps_of_the_plain_one(arch):
    torch.manual_seed(0)
    section = ModelSection(arch=arch, width_mult=0.5, cifar_stem=True, trainable_blocks=0)
    model = build_model(section, 10).eval()
    x = images(count=2)
    layer = default_layer(model, 3, 32, torch.device("cpu"))
    plain = grad_cam(model, x, layer)
    set_trainable(model, section, head_only=True)  # every feature block frozen
    model.train()
    freeze_batchnorm_statistics(model)
    model = model.to(memory_format=torch.channels_last)
    frozen = grad_cam(model, x.contiguous(memory_format=torch.channels_last), layer)
    assert plain.raw.abs().sum() > 0
    torch.testing.assert_close(frozen.raw, plain.raw, rtol=1e-4, atol=1e-6)
    assert all(p.grad is None for p in model.parameters())
