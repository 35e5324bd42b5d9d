"""`tui-trainer data PRESET`: each split's size and class shares, the training split's
per-channel mean/std and the run's normalization, and a sheet of the run's augmented training
images, checked against figures computed here without the summary's code."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from tui_trainer.cli import app
from tui_trainer.config.load import load_preset
from tui_trainer.config.presets import resolve_preset
from tui_trainer.train import cifar
from tui_trainer.train.data import load_splits
from tui_trainer.train.data_summary import summarize, training_samples

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["data", *args])


def quickstart_counts_by_hand() -> dict[str, np.ndarray]:
    """Per split, images per class of quickstart's stratified split, from scikit-learn's own
    labels: test takes round(20%) of each class, validation round(10%) of what is left."""
    from sklearn.datasets import load_digits

    per_class = np.bincount(load_digits().target)
    test = np.array([round(n * 0.2) for n in per_class])
    val = np.array([round((n - t) * 0.1) for n, t in zip(per_class, test, strict=True)])
    return {"train": per_class - test - val, "val": val, "test": test}


def split_line(name: str, counts: np.ndarray, total: int, names: list[str]) -> str:
    shares = counts / counts.sum()
    low, high = int(np.argmin(shares)), int(np.argmax(shares))
    return (
        rf"^{name}\s+{counts.sum():,}\s+{100 * counts.sum() / total:.2f}%\s+"
        rf"{100 * shares[low]:.2f}% \({names[low]}\)\s+{100 * shares[high]:.2f}% \({names[high]}\)"
    )


def test_quickstart_prints_each_splits_size_and_smallest_and_largest_class_share():
    result = invoke("presets/quickstart.toml", "--set", "sweep.optim.lr=[0.05, 0.1]")
    assert result.exit_code == 0, result.output
    counts = quickstart_counts_by_hand()
    assert [int(c.sum()) for c in counts.values()] == [1295, 143, 359]
    digits = [str(d) for d in range(10)]
    for name, per_class in counts.items():
        assert re.search(split_line(name, per_class, 1797, digits), result.output, re.M), name
    # a sweep over the learning rate trains every run on the same data: one summary
    assert result.output.count("splits") == 1 and "used by all 2 runs" in result.output
    assert "augment: crop (zero-pad 4, random crop back)" in result.output


def test_classes_option_prints_every_class_count_and_share_in_every_split():
    result = invoke("quickstart", "--classes")
    assert result.exit_code == 0, result.output
    counts = quickstart_counts_by_hand()
    for digit in range(10):
        cells = [
            rf"{counts[s][digit]}\s+{100 * counts[s][digit] / counts[s].sum():.2f}%"
            for s in ("train", "val", "test")
        ]
        assert re.search(rf"^{digit}\s+" + r"\s+".join(cells) + "$", result.output, re.M)


def test_train_split_mean_and_std_are_numpys_on_the_split_the_run_trains_on():
    loaded = load_preset(resolve_preset("quickstart"))
    config = loaded.runs[0].config
    splits = load_splits(config.data)
    pixels = splits.images[splits.train].numpy().astype(np.float64) / 255.0
    mean, std = pixels.mean(axis=(0, 2, 3)), pixels.std(axis=(0, 2, 3), ddof=1)
    summary = summarize(config, splits)
    np.testing.assert_allclose(summary.dataset.train_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(summary.dataset.train_std, std, rtol=1e-12)
    assert summary.batches.normalization == "train_split"
    assert summary.batches.mean == summary.dataset.train_mean
    output = invoke("quickstart").output
    assert re.search(r"^mean\s+" + r"\s+".join(f"{v:.4f}" for v in mean), output, re.M)
    assert re.search(r"^std\s+" + r"\s+".join(f"{v:.4f}" for v in std), output, re.M)
    assert "normalize: the training split's own figures above (data.normalize = auto)" in output


def test_cifar_preset_reads_a_local_archive_given_by_data_dir(
    cifar_data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("TUI_TRAINER_DATA", str(tmp_path / "elsewhere"))  # --data-dir must win
    result = invoke(
        "r002-cifar100-mixup", "--data-dir", str(cifar_data_dir), "--set", "data.download=false"
    )
    assert result.exit_code == 0, result.output
    # 4 training and 1 test image per class; report 002's split: random_split 80/20, seed 0
    arrays = cifar.read(cifar.CIFAR100, cifar_data_dir / cifar.CIFAR100.folder)
    order = torch.randperm(400, generator=torch.Generator().manual_seed(0)).numpy()
    train = order[:320]
    names = list(arrays.class_names)
    train_counts = np.bincount(arrays.train_labels[train], minlength=100)
    test_counts = np.bincount(arrays.test_labels, minlength=100)
    assert re.search(split_line("train", train_counts, 500, names), result.output, re.M)
    assert re.search(split_line("test", test_counts, 500, names), result.output, re.M)
    pixels = arrays.train_images[train].astype(np.float64) / 255.0
    mean = pixels.mean(axis=(0, 2, 3))
    assert re.search(r"^mean\s+" + r"\s+".join(f"{v:.4f}" for v in mean), result.output, re.M)
    assert result.output.count("splits") == 1  # both runs train on the same data
    # the sweep turns mixup on in one run: each run's batches are shown under its name, both
    # normalized with report 002's printed figures, which the preset gives
    normalize = (
        "  normalize: data.mean / data.std as the preset gives them: "
        "mean 0.5071 0.4865 0.4409, std 0.2009 0.1984 0.2023"
    )
    assert (
        "runs augment=crop+hflip:\n"
        f"{normalize}\n"
        "  augment: crop (zero-pad 4, random crop back), hflip\n"
        "runs augment=crop+hflip+mixup:\n"
        f"{normalize}\n"
        "  augment: crop (zero-pad 4, random crop back), hflip, mixup (lambda ~ Beta(0.2, 0.2))\n"
    ) in result.output


def test_samples_are_the_runs_first_mixed_batch_as_training_draws_it():
    loaded = load_preset(
        resolve_preset("quickstart"), ['data.augment=["mixup"]', "data.mixup_alpha=0.5"]
    )
    config = loaded.runs[0].config
    splits = load_splits(config.data)
    tiles = training_samples(config, splits, 5)
    # the loop's draws: the epoch's shuffle, then the batch's mixup partners, from one
    # generator seeded by train.seed; lambda from a NumPy generator seeded the same
    generator = torch.Generator().manual_seed(config.train.seed)
    order = torch.randperm(len(splits.train), generator=generator)
    batch = splits.train[order[:64]]
    partners = batch[torch.randperm(64, generator=generator)]
    lam = np.random.default_rng(config.train.seed).beta(0.5, 0.5)
    images = splits.images.numpy().astype(np.float64)
    expected = lam * images[batch[:5]] + (1 - lam) * images[partners[:5]]
    shown = np.stack([tile.pixels for tile in tiles]).transpose(0, 3, 1, 2).astype(np.float64)
    assert np.abs(shown - expected).max() <= 1.0  # rounding of the normalized floats only
    names, labels = splits.class_names, splits.labels
    for tile, a, b in zip(tiles, batch[:5], partners[:5], strict=True):
        parts = {names[labels[a]]: lam, names[labels[b]]: 1 - lam}
        if labels[a] == labels[b]:
            parts = {names[labels[a]]: 1.0}
        assert dict(tile.classes) == pytest.approx(parts)


def test_samples_option_writes_a_sheet_whose_first_tile_is_the_first_image(tmp_path):
    sheet = tmp_path / "samples.png"
    result = invoke("quickstart", "--samples", str(sheet), "--count", "10")
    assert result.exit_code == 0, result.output
    config = load_preset(resolve_preset("quickstart")).runs[0].config
    first = training_samples(config, load_splits(config.data), 1)[0].pixels
    with Image.open(sheet) as image:
        pixels = np.asarray(image.convert("RGB"))
    # 8 columns of 32x32 images shown 3x (96 px) with 4 px gaps; 2 rows, each with its caption
    assert pixels.shape == (2 * (96 + 14 + 4) + 4, 8 * 100 + 4, 3)
    assert np.array_equal(pixels[4:100, 4:100], first.repeat(3, axis=0).repeat(3, axis=1))


def test_user_errors_are_one_line_and_an_exit_code(tmp_path, cifar_data_dir):
    missing = invoke(
        "r001-cifar100-lr", "--data-dir", str(tmp_path / "none"), "--set", "data.download=false"
    )
    assert missing.exit_code == 3 and "CIFAR-100 is not in" in missing.output
    unknown = invoke("quickstart", "--run", "lr=9")
    assert (
        unknown.exit_code == 2
        and "--run lr=9: the study has no such run (it has: run)" in unknown.output
    )
    several = invoke("r002-cifar100-mixup", "--samples", str(tmp_path / "s.png"))
    assert several.exit_code == 2 and "pick one with --run NAME" in several.output
    unwritable = invoke("quickstart", "--samples", str(tmp_path / "no" / "s.png"))
    assert unwritable.exit_code == 2 and "cannot write" in unwritable.output
    bad = invoke("quickstart", "--set", "data.val_fraction=2")
    assert bad.exit_code == 2 and "data.val_fraction" in bad.output
    for result in (missing, unknown, several, unwritable, bad):
        assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("overrides", "source"),
    [
        ([], "train_split"),  # digits: auto has no published figures to take
        (["data.normalize=dataset"], "train_split"),
        (["data.normalize=imagenet"], "imagenet"),
        (["model.arch=mobilenet_v2", "model.width_mult=1.0", "model.pretrained=true"], "imagenet"),
        (["data.dataset=cifar10"], "dataset"),
        (["data.mean=[0.5, 0.5, 0.5]", "data.std=[0.25, 0.25, 0.25]"], "explicit"),
    ],
)
def test_the_normalization_shown_is_the_one_training_uses(overrides, source):
    from types import SimpleNamespace

    from tui_trainer.train.data import IMAGENET_STATS, normalization, normalization_source

    config = load_preset(resolve_preset("quickstart"), overrides).runs[0].config
    split_figures = SimpleNamespace(mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6))
    expected = {
        "train_split": ((0.1, 0.2, 0.3), (0.4, 0.5, 0.6)),
        "imagenet": IMAGENET_STATS,
        "dataset": cifar.STATS["cifar10"],
        "explicit": ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    }[source]
    assert normalization_source(config) == source
    assert normalization(config, split_figures) == expected
