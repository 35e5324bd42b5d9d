"""The schema of a study preset: what each key means, its type, its range and its default.

Every field carries a description; docs/reference/configuration.md lists them all (a test
checks that it does). Unknown keys are errors, and values are strict: a string is never taken for a
number. The sections mirror the TOML tables of a preset: [study], [data], [model], [optim],
[schedule], [train] and [sweep].
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DATASETS = ("digits", "cifar10", "cifar100", "imagefolder")
ARCHITECTURES = ("mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large")
PRETRAINABLE = ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large")
ACTIVATIONS = ("relu", "relu6", "sigmoid", "tanh", "hardswish", "silu", "gelu")
AUGMENTATIONS = ("crop", "hflip", "rotate", "mixup")
NORMALIZATIONS = ("auto", "dataset", "imagenet", "train_split")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step", "onecycle")

# One channel's std: images are divided by it. Also the bound of a run's inputs.toml.
ChannelStd = Annotated[float, Field(gt=0.0)]

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


DATA_DIR_ENV = "TUI_TRAINER_DATA"
DEFAULT_DATA_DIR = "~/.cache/tui-trainer/data"


class DataSection(Section):
    def location(self) -> Path:
        """Where the dataset is read from: data_dir, else $TUI_TRAINER_DATA, else the default."""
        chosen = self.data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
        return Path(chosen).expanduser()

    dataset: Literal[DATASETS] = Field(  # type: ignore[valid-type]
        description="Dataset: 'digits' is scikit-learn's bundled 8x8 handwritten digits "
        "(1797 images, 10 classes) upscaled to 32x32 RGB, no download; 'cifar10' and "
        "'cifar100' read the standard Python archives from data_dir (downloaded there when "
        "download is true); 'imagefolder' reads data_dir/<class>/*.png|jpg (or "
        "data_dir/train/<class> and data_dir/test/<class>)."
    )
    data_dir: str | None = Field(
        default=None,
        description="Directory holding the dataset (CIFAR archive or extracted folder, or the "
        "image folder root). Default: $TUI_TRAINER_DATA, else ~/.cache/tui-trainer/data. "
        "--data-dir sets it.",
    )
    download: bool = Field(
        default=True,
        description="Download a missing CIFAR archive (MD5-checked) into data_dir.",
    )
    coarse_labels: bool = Field(
        default=False, description="CIFAR-100: train on the 20 coarse labels, not the 100 fine."
    )
    image_size: int = Field(
        default=32,
        ge=8,
        le=1024,
        description="imagefolder: every image is resized to this square size when loaded.",
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
        default=0,
        ge=0,
        le=2**32 - 1,
        description="Seed of the train/validation/test split (not of training).",
    )
    split: Literal["stratified", "random"] = Field(
        default="stratified",
        description="How validation (and, for digits, test) images are drawn: 'stratified' "
        "takes the fraction from each class; 'random' is exactly "
        "torch.utils.data.random_split with a generator seeded by split_seed.",
    )
    normalize: Literal[NORMALIZATIONS] = Field(  # type: ignore[valid-type]
        default="auto",
        description="Per-channel normalization: 'dataset' (CIFAR's published mean/std), "
        "'imagenet' (ImageNet's, for pretrained models), 'train_split' (computed on this "
        "run's training split); 'auto' is imagenet for pretrained models, else dataset for "
        "CIFAR, else train_split. mean and std, when given, override it.",
    )
    mean: list[float] | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="Explicit per-channel mean (RGB, [0, 1] units), e.g. report 002's printed "
        "(0.5071, 0.4865, 0.4409); needs std too.",
    )
    std: list[ChannelStd] | None = Field(
        default=None, min_length=3, max_length=3, description="Explicit per-channel std."
    )
    resize: int | None = Field(
        default=None,
        ge=8,
        le=1024,
        description="Resize every image of every split to this square size on the device "
        "(bilinear), e.g. 224 for ImageNet-sized models; none keeps the stored size.",
    )
    augment: list[Literal[AUGMENTATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=list,
        description="Training-time augmentations, applied on the device per batch: "
        "'crop' (zero-pad by crop_padding, random crop back to size), 'hflip' (random "
        "horizontal flip), 'rotate' (random rotation within +-rotate_degrees), 'mixup' "
        "(mix image pairs with lambda ~ Beta(mixup_alpha, mixup_alpha), soft-target loss).",
    )
    rotate_degrees: float = Field(
        default=10.0, ge=0.0, le=180.0, description="'rotate': the largest rotation, in degrees."
    )
    mixup_alpha: float = Field(
        default=0.2, gt=0.0, le=10.0, description="'mixup': alpha of the Beta distribution."
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
        if (self.mean is None) != (self.std is None):
            raise ValueError(
                "std: mean and std go together"
                if self.std is None
                else "mean: mean and std go together"
            )
        return self


class ModelSection(Section):
    arch: Literal[ARCHITECTURES] = Field(  # type: ignore[valid-type]
        description="Architecture: 'mobilenet_v1' is MobileNet v1, CIFAR variant (3x3 stem "
        "with stride 1, 13 depthwise-separable blocks as model.layers[i]); 'mobilenet_v2', "
        "'mobilenet_v3_small', 'mobilenet_v3_large' are torchvision's. `tui-trainer models` "
        "lists them with input sizes and parameter counts."
    )
    width_mult: float = Field(
        default=1.0,
        gt=0.0,
        le=4.0,
        description="Width multiplier: every layer's channel count is scaled by it (1.0 for "
        "pretrained weights).",
    )
    activation: Literal[ACTIVATIONS] = Field(  # type: ignore[valid-type]
        default="relu",
        description="mobilenet_v1: the activation after every BatchNorm.",
    )
    activation_override: Literal[ACTIVATIONS] | None = Field(  # type: ignore[valid-type]
        default=None,
        description="mobilenet_v1: replace both activations of the blocks in override_blocks "
        "with this one (report 000: sigmoid in blocks 4-10).",
    )
    override_blocks: list[int] = Field(
        default_factory=lambda: [4, 10],
        min_length=2,
        max_length=2,
        description="mobilenet_v1: [first, last] indices into model.layers (0-based, "
        "inclusive) that activation_override applies to.",
    )
    dropout: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Dropout probability before the last linear layer (torchvision's "
        "classifier dropout for V2/V3).",
    )
    pretrained: bool = Field(
        default=False,
        description="V2/V3: start from torchvision's ImageNet weights, read from the torch "
        "hub cache (downloaded there when online).",
    )
    cifar_stem: bool = Field(
        default=False,
        description="V2/V3: stride 1 in the first convolution, for 32x32 inputs (the ImageNet "
        "stem would shrink them to 16x16 at once).",
    )
    head: Literal["default", "mlp"] = Field(
        default="default",
        description="'default': the architecture's classifier with num_classes outputs; 'mlp': "
        "global average pool -> dropout -> linear(head_hidden) -> ReLU -> dropout -> "
        "linear(classes), report 003's Keras head.",
    )
    head_hidden: int = Field(default=128, ge=1, description="'mlp' head: hidden units.")
    trainable_blocks: int | None = Field(
        default=None,
        ge=0,
        description="V2/V3: freeze every feature layer, then unfreeze N inverted-residual "
        "blocks (features[1:-1]; stem and last 1x1 conv stay frozen), counted from "
        "unfreeze_from; the head always trains. None trains everything.",
    )
    unfreeze_from: Literal["input", "output"] = Field(
        default="input",
        description="trainable_blocks counts from the input end (report 003's 'first ten "
        "inverted residual layers') or from the output end (the usual fine-tuning practice).",
    )
    head_only_epochs: int = Field(
        default=0,
        ge=0,
        description="Train only the head for this many epochs before trainable_blocks "
        "applies (report 003's two phases).",
    )

    @model_validator(mode="after")
    def _check_model(self) -> ModelSection:
        if self.pretrained and self.arch not in PRETRAINABLE:
            raise ValueError("pretrained: only V2/V3 have ImageNet weights here")
        if self.pretrained and self.width_mult != 1.0:
            raise ValueError("width_mult: the pretrained weights are for width 1.0")
        first, last = self.override_blocks
        if not 0 <= first <= last <= 12:
            raise ValueError("override_blocks: need 0 <= first <= last <= 12")
        if self.activation_override is not None and self.arch != "mobilenet_v1":
            raise ValueError("activation_override: only for mobilenet_v1")
        if self.arch == "mobilenet_v1":
            for name, value, default in (
                ("trainable_blocks", self.trainable_blocks, None),
                ("head_only_epochs", self.head_only_epochs, 0),
                ("head", self.head, "default"),
                ("cifar_stem", self.cifar_stem, False),
            ):
                if value != default:
                    raise ValueError(
                        f"{name}: only for V2/V3 (mobilenet_v1 is CIFAR-shaped already)"
                    )
        return self


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
        "(multiply by gamma every step_size epochs); 'onecycle' (torch's OneCycleLR, per step: "
        "up from lr / div_factor to lr over pct_start of the steps, then down).",
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
    pct_start: float = Field(
        default=0.3,
        gt=0.0,
        lt=1.0,
        description="Onecycle (as torch's OneCycleLR, per step, cosine, momentum not cycled): "
        "fraction of the steps spent rising to lr.",
    )
    div_factor: float = Field(
        default=25.0, ge=1.0, description="Onecycle: the first rate is lr / div_factor."
    )
    final_div_factor: float = Field(
        default=1e4,
        ge=1.0,
        description="Onecycle: the last rate is lr / div_factor / final_div_factor.",
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
    track_grad_norm: list[str] = Field(
        default_factory=list,
        description="Parameter names whose gradient 2-norm is logged per epoch (see "
        "grad_norm_at), as metrics.csv columns grad_norm:<name>, e.g. "
        "['layers.8.conv1.weight'] (report 000, Figure 6).",
    )
    grad_norm_at: Literal["last_step", "mean"] = Field(
        default="last_step",
        description="track_grad_norm logs the norm at the epoch's last step, or the mean over "
        "its steps.",
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
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="auto",
        description="'auto': bf16 autocast on a CUDA GPU that has it (fp16 with a gradient "
        "scaler on older ones), fp32 elsewhere; 'fp32', 'bf16' or 'fp16' force one. bf16 on "
        "a CPU needs native bf16 (AVX512-BF16 or AMX); fp16 needs CUDA.",
    )
    compile: bool = Field(
        default=False,
        description="Train through torch.compile: the first steps compile (a minute or more), "
        "later ones may run faster. It slowed MobileNet v1 and V2 on the 2-core CPU of "
        "benchmarks/README.md: measure before keeping it on. Needs a C++ compiler on the CPU.",
    )
    save_checkpoints: bool = Field(
        default=True,
        description="Write checkpoints/last.pt every epoch and checkpoints/best.pt on a new "
        "best validation accuracy (weights only, loadable with weights_only=True).",
    )
    test_weights: Literal["last", "best"] = Field(
        default="last",
        description="The weights the test set is evaluated with after the last epoch: 'last' "
        "(the last epoch's) or 'best' (checkpoints/best.pt, the epoch of the best validation "
        "accuracy). The test figures, confusion.csv, predictions.csv and the sample sheets all "
        "come from them; summary.toml records which (test_weights, test_epoch).",
    )

    @model_validator(mode="after")
    def _best_needs_its_checkpoint(self) -> TrainSection:
        if self.test_weights == "best" and not self.save_checkpoints:
            raise ValueError(
                "test_weights: 'best' needs save_checkpoints = true (the best weights are "
                "checkpoints/best.pt)"
            )
        return self


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


class ParallelSection(Section):
    """How many runs of the study train at once, and where: a study-level section (never part
    of a run's config.toml); the --jobs, --gpus, --runs-per-gpu, --retries and --cluster options
    of `run` and `resume` set it, and study.toml records it, so a resume goes on the same way."""

    jobs: int = Field(
        default=0,
        ge=0,
        le=1024,
        description="Runs trained at once. 0 (the default): one after another in the trainer's "
        "own process, unless gpus or runs_per_gpu ask for more (then one run per GPU slot) or "
        "a cluster is named (then as many as its resources allow). N > 1: the trainer becomes a "
        "driver that starts each run as a worker process of its own, at most N at a time.",
    )
    gpus: list[int] = Field(
        default_factory=list,
        max_length=1024,
        description="The GPUs the runs may use, as CUDA numbers them (as --gpus 0,1). Empty: "
        "every GPU the trainer sees. Each run gets one GPU of its own (CUDA_VISIBLE_DEVICES).",
    )
    runs_per_gpu: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Runs that share one GPU: a small model leaves most of a GPU idle. GPUs "
        "fill in order (2 per GPU over GPUs 0 and 1: 0, 0, 1, 1).",
    )
    retries: int = Field(
        default=2,
        ge=0,
        le=100,
        description="How often a run whose worker was killed (SIGKILL, the OOM killer, a lost "
        "node) is resumed from its last checkpoint before it is left crashed. A run that "
        "completed, failed or diverged is never retried.",
    )
    cluster: str = Field(
        default="",
        max_length=512,
        description="A Ray cluster to run on ('auto': $RAY_ADDRESS, else the head started on "
        "this machine; or host:port). Every node must see the runs and data directories at the "
        "same path. Needs the cluster extra: pip install 'tui-trainer[cluster]'. Empty: this "
        "machine.",
    )

    @model_validator(mode="after")
    def _distinct_gpus(self) -> ParallelSection:
        if len(set(self.gpus)) != len(self.gpus) or any(g < 0 for g in self.gpus):
            raise ValueError("parallel: gpus: must be distinct GPU numbers >= 0")
        return self

    @property
    def uses_workers(self) -> bool:
        """Whether runs train in worker processes (else in the trainer's own, one at a time)."""
        return bool(self.cluster) or self.jobs > 1 or bool(self.gpus) or self.runs_per_gpu > 1


# The study-level sections: not part of a run's config.
STUDY_ONLY_KEYS = frozenset({"sweep", "parallel"})


class StudyPreset(RunConfig):
    """A study: the base run config plus a grid of values to sweep."""

    sweep: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="The grid: 'section.key' = [values]; one run per combination of values.",
    )
    parallel: ParallelSection = Field(default_factory=ParallelSection)

    def base_config(self) -> RunConfig:
        return RunConfig.model_validate(self.model_dump(exclude=set(STUDY_ONLY_KEYS)))


SECTION_MODELS: dict[str, type[Section]] = {
    "study": StudySection,
    "data": DataSection,
    "model": ModelSection,
    "optim": OptimSection,
    "schedule": ScheduleSection,
    "train": TrainSection,
    "parallel": ParallelSection,
}
