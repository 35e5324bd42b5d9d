"""Datasets as device-resident uint8 tensors, split by index, and the batches drawn from them.

The whole dataset is held once (one uint8 tensor on the training device); the train, validation
and test splits are index tensors into it. A batch is a gather, the augmentations, and one fused
scale-and-shift to normalized float, all on the device.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tui_trainer.config.schema import DataSection, RunConfig
from tui_trainer.errors import UnavailableError
from tui_trainer.store.files import MAX_IMAGE_BYTES, FileTooLarge, open_regular
from tui_trainer.train import cifar
from tui_trainer.train.augment import random_crop, random_hflip, random_rotate

DIGITS_SIZE = 32
DIGITS_CLASSES = 10
IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")  # the decoders those suffixes need
MAX_IMAGE_PIXELS = 8192 * 8192  # images are resized to at most 1024x1024 anyway


@dataclass(frozen=True)
class ImageSplits:
    """A dataset held once, with its splits as indices into it."""

    images: torch.Tensor  # uint8 [N, C, H, W]
    labels: torch.Tensor  # int64 [N]
    train: torch.Tensor  # int64 indices
    val: torch.Tensor
    test: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]  # per channel, in [0, 1] units
    std: tuple[float, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to(self, device: torch.device) -> ImageSplits:
        return replace(
            self,
            images=self.images.to(device),
            labels=self.labels.to(device),
            train=self.train.to(device),
            val=self.val.to(device),
            test=self.test.to(device),
        )


def stratified_split(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held) index arrays: `fraction` of each class held out, chosen by `rng`."""
    held, rest = [], []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        n_held = round(len(members) * fraction)
        held.append(members[:n_held])
        rest.append(members[n_held:])
    return np.sort(np.concatenate(rest)), np.sort(np.concatenate(held))


def random_split(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held) exactly as torch.utils.data.random_split(range(count), [rest, held],
    generator=torch.Generator().manual_seed(seed)) draws them, with held = round(count *
    fraction) (the reports' int(0.8 * 50000) split gives the same 40,000 / 10,000)."""
    held_count = round(count * fraction)
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).numpy()
    return order[: count - held_count], order[count - held_count :]


def hold_out(
    labels: np.ndarray, fraction: float, config: DataSection, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held) positions into `labels` by the configured split method."""
    if config.split == "random":
        return random_split(len(labels), fraction, config.split_seed)
    return stratified_split(labels, fraction, rng)


def data_dir(config: DataSection) -> Path:
    """data.data_dir, else $TUI_TRAINER_DATA, else ~/.cache/tui-trainer/data."""
    return config.location()


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units (0 and 1 for no images)."""
    if images.shape[0] == 0:
        channels = images.shape[1]
        return (0.0,) * channels, (1.0,) * channels
    x = images.to(torch.float64) / 255.0
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return tuple(mean.tolist()), tuple(std.tolist())


