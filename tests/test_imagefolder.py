"""The imagefolder dataset: a user's own images, one folder per class."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.helpers import TINY_PRESET, make_folder
from tui_trainer.cli import app
from tui_trainer.config.schema import DataSection
from tui_trainer.errors import UnavailableError
from tui_trainer.train.data import load_splits


def test_class_folders_become_labelled_resized_splits(tmp_path):
    make_folder(tmp_path / "pets")
    splits = load_splits(
        DataSection(
            dataset="imagefolder",
            data_dir=str(tmp_path / "pets"),
            image_size=16,
            val_fraction=0.25,
            test_fraction=0.25,
        )
    )
    assert splits.class_names == ("cat", "dog", "fox")
    assert splits.images.shape == (36, 3, 16, 16)
    assert (
        len(splits.test) == 9 and len(splits.val) == 6 and len(splits.train) == 21
    )  # per class: 3, 2, 7


def test_train_and_test_subfolders_are_used_as_given(tmp_path):
    make_folder(tmp_path / "set" / "train", per_class=10)
    make_folder(tmp_path / "set" / "test", per_class=4)
    splits = load_splits(
        DataSection(dataset="imagefolder", data_dir=str(tmp_path / "set"), val_fraction=0.2)
    )
    assert len(splits.test) == 12 and len(splits.val) == 6 and len(splits.train) == 24
    assert splits.labels[splits.test].tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UnavailableError, match="is not a directory"):
        load_splits(DataSection(dataset="imagefolder", data_dir=str(tmp_path / "nope")))
    (tmp_path / "one" / "only").mkdir(parents=True)
    with pytest.raises(UnavailableError, match="needs at least two class folders"):
        load_splits(DataSection(dataset="imagefolder", data_dir=str(tmp_path / "one")))


def test_training_on_an_image_folder(write_preset, tmp_path):
    make_folder(tmp_path / "pets", per_class=20)
    text = TINY_PRESET.replace(
        'dataset = "digits"',
        f'dataset = "imagefolder"\ndata_dir = "{tmp_path / "pets"}"\nimage_size = 24',
    )
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(write_preset(text)),
            "--runs-dir",
            str(tmp_path / "runs"),
            "--set",
            "train.epochs=1",
        ],
    )
    assert result.exit_code == 0, result.output
    (confusion,) = (tmp_path / "runs").glob("*/run/confusion.csv")
    assert confusion.read_text().splitlines()[0] == "true\\predicted,cat,dog,fox"


@pytest.mark.parametrize("layout", ["flat", "train-test"])
def test_params_counts_an_image_folder_head_from_its_class_folders(write_preset, tmp_path, layout):
    root = tmp_path / "pets"
    if layout == "flat":
        make_folder(root, per_class=1)
    else:
        make_folder(root / "train", per_class=1)
        make_folder(root / "test", per_class=1)
    text = TINY_PRESET.replace(
        'dataset = "digits"', f'dataset = "imagefolder"\ndata_dir = "{root}"'
    )
    result = CliRunner().invoke(app, ["params", str(write_preset(text))])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)["run"]
    assert counts["classes"] == 3
    head = 256 * 3 + 3  # width 0.25: 256 features into a 3-class linear head
    ten_class = json.loads(CliRunner().invoke(app, ["params", str(write_preset())]).stdout)["run"]
    assert counts["total"] == ten_class["total"] - (256 * 10 + 10) + head


def test_params_of_a_missing_image_folder_says_where_it_looked(write_preset, tmp_path):
    text = TINY_PRESET.replace(
        'dataset = "digits"', f'dataset = "imagefolder"\ndata_dir = "{tmp_path / "nope"}"'
    )
    result = CliRunner().invoke(app, ["params", str(write_preset(text))])
    assert result.exit_code == 3
    assert f"imagefolder: {tmp_path / 'nope'} is not a directory" in result.output
