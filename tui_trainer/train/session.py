"""What one run builds before its first step: model, optimizer, schedule, precision, the batch
pipeline and its random generators, the tracked parameters, and (once a resume has cut them) the
logs it appends to. Factories only: no training happens here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from tui_trainer.config.schema import RunConfig
from tui_trainer.store.csvlog import CsvAppender
from tui_trainer.store.layout import RunPaths
from tui_trainer.store.schema import STEP_COLUMNS
from tui_trainer.train.acceleration import (
    Precision,
    compile_model,
    optimizer_kernels,
    resolve_precision,
)
from tui_trainer.train.data import BatchPipeline, ImageSplits, steps_per_epoch
from tui_trainer.train.device import DeviceSampler
from tui_trainer.train.models import build_model, set_trainable, tracked_parameters
from tui_trainer.train.optim import build_optimizer, build_scheduler
from tui_trainer.train.progress import BestEpoch
from tui_trainer.train.random_state import run_generators
from tui_trainer.train.small_maps import use_small_map_convolutions


@dataclass
class RunLogs:
    """metrics.csv and steps.csv, open for appending."""

    metrics: CsvAppender
    steps: CsvAppender

    @classmethod
    def open(cls, paths: RunPaths, metric_columns: Sequence[str]) -> RunLogs:
        return cls(
            CsvAppender(paths.metrics, metric_columns), CsvAppender(paths.steps, STEP_COLUMNS)
        )

    def sync(self) -> None:
        """Make every row appended so far durable: done before a checkpoint that counts on them."""
        self.metrics.sync()
        self.steps.sync()

    def close(self) -> None:
        for log in (self.metrics, self.steps):
            with contextlib.suppress(OSError):  # a full disk: the rows written so far stay
                log.close()


@dataclass
class Session:
    """What one run trains with, built by `build_session`."""

    config: RunConfig
    device: torch.device
    splits: ImageSplits
    model: nn.Module
    forward: Callable[..., torch.Tensor]  # the model, or torch.compile of it
    precision: Precision
    scaler: torch.amp.GradScaler | None  # fp16 only
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    pipeline: BatchPipeline
    generator: torch.Generator  # data order and augmentation
    mix_rng: np.random.Generator  # draws mixup's lambda on the host
    tracked: dict[str, nn.Parameter]  # train.track_grad_norm
    steps_per_epoch: int
    sampler: DeviceSampler
    best: BestEpoch = field(default_factory=BestEpoch)
    built: float = field(default_factory=time.perf_counter)  # this trainer's perf_counter
    elapsed_before_s: float = 0.0  # training time of the run's earlier trainers (a resume's)
    logs: RunLogs = field(init=False)  # opened once a resume has cut the rows after last.pt

    @property
    def eval_batch(self) -> int:
        return max(256, self.config.data.batch_size)

    @property
    def elapsed_origin(self) -> float:
        """The perf_counter reading the run's elapsed time counts from: when this trainer built
        the run, moved back by the time its earlier trainers trained it."""
        return self.built - self.elapsed_before_s

    def elapsed(self) -> float:
        """Training time of the run so far, earlier trainers' included."""
        return time.perf_counter() - self.elapsed_origin

    def close(self) -> None:
        if hasattr(self, "logs"):
            self.logs.close()


def build_session(config: RunConfig, splits: ImageSplits, device: torch.device) -> Session:
    """Model (channels-last, on `device`), optimizer over everything that will ever train,
    schedule, precision and scaler, batch pipeline and the run's generators, seeded by
    train.seed. With model.head_only_epochs, only the head is trainable at first."""
    model = build_model(config.model, splits.num_classes)
    model = model.to(device, memory_format=torch.channels_last)
    if device.type == "cpu":
        use_small_map_convolutions(model)
    set_trainable(model, config.model, head_only=False)
    head_first = config.model.head_only_epochs > 0
    optimizer = build_optimizer(model, config, optimizer_kernels(device, frozen_first=head_first))
    precision = resolve_precision(config.train.precision, device)
    if head_first:
        set_trainable(model, config.model, head_only=True)
    per_epoch = steps_per_epoch(len(splits.train), config.data.batch_size)
    generator, mix_rng = run_generators(config.train.seed, device)
    return Session(
        config=config,
        device=device,
        splits=splits,
        model=model,
        forward=compile_model(model, config.train.compile),
        precision=precision,
        scaler=precision.scaler(device),
        optimizer=optimizer,
        scheduler=build_scheduler(optimizer, config, per_epoch),
        pipeline=BatchPipeline.for_run(config, splits, device),
        generator=generator,
        mix_rng=mix_rng,
        tracked=tracked_parameters(model, config.train.track_grad_norm),
        steps_per_epoch=per_epoch,
        sampler=DeviceSampler(device),
    )