def load_digits_splits(config: DataSection) -> ImageSplits:
    """scikit-learn's bundled 8x8 digits, upscaled (bilinear) to 32x32 and repeated to 3 channels.

    Split: `test_fraction` of each class is the test set, then `val_fraction` of what remains is
    the validation set, both drawn with `split_seed`. Mean/std come from the training split.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = torch.from_numpy(digits.images).float().unsqueeze(1) * (255.0 / 16.0)
    pixels = F.interpolate(
        pixels, size=(DIGITS_SIZE, DIGITS_SIZE), mode="bilinear", align_corners=False
    )
    images = pixels.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = np.asarray(digits.target, dtype=np.int64)

    names = tuple(str(name) for name in digits.target_names)
    return _split_without_test_set(images, labels, names, config)


def _split_without_test_set(
    images: torch.Tensor, labels: np.ndarray, names: tuple[str, ...], config: DataSection
) -> ImageSplits:
    """Hold out test_fraction, then val_fraction of the rest."""
    rng = np.random.default_rng(config.split_seed)
    rest, test = hold_out(labels, config.test_fraction, config, rng)
    train_pos, val_pos = hold_out(labels[rest], config.val_fraction, config, rng)
    return _splits(images, labels, rest[train_pos], rest[val_pos], test, names)


def _splits(
    images: torch.Tensor,
    labels: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
    names: tuple[str, ...],
) -> ImageSplits:
    train_t = torch.from_numpy(np.asarray(train, dtype=np.int64))
    mean, std = channel_stats(images[train_t])
    return ImageSplits(
        images=images,
        labels=torch.from_numpy(np.asarray(labels, dtype=np.int64)),
        train=train_t,
        val=torch.from_numpy(np.asarray(val, dtype=np.int64)),
        test=torch.from_numpy(np.asarray(test, dtype=np.int64)),
        class_names=names,
        mean=mean,
        std=std,
    )


def load_cifar_splits(config: DataSection) -> ImageSplits:
    """CIFAR-10/100: the official test set, and val_fraction of the training set as
    validation. All 60,000 images are one uint8 tensor; the splits index into it."""
    spec = cifar.SPECS[config.dataset]
    folder = cifar.locate(spec, data_dir(config), config.download)
    arrays = cifar.read(spec, folder, coarse_labels=config.coarse_labels)
    n_train = len(arrays.train_labels)
    images = torch.from_numpy(np.concatenate([arrays.train_images, arrays.test_images]))
    labels = np.concatenate([arrays.train_labels, arrays.test_labels])
    rng = np.random.default_rng(config.split_seed)
    train, val = hold_out(arrays.train_labels, config.val_fraction, config, rng)
    test = np.arange(n_train, len(labels))
    return _splits(images, labels, train, val, test, arrays.class_names)


def class_count(config: DataSection) -> int:
    """How many classes the [data] section's dataset has (the size of the model's head), without
    reading its images: an image folder's class folders are counted."""
    if config.dataset == "digits":
        return DIGITS_CLASSES
    if config.dataset == "cifar10":
        return 10
    if config.dataset == "cifar100":
        return 20 if config.coarse_labels else 100
    if config.dataset == "imagefolder":
        root = data_dir(config)
        return len(_class_folders(root / "train" if _has_train_test(root) else root))
    raise ValueError(f"unknown dataset {config.dataset!r}")  # the schema forbids this


def _has_train_test(root: Path) -> bool:
    return (root / "train").is_dir() and (root / "test").is_dir()


def load_imagefolder_splits(config: DataSection) -> ImageSplits:
    """data_dir/<class>/<image> (held out like digits), or data_dir/train/<class> and
    data_dir/test/<class> (validation held out of train). Images are decoded and resized to
    image_size once, at load time."""
    root = data_dir(config)
    if _has_train_test(root):
        names = _class_folders(root / "train")
        train_images, train_labels = _read_folder(root / "train", names, config.image_size)
        test_images, test_labels = _read_folder(root / "test", names, config.image_size)
        images = torch.from_numpy(np.concatenate([train_images, test_images]))
        labels = np.concatenate([train_labels, test_labels])
        rng = np.random.default_rng(config.split_seed)
        train, val = hold_out(train_labels, config.val_fraction, config, rng)
        test = np.arange(len(train_labels), len(labels))
        return _splits(images, labels, train, val, test, names)
    names = _class_folders(root)
    images, labels = _read_folder(root, names, config.image_size)
    return _split_without_test_set(torch.from_numpy(images), labels, names, config)


def _class_folders(root: Path) -> tuple[str, ...]:
    if not root.is_dir():
        raise UnavailableError(
            f"imagefolder: {root} is not a directory; set data.data_dir (or --data-dir) to a "
            "folder with one sub-folder of images per class"
        )
    names = tuple(
        sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    )
    if len(names) < 2:
        raise UnavailableError(
            f"imagefolder: {root} needs at least two class folders, has {len(names)}"
        )
    return names


