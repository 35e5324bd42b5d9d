"""CIFAR-10 and CIFAR-100 from the standard Python archives.

Looked for in the data directory, in this order: the extracted folder (`cifar-10-batches-py/`,
`cifar-100-python/`), then the archive (`cifar-10-python.tar.gz`, `cifar-100-python.tar.gz`),
whose MD5 is checked before it is extracted; then, where `data.download` allows, the archive is
downloaded with torchvision's utilities (which check the MD5 too). Absent and offline, the error
names the dataset, the directory searched and what to put there.

The batches are pickles, as the dataset's authors publish them; they are read with an unpickler
that accepts only the numpy types those files contain, so a tampered file cannot run code.
"""

from __future__ import annotations

import hashlib
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tui_trainer.errors import UnavailableError
from tui_trainer.store.files import open_regular


@dataclass(frozen=True)
class CifarSpec:
    name: str
    title: str
    folder: str
    archive: str
    url: str
    md5: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str


CIFAR10 = CifarSpec(
    name="cifar10",
    title="CIFAR-10",
    folder="cifar-10-batches-py",
    archive="cifar-10-python.tar.gz",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_files=("test_batch",),
    meta_file="batches.meta",
)
CIFAR100 = CifarSpec(
    name="cifar100",
    title="CIFAR-100",
    folder="cifar-100-python",
    archive="cifar-100-python.tar.gz",
    url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    md5="eb9058c3a382ffc7106e4002c42a8d85",
    train_files=("train",),
    test_files=("test",),
    meta_file="meta",
)
SPECS = {spec.name: spec for spec in (CIFAR10, CIFAR100)}

# The dataset's own per-channel statistics of the training set, in [0, 1] units.
STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


@dataclass(frozen=True)
class CifarArrays:
    train_images: np.ndarray  # uint8 [N, 3, 32, 32]
    train_labels: np.ndarray  # int64 [N]
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays; refuses every other global."""

    ALLOWED: frozenset[tuple[str, str]] = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _load_batch(path: Path) -> dict[bytes, Any]:
    with open_regular(path, follow_links=True) as handle:
        data = _NumpyOnlyUnpickler(handle, encoding="bytes").load()
    if not isinstance(data, dict):
        raise pickle.UnpicklingError(f"{path.name} does not hold a CIFAR batch")
    return data


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open_regular(path, follow_links=True) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _missing_message(spec: CifarSpec, data_dir: Path, why: str) -> str:
    return (
        f"{spec.title} is not in {data_dir} ({why}). Put {spec.archive} (from {spec.url}, "
        f"md5 {spec.md5}) or its extracted folder {spec.folder}/ there, or point --data-dir, "
        "data.data_dir or TUI_TRAINER_DATA at a directory that has it"
    )


def _extract(archive: Path, data_dir: Path) -> None:
    with (
        open_regular(archive, follow_links=True) as handle,
        tarfile.open(fileobj=handle, mode="r:gz") as tar,
    ):
        if hasattr(tarfile, "data_filter"):
            tar.extractall(data_dir, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            for member in tar.getmembers():
                if member.name.startswith(("/", "..")) or ".." in Path(member.name).parts:
                    raise tarfile.TarError(f"unsafe path in archive: {member.name}")
            tar.extractall(data_dir)


def _download(spec: CifarSpec, data_dir: Path) -> None:
    from torchvision.datasets.utils import download_url

    download_url(spec.url, str(data_dir), filename=spec.archive, md5=spec.md5)


def locate(spec: CifarSpec, data_dir: Path, download: bool) -> Path:
    """The extracted folder of `spec` in `data_dir`, extracting or downloading it if needed."""
    folder = data_dir / spec.folder
    needed = [*spec.train_files, *spec.test_files, spec.meta_file]
    if all((folder / name).is_file() for name in needed):
        return folder
    archive = data_dir / spec.archive
    if not archive.is_file():
        if not download:
            raise UnavailableError(_missing_message(spec, data_dir, "data.download is false"))
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            _download(spec, data_dir)
        except Exception as exc:  # URLError, timeouts, HTTP errors: all mean "not here"
            reason = getattr(exc, "reason", None) or exc
            raise UnavailableError(
                _missing_message(spec, data_dir, f"download failed: {reason}")
            ) from None
        if not archive.is_file():
            raise UnavailableError(_missing_message(spec, data_dir, "download failed"))
    actual = md5_of(archive)
    if actual != spec.md5:
        raise UnavailableError(
            f"{archive}: checksum mismatch (md5 {actual}, expected {spec.md5}); the file is "
            f"damaged or not {spec.title}: delete it and download it again from {spec.url}"
        )
    try:
        _extract(archive, data_dir)
    except (tarfile.TarError, OSError) as exc:
        raise UnavailableError(f"{archive}: cannot extract: {exc}") from None
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise UnavailableError(f"{archive}: the archive lacks {', '.join(missing)}")
    return folder


def read(spec: CifarSpec, folder: Path, coarse_labels: bool = False) -> CifarArrays:
    """The images (uint8 NCHW), labels and class names of an extracted CIFAR folder."""
    if spec.name == "cifar100":
        label_key = b"coarse_labels" if coarse_labels else b"fine_labels"
        names_key = b"coarse_label_names" if coarse_labels else b"fine_label_names"
    else:
        label_key, names_key = b"labels", b"label_names"

    try:
        meta = _load_batch(folder / spec.meta_file)
        names = tuple(
            n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in meta[names_key]
        )
    except Exception as exc:  # any damage to a data file is the file's fault, not a bug
        raise UnavailableError(f"{folder / spec.meta_file}: no class names ({exc})") from None

    def part(files: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        images, labels = [], []
        for name in files:
            path = folder / name
            try:
                batch = _load_batch(path)
                pixels = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
                targets = np.asarray(batch[label_key], dtype=np.int64).reshape(-1)
            except Exception as exc:
                raise UnavailableError(
                    f"{path}: not a readable {spec.title} batch ({exc})"
                ) from None
            if len(targets) != len(pixels):
                raise UnavailableError(
                    f"{path}: {len(pixels)} images but {len(targets)} labels; the file is damaged"
                )
            if len(targets) and (targets.min() < 0 or targets.max() >= len(names)):
                raise UnavailableError(
                    f"{path}: labels outside 0..{len(names) - 1}; the file is damaged"
                )
            images.append(pixels)
            labels.append(targets)
        return np.concatenate(images), np.concatenate(labels)

    train_images, train_labels = part(spec.train_files)
    test_images, test_labels = part(spec.test_files)
    return CifarArrays(train_images, train_labels, test_images, test_labels, names)
