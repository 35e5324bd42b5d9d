"""The schema of a study preset: what each key means, its type, its range and its default.

Every field carries a description; README.md's configuration reference lists them all (a test
checks that it does). Unknown keys are errors, and values are strict: a string is never taken for a
number. The sections mirror the TOML tables of a preset: [study], [data], [model], [optim],
[schedule], [train] and [sweep].
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DATASETS = ("digits",)
ARCHITECTURES = ("mobilenet_v1",)
ACTIVATIONS = ("relu", "relu6", "sigmoid", "tanh", "hardswish", "silu", "gelu")
AUGMENTATIONS = ("crop", "hflip")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step")

# The sections a sweep axis may name; [study] and [sweep] itself are not swept.
SWEEPABLE_SECTIONS = ("data", "model", "optim", "schedule", "train")


class Section(BaseModel):
    """Common settings: unknown keys are errors, and no value is coerced from another type."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class StudySection(Section):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        max_length=64,
        description="Short name of the study; part of the study id and directory name "
        "(letters, digits, '.', '_' and '-').",
    )
    description: str = Field(
        default="", description="What the study reproduces or asks; shown in listings."
    )


class DataSection(Section):
    dataset: Literal[DATASETS] = Field(  # type: ignore[valid-type]
        description="Dataset: 'digits' is scikit-learn's bundled 8x8 handwritten digits "
        "(1797 images, 10 classes), upscaled to 32x32 RGB; no download."
    )
    val_fraction: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="Fraction of the training images held out for validation (stratified "
        "per class, chosen with split_seed).",
    )
    test_fraction: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="For datasets without an official test split (digits): fraction of all "
        "images held out as the test set, chosen with split_seed.",
    )
    split_seed: int = Field(
        default=0, ge=0, description="Seed of the train/validation/test split (not of training)."
    )
    augment: list[Literal[AUGMENTATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=list,
        description="Training-time augmentations, applied on the device per batch: "
        "'crop' (zero-pad by crop_padding, random crop back to size), 'hflip' (random "
        "horizontal flip).",
    )
    crop_padding: int = Field(
        default=4, ge=0, le=64, description="Pixels of zero padding for the 'crop' augmentation."
    )
    batch_size: int = Field(
        default=128,
        ge=2,
        le=65536,
        description="Training batch size (images per step); at least 2, as BatchNorm needs "
        "two samples.",
    )

    @model_validator(mode="after")
    def _augment_unique(self) -> DataSection:
        if len(set(self.augment)) != len(self.augment):
            raise ValueError("augment: each augmentation may appear once")
        return self


class ModelSection(Section):
    arch: Literal[ARCHITECTURES] = Field(  # type: ignore[valid-type]
        description="Architecture: 'mobilenet_v1' is MobileNet v1, CIFAR variant (3x3 stem "
        "with stride 1, 13 depthwise-separable blocks as model.layers[i])."
    )
    width_mult: float = Field(
        default=1.0,
        gt=0.0,
        le=4.0,
        description="Width multiplier: every layer's channel count is scaled by it.",
    )
    activation: Literal[ACTIVATIONS] = Field(  # type: ignore[valid-type]
        default="relu", description="Activation after every BatchNorm."
    )
    dropout: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Dropout probability before the classifier."
    )


