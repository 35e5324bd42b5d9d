"""Checkpoints: what a run needs to continue exactly where it stopped, written durably and loaded
without running pickled code; and, side by side, saving them as a run trains and restoring one
when it resumes (RunCheckpoints).

`last.pt` holds the model, optimizer, schedule and gradient-scaler states, the epoch and step, the
random states (Python, NumPy, torch, CUDA, the run's data generator and its mixup generator) and,
when the run stopped inside an epoch, that epoch's data order and running sums. `best.pt` holds the
weights of the best validation epoch. Both are plain tensors and containers: they load with
`torch.load(weights_only=True)`, which refuses anything that would import or call code.

Writes go to a temp file in the same directory, are fsynced, renamed over the old file and the
directory is fsynced (store.atomic.write_bytes_atomic): a kill at any moment leaves the previous
checkpoint or the new one, never a torn one. last.pt is an epoch's commit point: the rows before
it are synced first, and best.pt follows it (a kill between the two is repaired on resume).
"""

from __future__ import annotations

import io
import math
import os
import pickle
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from tui_trainer.errors import UnavailableError
from tui_trainer.store.atomic import sweep_temp_files, write_bytes_atomic
from tui_trainer.store.csvlog import cut_rows_after, read_rows
from tui_trainer.store.files import open_regular
from tui_trainer.store.layout import RunPaths
from tui_trainer.train.progress import BestEpoch, EpochState, ResumePoint
from tui_trainer.train.random_state import capture_random_states, restore_random_states
from tui_trainer.train.session import Session

FORMAT = 1
LAST = "last.pt"
BEST = "best.pt"


class CheckpointError(UnavailableError):
    """A checkpoint that cannot be used: missing, damaged, or holding more than tensors."""


