"""Everything `tui-trainer resume` checks before it changes a byte of the study: each run's
dataset loads (a missing one is exit 3, as for `run`), its logs have exactly the header this run
writes, its epochs are 1..n, and its last.pt loads and fits those rows. A resume cuts the rows
written after its checkpoint, so a checkpoint out of step with the rows would silently lose
finished epochs (rows ahead of it) or leave a gap (a checkpoint ahead of the rows): both are
refused with what was found and what to do, and the study is left as it was.

store.resumable.plan has already refused what can be told without torch (symlinks, FIFOs,
damaged rows, a header no config could give); this adds what needs the dataset and the
checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from tui_trainer.config.schema import RunConfig
from tui_trainer.config.sweep import RunSpec
from tui_trainer.errors import UsageError
from tui_trainer.store.layout import CHECKPOINTS_DIR
from tui_trainer.store.resumable import ResumeTarget, check_history
from tui_trainer.store.schema import metric_columns
from tui_trainer.train.checkpoint import LAST, CheckpointError, load
from tui_trainer.train.data import DatasetCache


def check_resume(
    targets: Sequence[ResumeTarget],
    specs: Sequence[RunSpec],
    device: torch.device,
    data: DatasetCache,
) -> None:
    """Refuse (UsageError; UnavailableError, exit 3, for a dataset that is gone) anything
    that would make resuming these runs lose or invent history. Leaves the datasets loaded in
    `data` for training."""
    for target, spec in zip(targets, specs, strict=True):
        check_run(target.name, target.run.paths.root, spec.config, device, data)


def check_run(
    name: str, run_dir: Path, config: RunConfig, device: torch.device, data: DatasetCache
) -> None:
    """check_resume of one run: its dataset loads, its logs are whole and have this run's
    header, and last.pt fits its rows. A worker (train/worker.py) checks its run so."""
    splits = data.get(config.data, device)
    columns = metric_columns(splits.num_classes, config.train.track_grad_norm)
    finished = check_history(run_dir, [columns]).epochs
    _check_checkpoint(name, run_dir, finished, config.train.save_checkpoints)


def _check_checkpoint(name: str, run_dir: Path, finished: int, saves_checkpoints: bool) -> None:
    """last.pt's epoch against the `finished` epochs of metrics.csv. Rows are written (and
    synced) before last.pt, so a kill leaves the checkpoint level with the rows or one epoch
    behind them; anything else was not left by tui-trainer."""
    last = run_dir / CHECKPOINTS_DIR / LAST
    if last.exists():
        try:
            saved = load(last, map_location="cpu").get("epoch", 0)
        except CheckpointError as error:
            raise UsageError(
                f"refusing to resume {name}: {error}; nothing was changed (resume the other "
                f"runs one by one with `resume STUDY/RUN`, or move {name}'s checkpoints aside "
                "to train it again from epoch 1)"
            ) from None
        epoch = saved if isinstance(saved, int) and not isinstance(saved, bool) else -1
    elif not saves_checkpoints:
        return  # train.save_checkpoints = false: the run starts over, as README says
    else:
        epoch = 0
    where = f"refusing to resume {name}"
    if epoch < 0:
        raise UsageError(f"{where}: {last} holds no epoch number; nothing was changed")
    if epoch > finished:
        raise UsageError(
            f"{where}: {LAST} is of epoch {epoch} but metrics.csv holds epochs 1 to {finished}: "
            f"epochs {finished + 1} to {epoch} would have no rows. Nothing was changed; restore "
            "the rows, or move the checkpoints aside to train the run again from epoch 1"
        )
    if finished > epoch + 1:
        have = f"{LAST} is of epoch {epoch}" if epoch else f"there is no {LAST}"
        raise UsageError(
            f"{where}: {have} but metrics.csv holds epochs 1 to {finished}: resuming would cut "
            f"{finished - epoch} finished epochs. Nothing was changed; restore {LAST} of epoch "
            f"{finished}, or move metrics.csv and steps.csv aside to train the run again"
        )
