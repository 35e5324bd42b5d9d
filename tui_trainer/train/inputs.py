"""inputs.toml: what a run needs to be used without its dataset.

`train_split` normalization statistics are computed from the training images at load time and
exist nowhere else; class names and the stored image size come from the dataset. A run that
records them at its start can classify new images (train/predict.py) and draw activation maps
(train/gradcam.py) on a machine that never had its dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui_trainer.config.schema import RunConfig
from tui_trainer.errors import UnavailableError
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.train.data import ImageSplits, normalization


@dataclass(frozen=True)
class RunInputs:
    """The [inputs] table of inputs.toml."""

    dataset: str
    classes: tuple[str, ...]
    channels: int  # of the stored images (and the model's input)
    image_size: int  # side of the stored images
    resize: int  # side the model sees: image_size when the run does not resize
    mean: tuple[float, ...]  # per channel, [0, 1] units: the values the run normalized with
    std: tuple[float, ...]
    grayscale_to_rgb: bool  # the dataset's grey images were repeated to 3 channels (digits)

    def as_toml(self) -> dict:
        return {
            "inputs": {
                "dataset": self.dataset,
                "classes": list(self.classes),
                "channels": self.channels,
                "image_size": self.image_size,
                "resize": self.resize,
                "mean": list(self.mean),
                "std": list(self.std),
                "grayscale_to_rgb": self.grayscale_to_rgb,
            }
        }


def run_inputs(config: RunConfig, splits: ImageSplits) -> RunInputs:
    """What `config` trains on, as the loaded `splits` and the run's normalization say."""
    mean, std = normalization(config, splits)
    size = int(splits.images.shape[-1])
    return RunInputs(
        dataset=config.data.dataset,
        classes=tuple(splits.class_names),
        channels=int(splits.images.shape[1]),
        image_size=size,
        resize=config.data.resize or size,
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        grayscale_to_rgb=config.data.dataset == "digits",
    )


def write_inputs(path: Path, inputs: RunInputs) -> None:
    write_toml_atomic(path, inputs.as_toml(), durable=True)


def read_inputs(path: Path) -> RunInputs:
    """inputs.toml, checked; an UnavailableError naming the file (and `backfill`) otherwise."""
    data = read_toml(path)
    table = data.get("inputs") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise UnavailableError(
            f"{path}: missing or not valid TOML; `tui-trainer backfill RUN` writes it from the "
            "run's config and dataset"
        )
    try:
        classes = tuple(str(name) for name in table["classes"])
        channels = int(table["channels"])
        inputs = RunInputs(
            dataset=str(table["dataset"]),
            classes=classes,
            channels=channels,
            image_size=int(table["image_size"]),
            resize=int(table["resize"]),
            mean=tuple(float(v) for v in table["mean"]),
            std=tuple(float(v) for v in table["std"]),
            grayscale_to_rgb=bool(table.get("grayscale_to_rgb", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UnavailableError(f"{path}: [inputs] lacks or mistypes a key ({exc})") from None
    sizes_ok = min(inputs.image_size, inputs.resize) >= 1 and len(classes) >= 2
    if not sizes_ok or len(inputs.mean) != channels or len(inputs.std) != channels:
        raise UnavailableError(f"{path}: [inputs] has inconsistent sizes or statistics")
    if min(inputs.std) <= 0:
        raise UnavailableError(f"{path}: [inputs] std must be > 0")
    return inputs