def save(path: Path, payload: Mapping[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(dict(payload), buffer)
    write_bytes_atomic(path, buffer.getvalue(), durable=True)


def load(path: Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """The checkpoint at `path`, loaded with weights_only=True. A file that holds Python objects
    other than tensors and plain containers (a crafted pickle) is refused, never executed."""
    path = Path(path)
    try:
        with open_regular(path) as handle:  # a FIFO or a device is refused, never read
            if os.fstat(handle.fileno()).st_size == 0:
                raise CheckpointError(f"{path}: not a readable checkpoint (the file is empty)")
            with warnings.catch_warnings():  # torch's advice on odd pickles: ours is the error
                warnings.simplefilter("ignore", UserWarning)
                payload = torch.load(handle, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        # torch names what it refused on a line of its own, between its advice
        detail = next((x for x in lines if "GLOBAL" in x or "Unsupported" in x), None)
        if detail is None or "operand" in detail:  # not a pickle at all: damaged
            reason = detail or (lines[-1] if lines else type(exc).__name__)
            raise CheckpointError(f"{path}: not a readable checkpoint ({reason[:160]})") from None
        raise CheckpointError(
            f"{path}: refused: it holds Python objects other than tensors, and loading it could "
            f"run code ({detail[:160]})"
        ) from None
    except CheckpointError:
        raise
    except Exception as exc:  # damage, whatever the unpickler or the zip reader raises for it
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc).strip()
        reason = reason.splitlines()[-1][:200] if reason else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), dict):
        raise CheckpointError(f"{path}: not a tui-trainer checkpoint (no model weights)")
    return payload


# -- one run's checkpoints -------------------------------------------------------------------------


class RunCheckpoints:
    """checkpoints/last.pt and best.pt of one run: `save` as it trains, `restore` when it
    resumes. `note` tells the study's log what a restore did."""

    def __init__(self, paths: RunPaths, note: Callable[[str], None]):
        self.paths = paths
        self.note = note

    @property
    def last(self) -> Path:
        return self.paths.checkpoints / LAST

    @property
    def best(self) -> Path:
        return self.paths.checkpoints / BEST

    def save(
        self,
        session: Session,
        epoch: int,
        weights: Mapping[str, torch.Tensor],
        *,
        improved: bool = False,
        partial: EpochState | None = None,
    ) -> None:
        """last.pt after `epoch` finished epochs (and inside the next one, with `partial`), then
        best.pt when `improved`. `weights` are the model's, checked finite by the caller."""
        self.paths.checkpoints.mkdir(exist_ok=True)
        session.logs.sync()
        save(
            self.last,
            {
                "format": FORMAT,
                "epoch": epoch,
                "model": weights,
                "optimizer": session.optimizer.state_dict(),
                "scheduler": session.scheduler.state_dict(),
                "scaler": session.scaler.state_dict() if session.scaler is not None else None,
                "rng": capture_random_states(session.generator, session.mix_rng),
                "best_val_acc": session.best.val_acc,
                "best_epoch": session.best.epoch,
                "elapsed_s": session.elapsed(),
                "partial": partial.state_dict() if partial is not None else None,
            },
        )
        if improved:
            save(self.best, {"epoch": epoch, "model": weights})

    def restore(self, session: Session) -> ResumePoint:
        """Put last.pt's states back into `session`'s objects, repair best.pt, and cut the rows
        of metrics.csv and steps.csv written after last.pt (the resumed run writes them again).
        No checkpoint (none written yet, or train.save_checkpoints off): the run starts over."""
        sweep_temp_files(self.paths.root)
        sweep_temp_files(self.paths.checkpoints)
        point = self._load_into(session) if self.last.exists() else self._start_over()
        self._cut_rows(point, session.steps_per_epoch)
        return point

    def _start_over(self) -> ResumePoint:
        if read_rows(self.paths.metrics) or read_rows(self.paths.steps):
            self.note(f"{self.paths.name}: no checkpoint to resume from; starting at epoch 1")
        return ResumePoint()

    def _load_into(self, session: Session) -> ResumePoint:
        name, path = self.paths.name, self.last
        payload = load(path, map_location=session.device)
        try:
            session.model.load_state_dict(payload["model"])
            session.optimizer.load_state_dict(payload["optimizer"])
            session.scheduler.load_state_dict(payload["scheduler"])
            if session.scaler is not None and payload.get("scaler"):
                session.scaler.load_state_dict(payload["scaler"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(
                f"{path}: does not fit this run's model or optimizer ({exc})"
            ) from None
        if "rng" in payload:
            skipped = restore_random_states(payload["rng"], session.generator, session.mix_rng)
            if skipped:
                self.note(
                    f"{name}: saved on another device; its {' and '.join(skipped)} random "
                    "state does not carry over, so the resumed epochs will differ from an "
                    "uninterrupted run"
                )
        else:
            self.note(
                f"{name}: {path.name} predates saved random states; the resumed epochs draw "
                "new ones and will not repeat an uninterrupted run exactly"
            )
        partial = payload.get("partial")
        point = ResumePoint(
            epoch=int(payload.get("epoch", 0)),
            partial=(
                EpochState.from_state(partial, session.tracked, session.device) if partial else None
            ),
            best=_saved_best(payload),
            elapsed_s=float(payload.get("elapsed_s", 0.0)),
        )
        where = f"epoch {point.epoch + 1}"
        if point.partial is not None:
            where += f", step {point.step + 1}"
        self.note(f"{name}: resuming from {path.name} at {where}")
        self._repair_best(point, payload["model"])
        return point

    def _repair_best(self, point: ResumePoint, weights: Mapping[str, torch.Tensor]) -> None:
        """best.pt is written after last.pt: a kill between the two leaves best.pt one best
        behind. The weights last.pt holds are then the best epoch's: write them."""
        if point.best.epoch != point.epoch or point.partial is not None or not point.epoch:
            return
        try:
            saved = load(self.best)["epoch"] if self.best.exists() else None
        except CheckpointError:
            saved = None
        if saved != point.epoch:
            save(self.best, {"epoch": point.epoch, "model": weights})
            self.note(f"{self.paths.name}: rewrote {self.best.name} of epoch {point.epoch}")

    def _cut_rows(self, point: ResumePoint, steps_per_epoch: int) -> None:
        """Drop the rows written after the checkpoint; keep the last row for the summary."""
        dropped = cut_rows_after(self.paths.metrics, "epoch", point.epoch)
        cut_rows_after(self.paths.steps, "step", point.epoch * steps_per_epoch + point.step)
        if dropped:
            self.note(f"{self.paths.name}: cut {dropped} epoch row(s) after the checkpoint")
        rows = read_rows(self.paths.metrics)
        point.last_row = dict(rows[-1]) if rows else {}
        if point.best.val_acc is None:  # a checkpoint of a version that saved no best
            point.best = _best_of(rows)


def _saved_best(payload: Mapping[str, Any]) -> BestEpoch:
    """The best epoch last.pt records; none when it records none, or the -1 and 0 an older
    version saved before a run's first epoch ended."""
    val_acc, epoch = payload.get("best_val_acc"), payload.get("best_epoch")
    if _finite(val_acc) and val_acc >= 0 and isinstance(epoch, int) and epoch >= 1:
        return BestEpoch(float(val_acc), epoch)
    return BestEpoch()


def _best_of(rows: Sequence[Mapping[str, Any]]) -> BestEpoch:
    """The best epoch of metrics.csv's rows (those with a finite val_acc and epoch); none when
    no row has them."""
    scored = [r for r in rows if _finite(r.get("val_acc")) and _finite(r.get("epoch"))]
    if not scored:
        return BestEpoch()
    best = max(scored, key=lambda row: row["val_acc"])
    return BestEpoch(float(best["val_acc"]), int(best["epoch"]))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def all_finite(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """True when every floating-point tensor of a state dict is finite (one device sync)."""
    checks = [torch.isfinite(t).all() for t in state_dict.values() if torch.is_floating_point(t)]
    return bool(torch.stack(checks).all()) if checks else True