class OptimSection(Section):
    name: Literal[OPTIMIZERS] = Field(  # type: ignore[valid-type]
        default="sgd", description="Optimizer: 'sgd', 'adam' or 'adamw'."
    )
    lr: float = Field(gt=0.0, le=100.0, description="Base (peak) learning rate.")
    momentum: float = Field(
        default=0.9, ge=0.0, lt=1.0, description="SGD momentum (ignored by Adam/AdamW)."
    )
    nesterov: bool = Field(
        default=False, description="Use Nesterov momentum (SGD with momentum > 0 only)."
    )
    weight_decay: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Weight decay on every parameter: L2 added to the gradient for SGD and "
        "Adam, decoupled for AdamW.",
    )
    betas: list[float] = Field(
        default_factory=lambda: [0.9, 0.999],
        min_length=2,
        max_length=2,
        description="Adam/AdamW (beta1, beta2): decay rates of the moment estimates.",
    )
    eps: float = Field(default=1e-8, gt=0.0, description="Adam/AdamW epsilon.")

    @model_validator(mode="after")
    def _check_combination(self) -> OptimSection:
        if self.nesterov and (self.name != "sgd" or self.momentum == 0.0):
            raise ValueError("nesterov: needs optim.name = 'sgd' and momentum > 0")
        if any(not 0.0 <= b < 1.0 for b in self.betas):
            raise ValueError("betas: each must be in [0, 1)")
        return self


class ScheduleSection(Section):
    name: Literal[SCHEDULES] = Field(  # type: ignore[valid-type]
        default="constant",
        description="Learning-rate schedule: 'constant'; 'cosine' (from lr to min_lr over "
        "the epochs, like CosineAnnealingLR with T_max = epochs, stepped per epoch); 'step' "
        "(multiply by gamma every step_size epochs).",
    )
    warmup_epochs: float = Field(
        default=0.0,
        ge=0.0,
        description="Linear warm-up from 0 to the schedule's value, per step, over this many "
        "epochs (fractions allowed).",
    )
    min_lr: float = Field(default=0.0, ge=0.0, description="Cosine: final learning rate.")
    step_size: int = Field(default=30, ge=1, description="Step: epochs between decays.")
    gamma: float = Field(
        default=0.1, gt=0.0, le=1.0, description="Step: factor applied at each decay."
    )


class TrainSection(Section):
    epochs: int = Field(ge=1, le=100_000, description="Epochs to train each run.")
    seed: int = Field(
        default=0,
        ge=0,
        le=2**32 - 1,
        description="Seed of weights, data order and augmentation; the same seed and config "
        "on the CPU give the same metrics.",
    )
    label_smoothing: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Label smoothing of the cross-entropy loss."
    )
    device: str = Field(
        default="auto",
        pattern=r"^(auto|cpu|mps|cuda(:\d{1,3})?)$",
        description="'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda', 'cuda:N' or 'mps'; "
        "the --device option of `tui-trainer run` sets it.",
    )
    log_every_steps: int = Field(
        default=10,
        ge=1,
        description="A row of steps.csv (mean loss, lr, images/s) every this many steps.",
    )
    save_checkpoints: bool = Field(
        default=True,
        description="Write checkpoints/last.pt every epoch and checkpoints/best.pt on a new "
        "best validation accuracy (weights only, loadable with weights_only=True).",
    )


class RunConfig(Section):
    """Everything one run needs: a preset without its sweep. A run's config.toml holds one."""

    study: StudySection
    data: DataSection
    model: ModelSection
    optim: OptimSection
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    train: TrainSection

    @model_validator(mode="after")
    def _min_lr_below_lr(self) -> RunConfig:
        if self.schedule.min_lr > self.optim.lr:
            raise ValueError(
                f"schedule: min_lr: must be <= optim.lr ({self.optim.lr:g}); the schedule "
                "would rise instead of fall"
            )
        return self


# Keys a sweep may not vary: a study trains all its runs on one device.
UNSWEEPABLE_KEYS = ("train.device",)


class StudyPreset(RunConfig):
    """A study: the base run config plus a grid of values to sweep."""

    sweep: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="The grid: 'section.key' = [values]; one run per combination of values.",
    )

    def base_config(self) -> RunConfig:
        return RunConfig.model_validate(self.model_dump(exclude={"sweep"}))


SECTION_MODELS: dict[str, type[Section]] = {
    "study": StudySection,
    "data": DataSection,
    "model": ModelSection,
    "optim": OptimSection,
    "schedule": ScheduleSection,
    "train": TrainSection,
}
