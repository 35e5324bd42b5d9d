"""Where a run stands: its best epoch so far, the state of the epoch in progress, and the point a
resumed run goes on from.

`EpochState` is what a stop inside an epoch saves into last.pt (`state_dict`) and a resume puts
back (`from_state`): the epoch's data order and step, and the running sums of the epoch, of its
logging window and of its gradient norms. The sums stay on the device; they are read back only
once per logging window and once at the epoch's end.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from tui_trainer.store.csvlog import Row


@dataclass
class BestEpoch:
    """The epoch with the best validation accuracy so far: None and None before the first ends
    (status.toml and last.pt then leave the best out; no placeholder ever reaches a reader)."""

    val_acc: float | None = None
    epoch: int | None = None

    def update(self, val_acc: float, epoch: int) -> bool:
        """Take `epoch` when it beats the best (the first epoch always does); True when it did."""
        if self.val_acc is not None and val_acc <= self.val_acc:
            return False
        self.val_acc, self.epoch = val_acc, epoch
        return True


@dataclass(frozen=True)
class EpochStats:
    """One finished epoch of training."""

    loss: float  # mean training loss over the epoch's images
    acc: float
    seconds: float  # training time, evaluation excluded
    images: int
    lr: float  # the rate of the epoch's last step
    # per tracked parameter: the 2-norm of its gradient (last step, or mean over the steps that
    # had one); None when it had none (frozen)
    grad_norms: dict[str, float | None]


@dataclass(frozen=True)
class Window:
    """One logging window of steps, read back from the device: a row of steps.csv."""

    loss: float
    acc: float
    images_per_s: float
    ended: float  # time.perf_counter() at its end


@dataclass
class EpochState:
    """The epoch in progress: its data order, the steps done, and its running sums (device
    tensors), those of the current logging window and those of the tracked gradient norms."""

    order: torch.Tensor
    loss_sum: torch.Tensor  # training loss x images
    correct: torch.Tensor
    window_loss: torch.Tensor
    window_correct: torch.Tensor
    norm_sums: dict[str, torch.Tensor]
    norm_steps: dict[str, int]  # steps that had a gradient
    step: int = 0  # batches trained in this epoch
    images: int = 0
    window_images: int = 0
    seconds_before: float = 0.0  # training time before a stop, for a resumed epoch
    lr: float = 0.0  # the rate of the latest step
    started: float = field(default_factory=time.perf_counter)
    window_started: float = field(default_factory=time.perf_counter)

    @classmethod
    def begin(
        cls, order: torch.Tensor, tracked: Iterable[str], device: torch.device, lr: float
    ) -> EpochState:
        zero = torch.zeros((), device=device)
        tracked = list(tracked)
        return cls(
            order=order,
            loss_sum=zero.clone(),
            correct=zero.clone(),
            window_loss=zero.clone(),
            window_correct=zero.clone(),
            norm_sums={name: zero.clone() for name in tracked},
            norm_steps=dict.fromkeys(tracked, 0),
            lr=lr,
        )

    def start_clock(self) -> None:
        """Start timing the epoch (and its first window): as its first batch is drawn."""
        self.started = self.window_started = time.perf_counter()

    # -- each step -------------------------------------------------------------------------------

    def record_grad_norms(self, tracked: Mapping[str, nn.Parameter], last_step_only: bool) -> None:
        """Add the tracked parameters' gradient norms of this step (after backward)."""
        for name, parameter in tracked.items():
            if parameter.grad is None:  # frozen in this phase
                if last_step_only:
                    self.norm_steps[name] = 0
                continue
            norm = parameter.grad.detach().norm()
            if last_step_only:
                self.norm_sums[name], self.norm_steps[name] = norm, 1
            else:
                self.norm_sums[name] += norm
                self.norm_steps[name] += 1

    @torch.no_grad()
    def add_batch(
        self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor, lr: float
    ) -> None:
        """Count one trained batch (its mean loss, its predictions) into the sums."""
        batch = labels.shape[0]
        batch_loss = loss.detach().float() * batch
        batch_correct = (logits.argmax(1) == labels).sum()
        self.loss_sum += batch_loss
        self.correct += batch_correct
        self.window_loss += batch_loss
        self.window_correct += batch_correct
        self.images += batch
        self.window_images += batch
        self.step += 1
        self.lr = lr

    def window_loss_mean(self) -> float:
        """The mean loss of the window so far (one device sync)."""
        return self.window_loss.item() / max(self.window_images, 1)

    def close_window(self) -> Window:
        """Read the logging window back from the device and start the next one."""
        loss = self.window_loss.item() / self.window_images  # the one sync of the window
        now = time.perf_counter()
        window = Window(
            loss=loss,
            acc=self.window_correct.item() / self.window_images,
            images_per_s=self.window_images / max(now - self.window_started, 1e-9),
            ended=now,
        )
        self.window_loss.zero_()
        self.window_correct.zero_()
        self.window_images, self.window_started = 0, now
        return window

    # -- the epoch's end -------------------------------------------------------------------------

    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def finish(self) -> EpochStats:
        """The epoch's figures (its loss may be non-finite: the caller judges that)."""
        if self.images == 0:
            raise RuntimeError("the epoch had no training batch")
        norms = {
            name: total.item() / self.norm_steps[name] if self.norm_steps[name] else None
            for name, total in self.norm_sums.items()
        }
        return EpochStats(
            loss=self.loss_sum.item() / self.images,
            acc=self.correct.item() / self.images,
            seconds=self.seconds(),
            images=self.images,
            lr=self.lr,
            grad_norms=norms,
        )

    # -- in last.pt ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """What last.pt's `partial` holds (tensors, ints and floats only)."""
        return {
            "step": self.step,
            "order": self.order,
            "sums": {
                "epoch_loss": self.loss_sum,
                "epoch_correct": self.correct,
                "window_loss": self.window_loss,
                "window_correct": self.window_correct,
            },
            "epoch_images": self.images,
            "window_images": self.window_images,
            "norm_sums": self.norm_sums,
            "norm_steps": self.norm_steps,
            "seconds": self.seconds(),
            "lr": self.lr,
        }

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any], tracked: Iterable[str], device: torch.device
    ) -> EpochState:
        """The epoch a stop saved; gradient norms of parameters it did not track start at 0."""
        sums = {key: value.to(device).clone() for key, value in state["sums"].items()}
        epoch = cls.begin(state["order"].to(device), tracked, device, float(state["lr"]))
        epoch.loss_sum, epoch.correct = sums["epoch_loss"], sums["epoch_correct"]
        epoch.window_loss, epoch.window_correct = sums["window_loss"], sums["window_correct"]
        epoch.step = int(state["step"])
        epoch.images = int(state["epoch_images"])
        epoch.window_images = int(state["window_images"])
        epoch.seconds_before = float(state["seconds"])
        for name in epoch.norm_sums:
            if name in state["norm_sums"]:
                epoch.norm_sums[name] = state["norm_sums"][name].to(device).clone()
                epoch.norm_steps[name] = int(state["norm_steps"][name])
        return epoch


@dataclass
class ResumePoint:
    """Where a run goes on from: after `epoch` finished epochs, inside the next one when a stop
    came there (`partial`). A run that starts afresh starts at ResumePoint()."""

    epoch: int = 0
    partial: EpochState | None = None
    best: BestEpoch = field(default_factory=BestEpoch)
    elapsed_s: float = 0.0  # training time before the stop
    last_row: Row = field(default_factory=dict)  # metrics.csv's last kept row

    @property
    def step(self) -> int:
        return self.partial.step if self.partial is not None else 0
