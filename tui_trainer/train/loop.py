"""One run, top to bottom: build data, model, optimizer and schedule; train the epochs; evaluate;
write metrics, checkpoints, summary and status into the run directory.

A resumed run (`resume=True`) loads checkpoints/last.pt, restores every state it holds, cuts the
rows of metrics.csv and steps.csv written after it, and goes on from that epoch and step: on the
same device it writes the rows an uninterrupted run would have written.

Loss and accuracy are accumulated on the device and read once per logging interval, so the loop
does not wait on the device every step.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import random
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tui_trainer.config.sweep import RunSpec
from tui_trainer.errors import UnavailableError
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml, sweep_temp_files, write_toml_atomic
from tui_trainer.store.csvlog import CsvAppender, cut_rows_after, read_rows
from tui_trainer.store.layout import RunPaths
from tui_trainer.train import checkpoint
from tui_trainer.train.acceleration import (
    Precision,
    compile_model,
    optimizer_kernels,
    resolve_precision,
)
from tui_trainer.train.augment import mixup
from tui_trainer.train.data import (
    BatchPipeline,
    DatasetCache,
    ImageSplits,
    epoch_order,
    iterate_batches,
    steps_per_epoch,
)
from tui_trainer.train.device import DeviceSampler, device_name
from tui_trainer.train.events import TrainingEvents
from tui_trainer.train.metrics import Evaluation, evaluate, write_confusion
from tui_trainer.train.models import (
    build_model,
    count_parameters,
    freeze_batchnorm_statistics,
    set_trainable,
)
from tui_trainer.train.optim import build_optimizer, build_scheduler
from tui_trainer.train.small_maps import use_small_map_convolutions

STEP_COLUMNS = ["epoch", "step", "loss", "acc", "lr", "images_per_s", "device_util", "elapsed_s"]


GRAD_NORM_PREFIX = "grad_norm:"


def metric_columns(num_classes: int, tracked: list[str] | None = None) -> list[str]:
    """metrics.csv header: top-5 only where it means something (at least 10 classes), and a
    gradient-norm column per tracked parameter."""
    columns = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc"]
    if num_classes >= 10:
        columns.append("val_top5")
    columns += ["lr", "epoch_time_s", "images_per_s", "elapsed_s"]
    return columns + [GRAD_NORM_PREFIX + name for name in tracked or []]


def tracked_parameters(model: nn.Module, names: list[str]) -> dict[str, nn.Parameter]:
    """The parameters named in train.track_grad_norm; a ValueError names any that is missing."""
    available = dict(model.named_parameters())
    missing = [name for name in names if name not in available]
    if missing:
        examples = ", ".join(n for n in available if n.endswith("weight"))
        raise ValueError(
            f"train.track_grad_norm: no parameter {', '.join(missing)} in this model "
            f"(it has e.g. {examples[:200]}...)"
        )
    return {name: available[name] for name in names}


class Interrupted(Exception):
    """A stop was requested (SIGINT/SIGTERM): the current epoch is abandoned, finished ones kept."""


class Diverged(Exception):
    """The training loss (or the weights) became NaN or infinite."""


class StorageError(UnavailableError):
    """The run directory cannot be written (disk full, read-only, no permission): the study
    stops, since every later write would fail too. What was written before stays intact."""


# Errors of the file system the run directory lives on, as opposed to a bug or bad data.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM}


def storage_error(exc: OSError, run_root: Path) -> StorageError | None:
    """A StorageError naming the path, when `exc` is a write failure inside the run directory."""
    if exc.errno not in STORAGE_ERRNOS:
        return None
    filename = exc.filename or str(run_root)
    if exc.errno in (errno.EACCES, errno.EPERM) and not _inside(Path(filename), run_root):
        return None  # e.g. an unreadable dataset: not the run directory's fault
    return StorageError(f"cannot write {filename}: {exc.strerror or os.strerror(exc.errno)}")


def _inside(path: Path, run_root: Path) -> bool:
    """Whether `path` is in the runs directory that holds `run_root` (runs/<study>/<run>)."""
    try:
        path.resolve().relative_to(run_root.resolve().parent.parent)
    except (ValueError, OSError):
        return False
    return True


@dataclass(frozen=True)
class EpochStats:
    loss: float  # mean training loss over the epoch's images
    acc: float
    seconds: float  # training time, evaluation excluded
    images: int
    lr: float  # the rate of the epoch's last step
    # per tracked parameter: the 2-norm of its gradient (last step, or mean over the steps that
    # had one); None when it had none (frozen)
    grad_norms: dict[str, float | None]


@dataclass
class Progress:
    """Where a run stands: what a resumed run starts from (an empty one starts at epoch 1)."""

    epoch: int = 0  # finished epochs
    partial: dict[str, Any] | None = None  # inside epoch `epoch + 1`: its order, step and sums
    best_val_acc: float = -1.0
    best_epoch: int = 0
    elapsed_s: float = 0.0
    last_row: dict[str, Any] = field(default_factory=dict)  # metrics.csv's last kept row


@dataclass
class RunOutcome:
    state: str
    message: str = ""
    summary: dict[str, Any] | None = None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Session:
    """What one run builds before its first step, and the logs it writes."""

    splits: ImageSplits
    model: nn.Module
    forward: Callable[..., torch.Tensor]  # the model, or torch.compile of it
    precision: Precision
    scaler: torch.amp.GradScaler | None  # fp16 only
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    pipeline: BatchPipeline
    generator: torch.Generator
    mix_rng: np.random.Generator  # draws mixup's lambda on the host
    tracked: dict[str, nn.Parameter]
    steps_per_epoch: int
    sampler: DeviceSampler
    metrics_log: CsvAppender
    steps_log: CsvAppender
    progress: Progress
    started: float = field(default_factory=time.perf_counter)
    best_val_acc: float = -1.0
    best_epoch: int = 0

    def close(self) -> None:
        for log in (self.metrics_log, self.steps_log):
            with contextlib.suppress(OSError):  # a full disk: the rows written so far stay
                log.close()


class RunTrainer:
    """Trains one run of a study. `run()` never raises for training failures: it returns the
    outcome and leaves the run directory describing it."""

    def __init__(
        self,
        spec: RunSpec,
        paths: RunPaths,
        device: torch.device,
        data: DatasetCache,
        events: TrainingEvents,
        stop: threading.Event,
        resume: bool = False,
    ):
        self.spec = spec
        self.config = spec.config
        self.paths = paths
        self.device = device
        self.data = data
        self.events = events
        self.stop = stop
        self.resume = resume
        before = (read_toml(paths.status) or {}) if resume else {}
        resumed = {}
        if resume and before.get("state") not in (None, st.QUEUED):  # it had started before
            count = before.get("resumes")
            resumed = {
                "resumes": (count if isinstance(count, int) else 0) + 1,
                "resumed": utc_now(),
            }
        self.status = st.StatusFile(
            paths.status,
            {
                "state": st.RUNNING,
                **st.process_identity(),
                "started": before.get("started") or utc_now(),
                **resumed,
                "epoch": 0,
                "epochs": spec.config.train.epochs,
                "step": 0,
                "swept": dict(spec.values),
                "device": str(device),
            },
        )

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        """Train the run. Raises StorageError (after recording what it can) when the run
        directory cannot be written, and KeyboardInterrupt on a second Ctrl-C."""
        session: Session | None = None
        try:
            self.status.start_heartbeat()
            session = self._setup()
            summary = self._train(session)
            self.status.finish(
                st.COMPLETED,
                test_acc=summary["test_acc"],
                test_loss=summary["test_loss"],
                eta_s=0.0,
            )
            self.events.run_finished(self.spec.name, st.COMPLETED, summary, "")
            return RunOutcome(st.COMPLETED, summary=summary)
        except Interrupted:
            now = self.status.snapshot()
            if now.get("step"):
                message = f"stopped by request in epoch {now.get('epoch', 0) + 1} at step "
                message += str(now["step"])
            else:
                message = f"stopped by request after epoch {now.get('epoch', 0)}"
            return self._end(st.INTERRUPTED, message)
        except Diverged as exc:
            return self._end(st.DIVERGED, str(exc))
        except KeyboardInterrupt:
            self._end(st.INTERRUPTED, "stopped at once (second interrupt)")
            raise
        except OSError as exc:
            problem = storage_error(exc, self.paths.root)
            if problem is None:
                return self._failed(exc)
            self._end(st.FAILED, str(problem))
            raise problem from None
        except Exception as exc:
            return self._failed(exc)
        finally:
            self.status.stop_heartbeat()
            if session is not None:
                session.close()

    def _failed(self, exc: Exception) -> RunOutcome:
        self.events.note(f"{self.spec.name} failed:\n{traceback.format_exc()}", log_only=True)
        return self._end(st.FAILED, f"{type(exc).__name__}: {exc}")

    def _end(self, state: str, message: str) -> RunOutcome:
        try:
            self.status.finish(state, message=message)
        except OSError as exc:  # the disk is full: readers will call the run crashed
            self.events.note(f"{self.spec.name}: could not record state {state}: {exc}")
        self.events.run_finished(self.spec.name, state, None, message)
        return RunOutcome(state, message=message)

    def _setup(self) -> Session:
        cfg = self.config
        seed_everything(cfg.train.seed)
        splits = self.data.get(cfg.data, self.device)
        model = build_model(cfg.model, splits.num_classes)
        model = model.to(self.device, memory_format=torch.channels_last)
        if self.device.type == "cpu":
            use_small_map_convolutions(model)
        set_trainable(model, cfg.model, head_only=False)
        # over everything that will ever train
        kernels = optimizer_kernels(self.device, frozen_first=cfg.model.head_only_epochs > 0)
        optimizer = build_optimizer(model, cfg, kernels)
        precision = resolve_precision(cfg.train.precision, self.device)
        if cfg.model.head_only_epochs > 0:
            set_trainable(model, cfg.model, head_only=True)
        per_epoch = steps_per_epoch(len(splits.train), cfg.data.batch_size)
        total, trainable = count_parameters(model)
        sampler = DeviceSampler(self.device)
        self.status.sample = sampler.sample
        name = device_name(self.device)
        self.status.update(
            steps_per_epoch=per_epoch,
            device_name=name,
            precision=precision.name,
            compiled=cfg.train.compile,
            parameters=total,
            trainable_parameters=trainable,
        )
        self.events.run_started(self.spec.name, cfg.train.epochs, per_epoch, name)
        scaler = precision.scaler(self.device)
        scheduler = build_scheduler(optimizer, cfg, per_epoch)
        pipeline = BatchPipeline.for_run(cfg, splits, self.device)
        generator = torch.Generator(device=self.device).manual_seed(cfg.train.seed)
        mix_rng = np.random.default_rng(cfg.train.seed)
        tracked = tracked_parameters(model, cfg.train.track_grad_norm)
        progress = Progress()
        if self.resume:
            progress = self._restore(model, optimizer, scheduler, scaler, generator, mix_rng)
            self._cut_logs(progress, per_epoch)
            if cfg.model.head_only_epochs and progress.epoch > cfg.model.head_only_epochs:
                set_trainable(model, cfg.model, head_only=False)
            self.status.update(
                epoch=progress.epoch,
                step=(progress.partial or {}).get("step", 0),
                best_val_acc=progress.best_val_acc,
                best_epoch=progress.best_epoch,
            )
        session = Session(
            splits=splits,
            model=model,
            forward=compile_model(model, cfg.train.compile),
            precision=precision,
            scaler=scaler,
            optimizer=optimizer,
            scheduler=scheduler,
            pipeline=pipeline,
            generator=generator,
            mix_rng=mix_rng,
            tracked=tracked,
            steps_per_epoch=per_epoch,
            sampler=sampler,
            metrics_log=CsvAppender(
                self.paths.metrics, metric_columns(splits.num_classes, cfg.train.track_grad_norm)
            ),
            steps_log=CsvAppender(self.paths.steps, STEP_COLUMNS),
            progress=progress,
            best_val_acc=progress.best_val_acc,
            best_epoch=progress.best_epoch,
        )
        session.started -= progress.elapsed_s
        return session

    # -- resuming ------------------------------------------------------------------------------

    def _restore(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        scaler: torch.amp.GradScaler | None,
        generator: torch.Generator,
        mix_rng: np.random.Generator,
    ) -> Progress:
        """Load checkpoints/last.pt into the run's objects; the run's Progress. No checkpoint
        (none written yet, or train.save_checkpoints off): the run starts over."""
        name = self.spec.name
        sweep_temp_files(self.paths.root)
        sweep_temp_files(self.paths.checkpoints)
        path = self.paths.checkpoints / checkpoint.LAST
        if not path.exists():
            if read_rows(self.paths.metrics) or read_rows(self.paths.steps):
                self.events.note(f"{name}: no checkpoint to resume from; starting at epoch 1")
            return Progress()
        payload = checkpoint.load(path, map_location=self.device)
        try:
            model.load_state_dict(payload["model"])
            optimizer.load_state_dict(payload["optimizer"])
            scheduler.load_state_dict(payload["scheduler"])
            if scaler is not None and payload.get("scaler"):
                scaler.load_state_dict(payload["scaler"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise checkpoint.CheckpointError(
                f"{path}: does not fit this run's model or optimizer ({exc})"
            ) from None
        if "rng" in payload:
            skipped = checkpoint.restore_rng(payload["rng"], generator, mix_rng)
            if skipped:
                self.events.note(
                    f"{name}: saved on another device; its {' and '.join(skipped)} random "
                    "state does not carry over, so the resumed epochs will differ from an "
                    "uninterrupted run"
                )
        else:
            self.events.note(
                f"{name}: {path.name} predates saved random states; the resumed epochs draw "
                "new ones and will not repeat an uninterrupted run exactly"
            )
        epoch = int(payload.get("epoch", 0))
        partial = payload.get("partial")
        where = f"epoch {epoch + 1}"
        if partial:
            where += f", step {partial['step'] + 1}"
        self.events.note(f"{name}: resuming from {path.name} at {where}")
        progress = Progress(
            epoch=epoch,
            partial=partial,
            best_val_acc=float(payload.get("best_val_acc", -1.0)),
            best_epoch=int(payload.get("best_epoch", 0)),
            elapsed_s=float(payload.get("elapsed_s", 0.0)),
        )
        self._repair_best(progress, payload["model"])
        return progress

    def _repair_best(self, progress: Progress, weights: Mapping[str, torch.Tensor]) -> None:
        """best.pt is written after last.pt: a kill between the two leaves best.pt one best
        behind. The weights last.pt holds are then the best epoch's: write them."""
        if progress.best_epoch != progress.epoch or progress.partial or not progress.epoch:
            return
        best = self.paths.checkpoints / checkpoint.BEST
        try:
            saved = checkpoint.load(best)["epoch"] if best.exists() else None
        except checkpoint.CheckpointError:
            saved = None
        if saved != progress.epoch:
            checkpoint.save(best, {"epoch": progress.epoch, "model": weights})
            self.events.note(f"{self.spec.name}: rewrote {best.name} of epoch {progress.epoch}")

    def _cut_logs(self, progress: Progress, per_epoch: int) -> None:
        """Drop the rows written after the checkpoint: the resumed run writes them again."""
        step = progress.epoch * per_epoch + (progress.partial or {}).get("step", 0)
        dropped = cut_rows_after(self.paths.metrics, "epoch", progress.epoch)
        cut_rows_after(self.paths.steps, "step", step)
        if dropped:
            self.events.note(f"{self.spec.name}: cut {dropped} epoch row(s) after the checkpoint")
        rows = read_rows(self.paths.metrics)
        progress.last_row = dict(rows[-1]) if rows else {}
        if progress.best_val_acc < 0 and rows:  # a checkpoint of an older version
            best = max(rows, key=lambda row: _number(row.get("val_acc")))
            progress.best_val_acc = _number(best.get("val_acc"))
            progress.best_epoch = int(_number(best.get("epoch")))

    def _train(self, s: Session) -> dict[str, Any]:
        """Every epoch, then the test set; returns the summary."""
        cfg = self.config
        eval_batch = _eval_batch(cfg.data.batch_size)
        last_row: dict[str, Any] = s.progress.last_row
        for epoch in range(s.progress.epoch + 1, cfg.train.epochs + 1):
            if cfg.model.head_only_epochs and epoch == cfg.model.head_only_epochs + 1:
                set_trainable(s.model, cfg.model, head_only=False)
                self.events.note(f"{self.spec.name}: epoch {epoch}, unfreezing feature blocks")
            partial, s.progress.partial = s.progress.partial, None
            trained = self._train_epoch(s, epoch, partial)
            val = evaluate(s.model, s.splits, s.splits.val, s.pipeline, eval_batch)
            elapsed = round(time.perf_counter() - s.started, 3)
            row = {
                "epoch": epoch,
                "train_loss": trained.loss,
                "train_acc": trained.acc,
                "val_loss": val.loss,
                "val_acc": val.acc,
                "lr": trained.lr,
                "epoch_time_s": round(trained.seconds, 4),
                "images_per_s": round(trained.images / max(trained.seconds, 1e-9), 2),
                "elapsed_s": elapsed,
            }
            if s.splits.num_classes >= 10:
                row["val_top5"] = val.top5
            for name, norm in trained.grad_norms.items():
                row[GRAD_NORM_PREFIX + name] = norm
            s.metrics_log.append(row)
            last_row = row
            improved = val.acc > s.best_val_acc
            if improved:
                s.best_val_acc, s.best_epoch = val.acc, epoch
            if cfg.train.save_checkpoints:
                self._save_checkpoints(s, epoch, improved)
            else:
                self._check_weights(s, f"epoch {epoch}")
            self.status.update(
                epoch=epoch,
                step=0,
                best_val_acc=s.best_val_acc,
                best_epoch=s.best_epoch,
                val_acc=val.acc,
                val_loss=val.loss,
                train_loss=trained.loss,
                train_acc=trained.acc,
                elapsed_s=elapsed,
                eta_s=round(elapsed / epoch * (cfg.train.epochs - epoch), 1),
            )
            self.events.epoch_ended(self.spec.name, row)
            if self.stop.is_set() and epoch < cfg.train.epochs:
                raise Interrupted()  # after the last epoch, the test figures are worth the wait

        test = evaluate(s.model, s.splits, s.splits.test, s.pipeline, eval_batch, confusion=True)
        summary = self._summary(s, test, last_row)
        write_toml_atomic(self.paths.summary, summary, durable=True)
        write_confusion(self.paths.confusion, test.confusion, s.splits.class_names)
        return summary

    # -- one epoch -----------------------------------------------------------------------------

    def _train_epoch(
        self, s: Session, epoch: int, partial: Mapping[str, Any] | None = None
    ) -> EpochStats:
        """Train one epoch; `partial` (from a checkpoint) continues one stopped inside it."""
        cfg = self.config
        s.model.train()
        freeze_batchnorm_statistics(s.model)
        mixing = "mixup" in cfg.data.augment
        classes = s.splits.num_classes
        zero = torch.zeros((), device=self.device)
        norm_sums = {name: zero.clone() for name in s.tracked}
        norm_steps = dict.fromkeys(s.tracked, 0)  # steps that had a gradient
        last_step_norm = cfg.train.grad_norm_at == "last_step"
        epoch_loss, epoch_correct = zero.clone(), zero.clone()
        window_loss, window_correct = zero.clone(), zero.clone()
        epoch_images = window_images = 0
        done, seconds_before = 0, 0.0
        lr = s.optimizer.param_groups[0]["lr"]
        if partial is None:
            order = epoch_order(len(s.splits.train), s.generator)
        else:
            order, done = partial["order"].to(self.device), int(partial["step"])
            sums = {key: value.clone() for key, value in partial["sums"].items()}
            epoch_loss, epoch_correct = sums["epoch_loss"], sums["epoch_correct"]
            window_loss, window_correct = sums["window_loss"], sums["window_correct"]
            epoch_images = int(partial["epoch_images"])
            window_images = int(partial["window_images"])
            for name in s.tracked:
                if name in partial["norm_sums"]:
                    norm_sums[name] = partial["norm_sums"][name].clone()
                    norm_steps[name] = int(partial["norm_steps"][name])
            seconds_before, lr = float(partial["seconds"]), float(partial["lr"])
        started = window_started = time.perf_counter()
        batches = iterate_batches(
            s.splits,
            s.splits.train,
            cfg.data.batch_size,
            s.pipeline,
            generator=s.generator,
            order=order,
            first_batch=done,
        )
        for step, (images, labels) in enumerate(batches, start=done + 1):
            targets = labels
            if mixing:
                lam = float(s.mix_rng.beta(cfg.data.mixup_alpha, cfg.data.mixup_alpha))
                images, targets, labels = mixup(images, labels, classes, lam, s.generator)
            with s.precision.autocast(self.device):
                logits = s.forward(images)
                loss = F.cross_entropy(logits, targets, label_smoothing=cfg.train.label_smoothing)
            s.optimizer.zero_grad(set_to_none=True)
            if s.scaler is None:
                loss.backward()
            else:
                s.scaler.scale(loss).backward()
                if s.tracked:
                    s.scaler.unscale_(s.optimizer)  # the norms of the true gradients
            for name, parameter in s.tracked.items():
                if parameter.grad is None:  # frozen in this phase
                    if last_step_norm:
                        norm_steps[name] = 0
                    continue
                norm = parameter.grad.detach().norm()
                if last_step_norm:
                    norm_sums[name], norm_steps[name] = norm, 1
                else:
                    norm_sums[name] += norm
                    norm_steps[name] += 1
            if s.scaler is None:
                s.optimizer.step()
            else:
                s.scaler.step(s.optimizer)  # skipped when fp16 gradients overflowed
                s.scaler.update()
            lr = s.optimizer.param_groups[0]["lr"]  # the rate this step used
            s.scheduler.step()
            with torch.no_grad():
                batch = labels.shape[0]
                batch_loss = loss.detach().float() * batch
                batch_correct = (logits.argmax(1) == labels).sum()
                epoch_loss += batch_loss
                epoch_correct += batch_correct
                window_loss += batch_loss
                window_correct += batch_correct
            epoch_images += batch
            window_images += batch
            global_step = (epoch - 1) * s.steps_per_epoch + step
            self.status.update(step=step, global_step=global_step)

            loss_value = images_per_s = None
            if step % cfg.train.log_every_steps == 0 or step == s.steps_per_epoch:
                loss_value = window_loss.item() / window_images  # the one sync of the window
                now = time.perf_counter()
                images_per_s = window_images / max(now - window_started, 1e-9)
                self._check_finite(loss_value, epoch, step)
                s.steps_log.append(
                    {
                        "epoch": epoch,
                        "step": global_step,
                        "loss": loss_value,
                        "acc": window_correct.item() / window_images,
                        "lr": lr,
                        "images_per_s": round(images_per_s, 2),
                        "device_util": s.sampler.utilization(),
                        "elapsed_s": round(now - s.started, 3),
                    }
                )
                self.status.update(
                    train_loss_running=loss_value, images_per_s=round(images_per_s, 2)
                )
                window_loss.zero_()
                window_correct.zero_()
                window_images, window_started = 0, now
            self.events.step(self.spec.name, epoch, step, loss_value, images_per_s)
            if self.stop.is_set():
                if cfg.train.save_checkpoints:
                    partial_state = {
                        "step": step,
                        "order": order,
                        "sums": {
                            "epoch_loss": epoch_loss,
                            "epoch_correct": epoch_correct,
                            "window_loss": window_loss,
                            "window_correct": window_correct,
                        },
                        "epoch_images": epoch_images,
                        "window_images": window_images,
                        "norm_sums": norm_sums,
                        "norm_steps": norm_steps,
                        "seconds": seconds_before + time.perf_counter() - started,
                        "lr": lr,
                    }
                    self._check_finite(window_loss.item() / max(window_images, 1), epoch, step)
                    self._save_checkpoints(s, epoch - 1, False, partial=partial_state)
                raise Interrupted()
        if epoch_images == 0:
            raise RuntimeError("the epoch had no training batch")
        mean_loss = epoch_loss.item() / epoch_images
        self._check_finite(mean_loss, epoch, s.steps_per_epoch)
        seconds = seconds_before + time.perf_counter() - started
        accuracy = epoch_correct.item() / epoch_images
        norms = {
            name: total.item() / norm_steps[name] if norm_steps[name] else None
            for name, total in norm_sums.items()
        }
        return EpochStats(mean_loss, accuracy, seconds, epoch_images, lr, norms)

    def _check_finite(self, loss: float, epoch: int, step: int) -> None:
        if not math.isfinite(loss):
            raise Diverged(
                f"loss became {loss} in epoch {epoch} by step {step}; the learning rate "
                f"(optim.lr = {self.config.optim.lr:g}) is likely too high for this model"
            )

    # -- outputs -------------------------------------------------------------------------------

    def _save_checkpoints(
        self,
        s: Session,
        epoch: int,
        improved: bool,
        partial: Mapping[str, Any] | None = None,
    ) -> None:
        """last.pt, then best.pt (when `improved`). last.pt is the commit point of an epoch:
        the rows before it are synced to disk first, and a kill before best.pt is written is
        repaired on resume (_repair_best). Non-finite weights are never written: the run is
        diverged instead."""
        directory = self.paths.checkpoints
        directory.mkdir(exist_ok=True)
        where = f"epoch {epoch + 1}, step {partial['step']}" if partial else f"epoch {epoch}"
        weights = self._check_weights(s, where)
        s.metrics_log.sync()
        s.steps_log.sync()
        last = {
            "format": checkpoint.FORMAT,
            "epoch": epoch,
            "model": weights,
            "optimizer": s.optimizer.state_dict(),
            "scheduler": s.scheduler.state_dict(),
            "scaler": s.scaler.state_dict() if s.scaler is not None else None,
            "rng": checkpoint.capture_rng(s.generator, s.mix_rng),
            "best_val_acc": s.best_val_acc,
            "best_epoch": s.best_epoch,
            "elapsed_s": time.perf_counter() - s.started,
            "partial": dict(partial) if partial is not None else None,
        }
        checkpoint.save(directory / checkpoint.LAST, last)
        if improved:
            checkpoint.save(directory / checkpoint.BEST, {"epoch": epoch, "model": weights})

    def _check_weights(self, s: Session, where: str) -> dict[str, torch.Tensor]:
        """The model's state dict; Diverged when a weight or statistic is NaN or infinite (the
        loss can stay finite a step longer than the weights)."""
        weights = s.model.state_dict()
        if not checkpoint.all_finite(weights):
            raise Diverged(
                f"the weights became NaN or infinite by {where}; the learning rate "
                f"(optim.lr = {self.config.optim.lr:g}) is likely too high for this model"
            )
        return weights

    def _summary(self, s: Session, test: Evaluation, last_row: Mapping[str, Any]) -> dict[str, Any]:
        total, trainable = count_parameters(s.model)
        return {
            "run": self.spec.name,
            "swept": dict(self.spec.values),
            "test_loss": test.loss,
            "test_acc": test.acc,
            "test_top5": test.top5,
            "test_precision": test.precision,
            "test_recall": test.recall,
            "test_images": test.count,
            "best_epoch": s.best_epoch,
            "best_val_acc": s.best_val_acc,
            "final_train_loss": last_row.get("train_loss"),
            "final_train_acc": last_row.get("train_acc"),
            "final_val_loss": last_row.get("val_loss"),
            "final_val_acc": last_row.get("val_acc"),
            "epochs": last_row.get("epoch"),
            "wall_time_s": round(time.perf_counter() - s.started, 3),
            "parameters": total,
            "trainable_parameters": trainable,
            "device": str(self.device),
            "device_name": device_name(self.device),
        }


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else -1.0


def _eval_batch(train_batch: int) -> int:
    return max(256, train_batch)
