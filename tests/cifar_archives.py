"""Tiny CIFAR-10/100 archives in the genuine on-disk format: a .tar.gz holding the batch folder,
each batch a protocol-2 pickle of a dict with byte-string keys and a uint8 numpy `data` array of
shape (N, 3072), as the dataset's authors publish them."""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

from tui_trainer.train import cifar


def _batch(
    rng: np.random.Generator, labels: np.ndarray, label_keys: dict[bytes, np.ndarray]
) -> bytes:
    # Each class gets its own mean colour, so that a model can learn something.
    base = (labels[:, None] * 37 % 256).astype(np.int16)
    noise = rng.integers(-40, 40, size=(len(labels), 3072))
    data = np.clip(base + noise, 0, 255).astype(np.uint8)
    record = {b"batch_label": b"tiny", b"data": data, b"filenames": [b"x.png"] * len(labels)}
    record.update({k: v.tolist() for k, v in label_keys.items()})
    return python2_pickle(record)


class _Python2Pickler(pickle._Pickler):  # the pure-Python pickler, whose dispatch can change
    """Protocol 2 with every bytes object written as a Python 2 `str` (BINSTRING opcodes), as in
    the published batches, which Python 2 pickled: loaded with encoding="bytes" the keys are
    bytes, with encoding="latin1" (torchvision's choice) they are str."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_python2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_python2_str


def python2_pickle(obj: object) -> bytes:
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def write_archive(
    directory: Path, spec: cifar.CifarSpec, train_per_class: int, test_per_class: int
) -> Path:
    """Write `spec.archive` into `directory`; returns its path."""
    rng = np.random.default_rng(0)
    classes = 100 if spec.name == "cifar100" else 10
    files: dict[str, bytes] = {}

    def labels_for(per_class: int) -> np.ndarray:
        labels = np.repeat(np.arange(classes), per_class)
        rng.shuffle(labels)
        return labels

    if spec.name == "cifar100":
        for name, per_class in (("train", train_per_class), ("test", test_per_class)):
            fine = labels_for(per_class)
            files[name] = _batch(rng, fine, {b"fine_labels": fine, b"coarse_labels": fine // 5})
        meta = {
            b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
        }
    else:
        train = labels_for(train_per_class)
        for name, chunk in zip(spec.train_files, np.array_split(train, 5), strict=True):
            files[name] = _batch(rng, chunk, {b"labels": chunk})
        test = labels_for(test_per_class)
        files["test_batch"] = _batch(rng, test, {b"labels": test})
        names = (
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        )
        meta = {b"label_names": [n.encode() for n in names]}
    files[spec.meta_file] = python2_pickle(meta)

    archive = directory / spec.archive
    with tarfile.open(archive, "w:gz") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(f"{spec.folder}/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return archive
