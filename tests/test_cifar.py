"""The CIFAR loader on tiny archives in the genuine format: reading, checksums, absence."""

from __future__ import annotations

import io
import pickle
import tarfile

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers import TINY_PRESET
from tui_trainer.cli import app
from tui_trainer.config.schema import DataSection
from tui_trainer.errors import UnavailableError
from tui_trainer.train import cifar
from tui_trainer.train.data import load_splits

CIFAR_PRESET = TINY_PRESET.replace('dataset = "digits"', 'dataset = "cifar10"\nsplit = "random"')


def test_cifar10_archive_is_checked_extracted_and_read(cifar_data_dir):
    splits = load_splits(DataSection(dataset="cifar10", val_fraction=0.2))
    assert splits.images.shape == (400, 3, 32, 32)  # 300 train + 100 test, held once
    assert len(splits.train) == 240 and len(splits.val) == 60 and len(splits.test) == 100
    assert splits.class_names[:3] == ("airplane", "automobile", "bird")
    assert (cifar_data_dir / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert sorted(splits.labels[splits.test].tolist()) == sorted(list(range(10)) * 10)


def test_cifar100_fine_and_coarse_labels(cifar_data_dir):
    fine = load_splits(DataSection(dataset="cifar100", split="random"))
    coarse = load_splits(DataSection(dataset="cifar100", split="random", coarse_labels=True))
    assert fine.num_classes == 100 and coarse.num_classes == 20
    assert fine.class_names[7] == "fine7" and coarse.class_names[1] == "coarse1"
    assert (coarse.labels == fine.labels // 5).all()


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_torchvision_reads_the_test_archives_as_tui_trainer_does(cifar_data_dir, name):
    """The archives are pickled as Python 2 pickled the published ones, so torchvision's reader
    (encoding latin1, str keys) and ours (encoding bytes, numpy only) see the same images."""
    import torchvision

    load_splits(DataSection(dataset=name))  # extracts the archive
    spec = cifar.SPECS[name]
    tv_class = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100

    class Unchecked(tv_class):
        def _check_integrity(self) -> bool:
            return True

        def _load_meta(self) -> None:  # torchvision checks the real dataset's MD5 here
            with open(f"{self.root}/{self.base_folder}/{self.meta['filename']}", "rb") as f:
                self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]

    theirs = Unchecked(str(cifar_data_dir), train=True)
    ours = cifar.read(spec, cifar_data_dir / spec.folder)
    assert np.array_equal(theirs.data, ours.train_images.transpose(0, 2, 3, 1))
    assert theirs.targets == ours.train_labels.tolist()
    assert tuple(theirs.classes) == ours.class_names


def test_random_split_is_exactly_torch_random_split(cifar_data_dir):
    import torch

    splits = load_splits(
        DataSection(dataset="cifar10", split="random", split_seed=0, val_fraction=0.2)
    )
    train, val = torch.utils.data.random_split(
        range(300), [240, 60], generator=torch.Generator().manual_seed(0)
    )
    assert splits.train.tolist() == list(train) and splits.val.tolist() == list(val)


def test_the_extracted_folder_is_enough(cifar_data_dir):
    load_splits(DataSection(dataset="cifar10"))
    (cifar_data_dir / "cifar-10-python.tar.gz").unlink()
    assert load_splits(DataSection(dataset="cifar10")).num_classes == 10


def test_checksum_mismatch_is_refused(cifar_data_dir, monkeypatch):
    import dataclasses

    monkeypatch.setattr(
        cifar,
        "SPECS",
        {**cifar.SPECS, "cifar10": dataclasses.replace(cifar.SPECS["cifar10"], md5="0" * 32)},
    )
    with pytest.raises(
        UnavailableError, match=r"checksum mismatch \(md5 [0-9a-f]{32}, expected 0{32}\)"
    ):
        load_splits(DataSection(dataset="cifar10"))
    assert not (cifar_data_dir / "cifar-10-batches-py").exists()


def test_missing_and_offline_names_dataset_directory_and_remedy(tmp_path, monkeypatch):
    def offline(spec, data_dir):
        raise OSError("network is unreachable")

    monkeypatch.setattr(cifar, "_download", offline)
    with pytest.raises(UnavailableError) as info:
        load_splits(DataSection(dataset="cifar100", data_dir=str(tmp_path)))
    message = str(info.value)
    assert message.startswith(
        f"CIFAR-100 is not in {tmp_path} (download failed: network is unreachable)"
    )
    assert (
        "Put cifar-100-python.tar.gz (from https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
        in message
    )
    with pytest.raises(UnavailableError, match=r"\(data.download is false\)"):
        load_splits(DataSection(dataset="cifar10", data_dir=str(tmp_path), download=False))


def test_cli_without_data_exits_3_and_creates_nothing(write_preset, tmp_path, monkeypatch):
    monkeypatch.setattr(
        cifar, "_download", lambda spec, data_dir: (_ for _ in ()).throw(OSError("offline"))
    )
    runs_dir = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(write_preset(CIFAR_PRESET)),
            "--runs-dir",
            str(runs_dir),
            "--data-dir",
            str(tmp_path / "empty"),
        ],
    )
    assert result.exit_code == 3, result.output
    assert "error: CIFAR-10 is not in" in result.output and "Traceback" not in result.output
    assert not runs_dir.exists()


