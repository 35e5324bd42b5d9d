"""Models: the activation override, freezing, the two phases, and pretrained weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tui_trainer.config.schema import ModelSection
from tui_trainer.errors import UnavailableError
from tui_trainer.train import models
from tui_trainer.train.models import (
    build_model,
    freeze_batchnorm_statistics,
    set_trainable,
    trainable_feature_indices,
)


def test_activation_override_replaces_exactly_the_blocks_named():
    model = build_model(
        ModelSection(arch="mobilenet_v1", activation_override="sigmoid", override_blocks=[4, 10]),
        100,
    )
    for index, block in enumerate(model.layers):
        expected = nn.Sigmoid if 4 <= index <= 10 else nn.ReLU
        assert isinstance(block.act1, expected) and isinstance(block.act2, expected), index
    assert isinstance(model.act1, nn.ReLU)  # the stem keeps the base activation
    assert len(model.layers) == 13 and isinstance(model.layers[8].conv1, nn.Conv2d)
    assert model.layers[8].conv1.groups == model.layers[8].conv1.in_channels  # depthwise


@pytest.mark.parametrize(
    ("blocks", "side", "expected"),
    [
        (None, "input", range(19)),
        (0, "input", range(0)),
        (2, "input", range(1, 3)),
        (10, "input", range(1, 11)),
        (2, "output", range(16, 18)),
        (99, "input", range(1, 18)),
    ],
)
def test_trainable_blocks_count_inverted_residual_blocks(blocks, side, expected):
    config = ModelSection(arch="mobilenet_v2", trainable_blocks=blocks, unfreeze_from=side)
    assert list(trainable_feature_indices(config, 19)) == list(expected)


def _step(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    model.train()
    freeze_batchnorm_statistics(model)
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def test_frozen_parameters_and_statistics_do_not_move_trainable_ones_do():
    torch.manual_seed(0)
    config = ModelSection(arch="mobilenet_v2", head="mlp", trainable_blocks=2)
    model = build_model(config, 10)
    set_trainable(model, config, head_only=False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _step(model, optimizer)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith("features.1.") for k in changed) and any(
        k.startswith("features.2.") for k in changed
    )
    assert any(k.startswith("classifier.") for k in changed)
    frozen = [
        k
        for k in before
        if k.startswith(("features.0.", "features.3.", "features.17.", "features.18."))
    ]
    assert frozen and not changed & set(frozen)  # weights and BatchNorm running statistics alike


def test_head_only_phase_then_unfreeze():
    config = ModelSection(arch="mobilenet_v3_small", trainable_blocks=3, head_only_epochs=1)
    model = build_model(config, 10)
    set_trainable(model, config, head_only=True)
    assert not any(p.requires_grad for p in model.features.parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())
    set_trainable(model, config, head_only=False)
    trainable = {
        i
        for i, block in enumerate(model.features)
        if any(p.requires_grad for p in block.parameters())
    }
    assert trainable == {1, 2, 3}


def test_heads_and_cifar_stem():
    v2 = build_model(
        ModelSection(
            arch="mobilenet_v2", head="mlp", head_hidden=128, dropout=0.3, cifar_stem=True
        ),
        10,
    )
    assert [type(m) for m in v2.classifier] == [
        nn.Dropout,
        nn.Linear,
        nn.ReLU,
        nn.Dropout,
        nn.Linear,
    ]
    assert v2.classifier[1].in_features == 1280 and v2.classifier[0].p == v2.classifier[3].p == 0.3
    assert v2.features[0][0].stride == (1, 1)
    assert v2(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    v3 = build_model(ModelSection(arch="mobilenet_v3_large", dropout=0.9), 10)
    assert v3.classifier[-1].out_features == 10
    assert [m.p for m in v3.classifier if isinstance(m, nn.Dropout)] == [0.9]


def test_pretrained_weights_load_from_the_hub_cache(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    reference = torchvision.models.mobilenet_v3_small(weights=None)
    path = models.weights_path("mobilenet_v3_small")
    assert path.name == "mobilenet_v3_small-047dcff4.pth"
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    model = build_model(ModelSection(arch="mobilenet_v3_small", pretrained=True), 10)
    assert torch.equal(
        model.features[4].block[0][0].weight, reference.features[4].block[0][0].weight
    )
    assert model.classifier[-1].out_features == 10


def test_missing_weights_offline_name_the_file_and_where_it_goes(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(url, dst, hash_prefix=None, progress=True):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(UnavailableError) as info:
        build_model(ModelSection(arch="mobilenet_v2", pretrained=True), 10)
    assert str(info.value) == (
        "pretrained weights for mobilenet_v2: mobilenet_v2-7ebf99e0.pth is not in "
        f"{tmp_path}/checkpoints and the download failed (network is unreachable); copy "
        "mobilenet_v2-7ebf99e0.pth (from https://download.pytorch.org/models/"
        f"mobilenet_v2-7ebf99e0.pth) into {tmp_path}/checkpoints"
    )


def test_cli_with_missing_weights_exits_3_before_creating_anything(
    write_preset, tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    from tests.helpers import TINY_PRESET
    from tui_trainer.cli import app

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(
        torch.hub, "download_url_to_file", lambda *a, **k: (_ for _ in ()).throw(OSError("offline"))
    )
    text = TINY_PRESET.replace(
        'arch = "mobilenet_v1"\nwidth_mult = 0.25', 'arch = "mobilenet_v2"\npretrained = true'
    )
    result = CliRunner().invoke(
        app, ["run", str(write_preset(text)), "--runs-dir", str(tmp_path / "runs")]
    )
    assert result.exit_code == 3, result.output
    assert "mobilenet_v2-7ebf99e0.pth is not in" in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "setting",
    [{"head_only_epochs": 2}, {"head": "mlp"}, {"cifar_stem": True}, {"trainable_blocks": 3}],
)
def test_v2_v3_only_settings_are_refused_for_v1(setting):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="only for V2/V3"):
        ModelSection(arch="mobilenet_v1", **setting)


def test_two_phases_log_no_gradient_norm_while_frozen(write_preset, runs_dir):
    from tests.helpers import TINY_PRESET, run_study
    from tui_trainer.config import load_preset
    from tui_trainer.store.csvlog import read_rows

    text = TINY_PRESET.replace(
        'arch = "mobilenet_v1"\nwidth_mult = 0.25',
        'arch = "mobilenet_v3_small"\nwidth_mult = 0.5\ntrainable_blocks = 2\nhead_only_epochs = 1',
    )
    text = text.replace(
        "log_every_steps = 5",
        "log_every_steps = 5\n"
        'track_grad_norm = ["features.1.block.0.0.weight", "classifier.3.weight"]',
    )
    result = run_study(load_preset(write_preset(text)), runs_dir, _Quiet())
    assert result.states == {"run": "completed"}
    rows = read_rows(result.study_dir / "run" / "metrics.csv")
    assert rows[0]["grad_norm:features.1.block.0.0.weight"] is None  # frozen in phase one
    assert rows[1]["grad_norm:features.1.block.0.0.weight"] > 0  # unfrozen in phase two
    assert rows[0]["grad_norm:classifier.3.weight"] > 0  # the head trains throughout


class _Quiet:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None