def _read_folder(root: Path, names: tuple[str, ...], size: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for label, name in enumerate(names):
        for path in sorted((root / name).iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            images.append(read_image(path, size))
            labels.append(label)
    if not images:
        raise UnavailableError(f"imagefolder: no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def read_image(path: Path, size: int) -> np.ndarray:
    """One image of an image folder as uint8 RGB [3, size, size]. Only a regular file is
    opened (a FIFO named .png would block), decoded only as the formats IMAGE_SUFFIXES name,
    and only up to MAX_IMAGE_PIXELS (a 30000x30000 PNG of under 1 MB would take gigabytes);
    16-bit images are scaled to 8 bits, not clipped to white. Any failure is one
    UnavailableError naming the file."""
    import warnings

    from PIL import Image

    try:
        with open_regular(path, follow_links=True) as handle:
            if os.fstat(handle.fileno()).st_size > MAX_IMAGE_BYTES:
                raise FileTooLarge(path, MAX_IMAGE_BYTES)
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(handle, formats=IMAGE_FORMATS) as image:
                    width, height = image.size
                    if width * height > MAX_IMAGE_PIXELS:
                        raise _too_many_pixels(path, width, height)
                    rgb = to_rgb8(image).resize((size, size), Image.Resampling.BILINEAR)
    except UnavailableError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnavailableError(f"imagefolder: {path}: refused: {exc}") from None
    except Image.UnidentifiedImageError:  # its message names the file object, not the file
        kinds = ", ".join(IMAGE_FORMATS)
        message = f"imagefolder: cannot read {path}: not an image of a known kind ({kinds})"
        raise UnavailableError(message) from None
    except Exception as exc:  # a damaged image is the file's fault, whatever the decoder raises
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UnavailableError(f"imagefolder: cannot read {path}: {reason}") from None
    return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)


def _too_many_pixels(path: Path, width: int, height: int) -> UnavailableError:
    return UnavailableError(
        f"imagefolder: {path}: refused: {width}x{height} pixels is more than the "
        f"{MAX_IMAGE_PIXELS:,} an image may have here (a decompression bomb?); resize or "
        "remove it"
    )


def to_rgb8(image):  # PIL.Image.Image -> PIL.Image.Image
    """`image` as 8-bit RGB. Pillow's convert('RGB') clips a 16-bit greyscale image at 255,
    which turns it white; its values are scaled from 16 bits to 8 instead. Of the formats read
    here only PNG has integer modes (I;16, or I in older Pillows), and only for 16 bits."""
    from PIL import Image

    if image.mode.startswith("I"):
        values = np.asarray(image, dtype=np.float64) / 257.0  # 65535 -> 255
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    return image.convert("RGB")


def load_splits(config: DataSection) -> ImageSplits:
    """The dataset a [data] section names, on the CPU."""
    if config.dataset == "digits":
        return load_digits_splits(config)
    if config.dataset in cifar.SPECS:
        return load_cifar_splits(config)
    if config.dataset == "imagefolder":
        return load_imagefolder_splits(config)
    raise ValueError(f"unknown dataset {config.dataset!r}")  # the schema forbids this


def normalization_source(config: RunConfig) -> str:
    """Where the run's (mean, std) come from: 'explicit' (data.mean/std), 'imagenet',
    'dataset' (CIFAR's published figures) or 'train_split' (channel_stats of the training
    split), as data.normalize, the model and the dataset decide it."""
    if config.data.mean is not None and config.data.std is not None:
        return "explicit"
    choice = config.data.normalize
    if choice == "auto":
        if config.model.pretrained:
            choice = "imagenet"
        elif config.data.dataset in cifar.STATS:
            choice = "dataset"
        else:
            choice = "train_split"
    if choice == "dataset" and config.data.dataset not in cifar.STATS:
        return "train_split"  # no published figures: the split's own
    return choice


def normalization(
    config: RunConfig, splits: ImageSplits
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The (mean, std) that data.mean/std or data.normalize ask for."""
    source = normalization_source(config)
    if source == "explicit":
        return tuple(config.data.mean or ()), tuple(config.data.std or ())
    if source == "imagenet":
        return IMAGENET_STATS
    if source == "dataset":
        return cifar.STATS[config.data.dataset]
    return splits.mean, splits.std


def split_problems(splits: ImageSplits) -> list[str]:
    """What is wrong with the sizes of the splits for training, if anything."""
    sizes = {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)}
    described = ", ".join(f"{n} {name}" for name, n in sizes.items())
    problems = []
    if sizes["train"] < 2:
        problems.append(f"leaves {sizes['train']} training images ({described}); lower it")
    if sizes["val"] == 0 or sizes["test"] == 0:
        problems.append(f"leaves an empty split ({described}); raise it")
    return problems


# The [data] fields that change what is loaded (the rest change how batches are made).
LOADING_FIELDS = {
    "dataset",
    "data_dir",
    "download",
    "coarse_labels",
    "image_size",
    "val_fraction",
    "test_fraction",
    "split_seed",
    "split",
}


class DatasetCache:
    """Keeps the last dataset loaded, on its device, so that the runs of a sweep share one copy."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._splits: ImageSplits | None = None

    def get(self, config: DataSection, device: torch.device) -> ImageSplits:
        key = (config.model_dump_json(include=LOADING_FIELDS), str(device))
        if self._key != key or self._splits is None:
            self._splits = None  # release the old copy before loading the next
            self._splits = load_splits(config).to(device)
            self._key = key
        return self._splits


class BatchPipeline:
    """uint8 NCHW batches -> normalized float, channels-last: crop and flip on the uint8 images,
    then resize and rotation on floats, then one fused multiply-add to normalize."""

    def __init__(
        self,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        device: torch.device,
        *,
        resize: int | None = None,
        augment: list[str] | None = None,
        crop_padding: int = 4,
        rotate_degrees: float = 0.0,
    ):
        std_t = torch.tensor(std, dtype=torch.float32, device=device)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=device)
        self.scale = (1.0 / (255.0 * std_t)).view(1, -1, 1, 1)
        self.shift = (-mean_t / std_t).view(1, -1, 1, 1)
        self.resize = resize
        self.augment = list(augment or [])
        self.crop_padding = crop_padding
        self.rotate_degrees = rotate_degrees

    @classmethod
    def for_run(cls, config: RunConfig, splits: ImageSplits, device: torch.device) -> BatchPipeline:
        mean, std = normalization(config, splits)
        return cls(
            mean,
            std,
            device,
            resize=config.data.resize,
            augment=config.data.augment,
            crop_padding=config.data.crop_padding,
            rotate_degrees=config.data.rotate_degrees,
        )

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Evaluation transform without a generator; training transform (augmented) with one."""
        training = generator is not None
        if training and "crop" in self.augment:
            images = random_crop(images, self.crop_padding, generator)
        if training and "hflip" in self.augment:
            images = random_hflip(images, generator)
        x = images.float().contiguous(memory_format=torch.channels_last)
        if self.resize is not None and x.shape[-1] != self.resize:
            x = F.interpolate(
                x,
                size=(self.resize, self.resize),
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
        if training and "rotate" in self.augment:
            x = random_rotate(x, self.rotate_degrees, generator)
        return torch.addcmul(self.shift, x, self.scale).contiguous(
            memory_format=torch.channels_last
        )


def epoch_order(count: int, generator: torch.Generator) -> torch.Tensor:
    """The shuffle of one training epoch, drawn from the run's data generator."""
    return torch.randperm(count, generator=generator, device=generator.device)


def iterate_batches(
    splits: ImageSplits,
    indices: torch.Tensor,
    batch_size: int,
    pipeline: BatchPipeline,
    *,
    generator: torch.Generator | None = None,
    order: torch.Tensor | None = None,
    first_batch: int = 0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images, labels) batches over `indices`: shuffled and augmented when a generator is given.

    In training (generator given) a last batch of a single image is dropped: BatchNorm cannot
    train on one sample. `order` is the epoch's shuffle when it was drawn already (epoch_order);
    `first_batch` skips the batches a resumed epoch has trained on.
    """
    if generator is not None:
        if order is None:
            order = epoch_order(len(indices), generator)
        indices = indices[order.to(indices.device)]
    count = len(indices)
    for start in range(first_batch * batch_size, count, batch_size):
        chosen = indices[start : start + batch_size]
        if generator is not None and len(chosen) < 2:
            break
        yield pipeline(splits.images[chosen], generator), splits.labels[chosen]


def steps_per_epoch(train_size: int, batch_size: int) -> int:
    full, rest = divmod(train_size, batch_size)
    return full + (1 if rest >= 2 else 0)
