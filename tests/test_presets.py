"""Every built-in preset: it validates, and its first run trains one epoch end to end on tiny
CIFAR archives in the genuine format, through the real loader and the real model."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from tui_trainer.cli import app
from tui_trainer.config import load_preset
from tui_trainer.config.presets import builtin_presets
from tui_trainer.config.sweep import format_value
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import read_rows

PRESETS = builtin_presets()
REPORT_PRESETS = [p for p in PRESETS if p.stem != "quickstart"]


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """A torch hub cache holding (randomly initialised) weights files for the pretrained models."""
    from tui_trainer.config.schema import PRETRAINABLE
    from tui_trainer.train import models

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    for arch in PRETRAINABLE:
        path = models.weights_path(arch)
        path.parent.mkdir(parents=True, exist_ok=True)
        import torchvision

        torch.save(getattr(torchvision.models, arch)(weights=None).state_dict(), path)


def test_every_study_of_the_reports_has_a_preset():
    names = {p.stem for p in PRESETS}
    for report in ("r000", "r001", "r002", "r003", "r004"):
        assert any(n.startswith(report) for n in names), report
    for study in ("lr", "schedule", "weight-decay", "activation", "mixup"):
        assert f"r000-cifar100-{study}" in names or study == "mixup"
    for study in ("finetune", "lr", "batch", "blocks"):
        assert f"r003-cifar10-v2-{study}" in names


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_validates_and_names_its_report(preset):
    study = load_preset(preset)
    assert study.runs
    if preset.stem != "quickstart":
        assert study.preset.study.description.startswith(f"Report {preset.stem[1:4]}")
        assert study.preset.study.name == preset.stem


@pytest.mark.slow
@pytest.mark.parametrize("preset", REPORT_PRESETS, ids=lambda p: p.stem)
def test_preset_runs_one_epoch_on_a_tiny_archive(preset, cifar_data_dir, fake_hub, tmp_path):
    study = load_preset(preset)
    first = study.runs[0]
    overrides = [f"{key}={_toml(value)}" for key, value in first.values.items()]
    overrides += ["train.epochs=1", "train.device=cpu"]
    if study.preset.data.resize is not None:
        overrides.append("data.resize=32")  # 224 is the reports' size; 32 keeps the test fast
    runs_dir = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(preset),
            "--runs-dir",
            str(runs_dir),
            *[a for o in overrides for a in ("--set", o)],
        ],
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in next(runs_dir.iterdir()).iterdir() if p.is_dir()]
    summary = read_toml(run_dir / "summary.toml")
    assert summary["test_images"] == 100 and 0.0 <= summary["test_acc"] <= 1.0
    rows = read_rows(run_dir / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1]
    for name in study.preset.train.track_grad_norm:
        assert rows[0][f"grad_norm:{name}"] > 0


def _toml(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return format_value(value)