def test_a_tampered_batch_cannot_run_code(cifar_data_dir):
    folder = cifar.locate(cifar.SPECS["cifar10"], cifar_data_dir, download=False)

    class Exploit:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    with pytest.raises(UnavailableError, match="refusing to load"):
        cifar.read(cifar.SPECS["cifar10"], folder)


def test_archive_with_path_traversal_is_refused(tmp_path, monkeypatch):
    import dataclasses

    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    monkeypatch.setattr(
        cifar,
        "SPECS",
        {
            **cifar.SPECS,
            "cifar10": dataclasses.replace(cifar.SPECS["cifar10"], md5=cifar.md5_of(archive)),
        },
    )
    with pytest.raises(UnavailableError, match="cannot extract"):
        load_splits(DataSection(dataset="cifar10", data_dir=str(tmp_path)))
    assert not (tmp_path.parent / "escaped").exists()


def test_training_on_cifar_writes_class_names(write_preset, cifar_data_dir, tmp_path):
    runs_dir = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(write_preset(CIFAR_PRESET)),
            "--runs-dir",
            str(runs_dir),
            "--set",
            "train.epochs=1",
        ],
    )
    assert result.exit_code == 0, result.output
    (confusion,) = runs_dir.glob("*/run/confusion.csv")
    header = confusion.read_text().splitlines()[0]
    assert header == "true\\predicted,airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck"
    assert np.loadtxt(confusion, delimiter=",", skiprows=1, usecols=range(1, 11)).sum() == 100


def test_same_seed_same_metrics_with_every_augmentation(write_preset, cifar_data_dir, tmp_path):
    from tui_trainer.store.csvlog import read_rows

    text = CIFAR_PRESET.replace(
        'augment = ["crop"]', 'augment = ["crop", "hflip", "rotate", "mixup"]'
    )
    path = write_preset(text)
    tables = []
    for attempt in range(2):
        runs_dir = tmp_path / f"runs{attempt}"
        result = CliRunner().invoke(
            app, ["run", str(path), "--runs-dir", str(runs_dir), "--set", "data.resize=40"]
        )
        assert result.exit_code == 0, result.output
        (metrics,) = runs_dir.glob("*/run/metrics.csv")
        tables.append(
            [{k: v for k, v in r.items() if not k.endswith("_s")} for r in read_rows(metrics)]
        )
    assert tables[0] == tables[1] and len(tables[0]) == 2


def test_a_batch_with_missing_labels_is_refused(cifar_data_dir):
    folder = cifar.locate(cifar.SPECS["cifar10"], cifar_data_dir, download=False)
    path = folder / "data_batch_1"
    record = pickle.loads(path.read_bytes(), encoding="bytes")
    record[b"labels"] = record[b"labels"][:-3]
    path.write_bytes(pickle.dumps(record, protocol=2))
    with pytest.raises(UnavailableError, match="60 images but 57 labels; the file is damaged"):
        cifar.read(cifar.SPECS["cifar10"], folder)


def test_sweeping_a_loading_setting_loads_each_dataset(cifar_data_dir):
    import torch

    from tui_trainer.train.data import DatasetCache

    cache = DatasetCache()
    fine = cache.get(DataSection(dataset="cifar100", split="random"), torch.device("cpu"))
    coarse = cache.get(
        DataSection(dataset="cifar100", split="random", coarse_labels=True), torch.device("cpu")
    )
    assert (fine.num_classes, coarse.num_classes) == (100, 20)
    same = cache.get(
        DataSection(dataset="cifar100", split="random", coarse_labels=True, batch_size=7),
        torch.device("cpu"),
    )
    assert same is coarse  # batch size does not change what is loaded
