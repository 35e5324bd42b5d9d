"""A finished run's model, ready to classify: its config, its inputs.toml, the weights of one
of its checkpoints, and the evaluation transform it was tested with. What `predict` and
`backfill` share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tui_trainer.config.schema import RunConfig
from tui_trainer.errors import ConfigError, Problem
from tui_trainer.store.layout import RunPaths
from tui_trainer.train import checkpoint
from tui_trainer.train.checkpoint import CheckpointError
from tui_trainer.train.data import BatchPipeline
from tui_trainer.train.inputs import RunInputs, read_inputs
from tui_trainer.train.models import build_model


@dataclass
class RunModel:
    paths: RunPaths
    config: RunConfig
    inputs: RunInputs
    model: nn.Module  # in eval mode, channels-last, on `device`
    pipeline: BatchPipeline  # uint8 [N, C, S, S] -> what the model sees
    device: torch.device

    @property
    def batch_size(self) -> int:
        return max(256, self.config.data.batch_size)


def checkpoint_path(paths: RunPaths, weights: str) -> Path:
    return paths.checkpoints / (checkpoint.BEST if weights == "best" else checkpoint.LAST)


def output_count(state: Mapping[str, object]) -> int | None:
    """How many classes the weights in `state` tell apart: the rows of the last matrix, since
    every architecture of train/models.py registers its classifier's last linear layer last.
    None when `state` holds no matrix."""
    matrices = [t for t in state.values() if isinstance(t, torch.Tensor) and t.ndim == 2]
    return int(matrices[-1].shape[0]) if matrices else None


def load_run_model(
    paths: RunPaths,
    config: RunConfig,
    weights: str,
    device: torch.device,
    inputs: RunInputs | None = None,
) -> RunModel:
    """The run's model with checkpoints/<weights>.pt loaded. CheckpointError (exit 3) when the
    checkpoint is missing, damaged or does not fit the run's model; ConfigError (exit 2) when
    inputs.toml is out of bounds or names another number of classes than the model has
    outputs (checked before the model is built)."""
    inputs = inputs or read_inputs(paths.inputs)
    path = checkpoint_path(paths, weights)
    state = checkpoint.load(path, map_location="cpu")["model"]
    outputs = output_count(state)
    if outputs is not None and outputs != len(inputs.classes):
        count = len(inputs.classes)
        message = f"{count} class names, but the model in {path} has {outputs} outputs"
        raise ConfigError([Problem(message, source=str(paths.inputs), key="inputs.classes")])
    # the weights come from the checkpoint: never read (or download) ImageNet weights here
    model = build_model(config.model.model_copy(update={"pretrained": False}), len(inputs.classes))
    try:
        model.load_state_dict(state)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise CheckpointError(f"{path}: does not fit the run's model ({first})") from None
    if not checkpoint.all_finite(state):  # a run never saves them: it stops as diverged
        raise CheckpointError(f"{path}: holds weights that are not finite (nan or inf)")
    model = model.to(device, memory_format=torch.channels_last).eval()
    resize = inputs.resize if inputs.resize != inputs.image_size else None
    pipeline = BatchPipeline(inputs.mean, inputs.std, device, resize=resize)
    return RunModel(paths, config, inputs, model, pipeline, device)
