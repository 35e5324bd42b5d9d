"""inputs.toml: what a run needs to be used without its dataset.

`train_split` normalization statistics are computed from the training images at load time and
exist nowhere else; class names and the stored image size come from the dataset. A run that
records them at its start can classify new images (train/predict.py) and draw activation maps
(train/gradcam.py) on a machine that never had its dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from tui_trainer.config.messages import describe_error, render_key
from tui_trainer.config.schema import DATASETS, ChannelStd, DataSection, RunConfig, Section
from tui_trainer.errors import ConfigError, Problem, UnavailableError
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


# The bounds of the data keys inputs.toml records, taken from the schema (never a second copy):
# a hand-edited std of nan or an image_size of 100000 is refused, not trusted.
_DATA = DataSection.model_fields
ImageSize = Annotated[(int, *_DATA["image_size"].metadata)]
ResizeSide = Annotated[(int, *_DATA["resize"].metadata)]
ChannelMeans = Annotated[(list[float], *_DATA["mean"].metadata)]
ChannelStds = Annotated[(list[ChannelStd], *_DATA["std"].metadata)]


class InputsTable(Section):
    """inputs.toml's [inputs] table as read back: typed strictly, finite, within the schema's
    bounds. Keys it does not know are ignored, so a newer run's file still reads."""

    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False)

    dataset: Literal[DATASETS]  # type: ignore[valid-type]
    classes: list[str] = Field(min_length=2)
    channels: int
    image_size: ImageSize  # type: ignore[valid-type]
    resize: ResizeSide  # type: ignore[valid-type]
    mean: ChannelMeans  # type: ignore[valid-type]
    std: ChannelStds  # type: ignore[valid-type]
    grayscale_to_rgb: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> InputsTable:
        if self.channels != len(self.mean):
            raise ValueError(
                f"channels: must be {len(self.mean)}, as many as mean and std have values "
                f"(got {self.channels})"
            )
        seen: set[str] = set()
        for name in self.classes:
            if name in seen:
                raise ValueError(f"classes: each class name may appear once ({name!r} repeats)")
            seen.add(name)
        return self


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
    """inputs.toml, checked against the schema's bounds before any model or image is touched.
    Missing: an UnavailableError naming `backfill`, which writes it. Damaged, or a value out of
    bounds: a ConfigError naming the file and each bad key."""
    if not path.exists():
        raise UnavailableError(
            f"{path}: missing; `tui-trainer backfill RUN` writes it from the run's config and "
            "dataset"
        )
    data = read_toml(path)
    if data is None:
        raise ConfigError([Problem("not a readable TOML file", source=str(path))])
    table = data.get("inputs")
    if not isinstance(table, dict):
        found = "required table is missing" if table is None else "expected a table"
        raise ConfigError([Problem(found, source=str(path), key="inputs")])
    try:
        checked = InputsTable.model_validate(table)
    except ValidationError as exc:
        problems: dict[str, Problem] = {}  # one line per key: std = [nan, nan, nan] is one
        for error in exc.errors():
            loc, message = describe_error(error, {})
            key = render_key(("inputs", *loc))
            problems.setdefault(str(loc[:1]), Problem(message, source=str(path), key=key))
        raise ConfigError(list(problems.values())) from None
    return RunInputs(
        dataset=checked.dataset,
        classes=tuple(checked.classes),
        channels=checked.channels,
        image_size=checked.image_size,
        resize=checked.resize,
        mean=tuple(checked.mean),
        std=tuple(checked.std),
        grayscale_to_rgb=checked.grayscale_to_rgb,
    )
