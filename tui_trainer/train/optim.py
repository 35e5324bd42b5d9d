"""Optimizers and learning-rate schedules from the [optim] and [schedule] sections."""

from __future__ import annotations

import torch
from torch import nn

from tui_trainer.config.schedule import lr_at
from tui_trainer.config.schema import RunConfig


def build_optimizer(
    model: nn.Module, config: RunConfig, kernels: dict[str, bool] | None = None
) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), Adam or AdamW over the trainable parameters. Weight decay applies
    to every parameter, as the reports' PyTorch code does. `kernels` picks the implementation
    (acceleration.optimizer_kernels: fused on CUDA)."""
    params = [p for p in model.parameters() if p.requires_grad]
    o = config.optim
    extra = dict(kernels or {})
    if o.name == "sgd":
        return torch.optim.SGD(
            params,
            lr=o.lr,
            momentum=o.momentum,
            nesterov=o.nesterov,
            weight_decay=o.weight_decay,
            **extra,
        )
    if o.name == "adam":
        return torch.optim.Adam(
            params,
            lr=o.lr,
            betas=(o.betas[0], o.betas[1]),
            eps=o.eps,
            weight_decay=o.weight_decay,
            **extra,
        )
    if o.name == "adamw":
        return torch.optim.AdamW(
            params,
            lr=o.lr,
            betas=(o.betas[0], o.betas[1]),
            eps=o.eps,
            weight_decay=o.weight_decay,
            **extra,
        )
    raise ValueError(f"unknown optimizer {o.name!r}")  # the schema forbids this


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: RunConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step LambdaLR following config.schedule.lr_at; call .step() after every optimizer
    step."""
    base_lr = config.optim.lr

    def factor(step: int) -> float:
        return lr_at(config.schedule, base_lr, config.train.epochs, step, steps_per_epoch) / base_lr

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
