"""One run, top to bottom: build the session (data, model, optimizer, schedule), record its inputs
(inputs.toml), restore it from checkpoints/last.pt when resuming, train the epochs, evaluate the
test set, write the summary, the confusion matrix, predictions.csv and the sample sheet.

A resumed run (`resume=True`) restores every state last.pt holds, cuts the rows of metrics.csv
and steps.csv written after it (train/checkpoint.py), and goes on from that epoch and step: on
the same device it writes the rows an uninterrupted run would have written.

Loss and accuracy are accumulated on the device and read once per logging interval, so the loop
does not wait on the device every step.
"""

from __future__ import annotations

import math
import threading
import traceback
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tui_trainer.config.sweep import RunSpec
from tui_trainer.errors import storage_error
from tui_trainer.store import status as st
from tui_trainer.store.clock import utc_now
from tui_trainer.store.layout import RunPaths
from tui_trainer.store.schema import (
    GRAD_NORM_PREFIX,
    RunStatus,
    RunSummary,
    has_top5,
    metric_columns,
    read_status,
    write_summary,
)
from tui_trainer.store.stop_request import read_stop_request
from tui_trainer.study.events import TrainingEvents
from tui_trainer.train.augment import mixup_batch
from tui_trainer.train.checkpoint import BEST, RunCheckpoints, all_finite, load
from tui_trainer.train.data import DatasetCache, epoch_order, iterate_batches
from tui_trainer.train.device import device_name
from tui_trainer.train.inputs import run_inputs, write_inputs
from tui_trainer.train.metrics import Evaluation, evaluate, write_confusion
from tui_trainer.train.models import count_parameters, freeze_batchnorm_statistics, set_trainable
from tui_trainer.train.outputs import test_probabilities, write_test_outputs
from tui_trainer.train.progress import EpochState, EpochStats, ResumePoint
from tui_trainer.train.random_state import seed_everything
from tui_trainer.train.session import RunLogs, Session, build_session

TEST_LAST, TEST_BEST = "last", "best"  # train.test_weights, summary.toml's test_weights

# CUDA's out-of-memory error (torch.OutOfMemoryError from torch 2.5 on)
OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError


class Interrupted(Exception):
    """A stop was requested (SIGINT/SIGTERM): the current epoch is abandoned, finished ones kept."""


class Diverged(Exception):
    """The training loss (or the weights) became NaN or infinite."""


@dataclass(frozen=True)
class RunSlot:
    """Where a worker (train/worker.py) trains its run, for status.toml: the attempt, the GPU
    it was given (a CUDA_VISIBLE_DEVICES entry), how many runs share that GPU, its threads."""

    attempt: int = 1
    gpu: str | None = None
    gpu_share: int | None = None
    threads: int | None = None

    def out_of_memory(self, device: str) -> str:
        """What a CUDA out-of-memory error of this run says."""
        where = f"GPU {self.gpu} ({device})" if self.gpu is not None else device
        if self.gpu_share and self.gpu_share > 1:
            return (
                f"out of GPU memory on {where}, shared by {self.gpu_share} runs "
                f"(--runs-per-gpu {self.gpu_share}): resume it with fewer runs per GPU, or a "
                "smaller data.batch_size"
            )
        return f"out of GPU memory on {where}: resume it with a smaller data.batch_size"


@dataclass
class RunOutcome:
    state: str
    message: str = ""
    summary: RunSummary | None = None


# What a resumed run's status.toml keeps from before the resume until training says otherwise.
_CARRIED_OVER = (
    "epoch",
    "step",
    "global_step",
    "steps_per_epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "best_val_acc",
    "best_epoch",
    "elapsed_s",
    "parameters",
    "trainable_parameters",
)


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
        slot: RunSlot | None = None,
    ):
        self.spec = spec
        self.config = spec.config
        self.paths = paths
        self.device = device
        self.data = data
        self.events = events
        self.stop = stop
        self.resume = resume
        self.slot = slot
        self.checkpoints = RunCheckpoints(paths, events.note)
        self.status = st.StatusFile(paths.status, self._first_status())
        # the study's reason to stop this run early (store/stop_request.py), once seen: read at
        # every status heartbeat (from another thread) and at each epoch's end
        self.stop_request: str | None = None
        self.status.on_beat = self._look_for_stop_request

    def _first_status(self) -> RunStatus:
        """status.toml as training starts. A resumed run keeps what its status said of the
        epochs it finished (progress, best and latest figures, time), so that a reader never
        sees it drop back to epoch 0 while it sets up, nor after a setup that fails."""
        before = (read_status(self.paths.status) if self.resume else None) or RunStatus()
        status = RunStatus(
            state=st.RUNNING,
            **st.process_identity(),
            started=before.started or utc_now(),
            epochs=self.config.train.epochs,
            swept=dict(self.spec.values),
            device=str(self.device),
        )
        if self.slot is not None:
            status.attempt = self.slot.attempt
            status.gpu = self.slot.gpu
            status.gpu_share = self.slot.gpu_share
            status.threads = self.slot.threads
        if self.resume and before.state not in (None, st.QUEUED):  # it had started before
            status.resumes, status.resumed = (before.resumes or 0) + 1, utc_now()
            for name in _CARRIED_OVER:
                setattr(status, name, getattr(before, name))
        return status

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        """Train the run. Raises StorageError (after recording what it can) when the run
        directory cannot be written, and KeyboardInterrupt on a second Ctrl-C."""
        session: Session | None = None
        try:
            self.status.start_heartbeat()
            session, start = self._setup()
            summary = self._train(session, start)
            self.status.finish(
                st.COMPLETED, test_acc=summary.test_acc, test_loss=summary.test_loss, eta_s=0.0
            )
            self.events.run_finished(self.spec.name, st.COMPLETED, summary, "")
            return RunOutcome(st.COMPLETED, summary=summary)
        except Interrupted:
            if self.stop_request is not None:  # checkpointed where it stopped, as for a signal
                return self._end(st.PRUNED, self.stop_request)
            now = self.status.snapshot()
            if now.step:
                message = f"stopped by request in epoch {now.epoch + 1} at step {now.step}"
            else:
                message = f"stopped by request after epoch {now.epoch}"
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

    def _stopping(self) -> bool:
        """Whether to stop after this step: a signal, or the study's request to stop early."""
        return self.stop.is_set() or self.stop_request is not None

    def _look_for_stop_request(self) -> None:
        if self.stop_request is None:
            request = read_stop_request(self.paths.stop_request)
            if request is not None:
                self.stop_request = request.reason

    def _failed(self, exc: Exception) -> RunOutcome:
        self.events.note(f"{self.spec.name} failed:\n{traceback.format_exc()}", log_only=True)
        if isinstance(exc, OUT_OF_MEMORY):
            slot = self.slot or RunSlot()
            return self._end(st.FAILED, slot.out_of_memory(device_name(self.device)))
        return self._end(st.FAILED, f"{type(exc).__name__}: {exc}")

    def _end(self, state: str, message: str) -> RunOutcome:
        try:
            self.status.finish(state, message=message)
        except OSError as exc:  # the disk is full: readers will call the run crashed
            self.events.note(f"{self.spec.name}: could not record state {state}: {exc}")
        self.events.run_finished(self.spec.name, state, None, message)
        return RunOutcome(state, message=message)

    def _setup(self) -> tuple[Session, ResumePoint]:
        """The session, restored from last.pt when resuming, and where training starts."""
        cfg = self.config
        seed_everything(cfg.train.seed)
        splits = self.data.get(cfg.data, self.device)
        session = build_session(cfg, splits, self.device)
        write_inputs(self.paths.inputs, run_inputs(cfg, splits))
        total, trainable = count_parameters(session.model)
        self.status.sample = session.sampler.sample
        self.status.update(
            steps_per_epoch=session.steps_per_epoch,
            device_name=device_name(self.device),
            precision=session.precision.name,
            compiled=cfg.train.compile,
            parameters=total,
            trainable_parameters=trainable,
        )
        self.events.run_started(
            self.spec.name, cfg.train.epochs, session.steps_per_epoch, device_name(self.device)
        )
        start = ResumePoint()
        if self.resume:
            start = self.checkpoints.restore(session)
            if cfg.model.head_only_epochs and start.epoch > cfg.model.head_only_epochs:
                set_trainable(session.model, cfg.model, head_only=False)
            self.status.update(  # a run starting over has no best yet: None, left out
                epoch=start.epoch,
                step=start.step,
                best_val_acc=start.best.val_acc,
                best_epoch=start.best.epoch,
            )
        session.best = start.best
        session.elapsed_before_s = start.elapsed_s
        columns = metric_columns(splits.num_classes, cfg.train.track_grad_norm)
        session.logs = RunLogs.open(self.paths, columns)
        return session, start

    # -- the epochs ----------------------------------------------------------------------------

    def _train(self, session: Session, start: ResumePoint) -> RunSummary:
        """Every epoch from `start`, then the test set; returns the summary."""
        cfg = self.config
        last_row = start.last_row
        partial = start.partial
        for epoch in range(start.epoch + 1, cfg.train.epochs + 1):
            if cfg.model.head_only_epochs and epoch == cfg.model.head_only_epochs + 1:
                set_trainable(session.model, cfg.model, head_only=False)
                self.events.note(f"{self.spec.name}: epoch {epoch}, unfreezing feature blocks")
            trained = self._train_epoch(session, epoch, partial)
            partial = None
            val = self._evaluate(session, session.splits.val)
            last_row = self._end_epoch(session, epoch, trained, val)
            self._look_for_stop_request()  # the study may have asked on this epoch's row
            if self._stopping() and epoch < cfg.train.epochs:
                raise Interrupted()  # after the last epoch, the test figures are worth the wait

        tested = self._use_test_weights(session, last_row.get("epoch"))
        test = self._evaluate(session, session.splits.test, confusion=True)
        summary = self._summary(session, test, last_row, tested)
        write_summary(self.paths.summary, summary)
        write_confusion(self.paths.confusion, test.confusion, session.splits.class_names)
        splits = session.splits
        probabilities = test_probabilities(
            session.model, splits, session.pipeline, session.eval_batch
        )
        write_test_outputs(self.paths, probabilities, splits, splits.class_names)
        return summary

    def _end_epoch(
        self, session: Session, epoch: int, trained: EpochStats, val: Evaluation
    ) -> dict[str, object]:
        """Append the epoch's row, checkpoint it, tell the status and the display."""
        elapsed = round(session.elapsed(), 3)
        row: dict[str, object] = {
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
        if has_top5(session.splits.num_classes):
            row["val_top5"] = val.top5
        for name, norm in trained.grad_norms.items():
            row[GRAD_NORM_PREFIX + name] = norm
        session.logs.metrics.append(row)
        improved = session.best.update(val.acc, epoch)
        weights = self._check_weights(session, f"epoch {epoch}")
        if self.config.train.save_checkpoints:
            self.checkpoints.save(session, epoch, weights, improved=improved)
        self.status.update(
            epoch=epoch,
            step=0,
            best_val_acc=session.best.val_acc,
            best_epoch=session.best.epoch,
            val_acc=val.acc,
            val_loss=val.loss,
            train_loss=trained.loss,
            train_acc=trained.acc,
            elapsed_s=elapsed,
            eta_s=round(elapsed / epoch * (self.config.train.epochs - epoch), 1),
        )
        self.events.epoch_ended(self.spec.name, row)
        return row

    # -- one epoch -----------------------------------------------------------------------------

    def _train_epoch(
        self, session: Session, epoch: int, partial: EpochState | None = None
    ) -> EpochStats:
        """Train one epoch; `partial` (from last.pt) continues one stopped inside it."""
        cfg = self.config
        session.model.train()
        freeze_batchnorm_statistics(session.model)
        state = partial or EpochState.begin(
            epoch_order(len(session.splits.train), session.generator),
            session.tracked,
            self.device,
            lr=session.optimizer.param_groups[0]["lr"],
        )
        state.start_clock()
        batches = iterate_batches(
            session.splits,
            session.splits.train,
            cfg.data.batch_size,
            session.pipeline,
            generator=session.generator,
            order=state.order,
            first_batch=state.step,
        )
        for images, labels in batches:
            self._step(session, state, images, labels)
            global_step = (epoch - 1) * session.steps_per_epoch + state.step
            self.status.update(step=state.step, global_step=global_step)
            loss = images_per_s = None
            if state.step % cfg.train.log_every_steps == 0 or state.step == session.steps_per_epoch:
                loss, images_per_s = self._log_window(session, state, epoch, global_step)
            self.events.step(self.spec.name, epoch, state.step, loss, images_per_s)
            if self._stopping():
                self._stop_inside(session, state, epoch)
        trained = state.finish()
        self._check_finite(trained.loss, epoch, session.steps_per_epoch)
        return trained

    def _step(
        self, session: Session, state: EpochState, images: torch.Tensor, labels: torch.Tensor
    ) -> None:
        """One optimizer step on a batch, counted into `state`."""
        cfg = self.config
        targets = labels
        if "mixup" in cfg.data.augment:
            images, targets, labels = mixup_batch(
                images,
                labels,
                session.splits.num_classes,
                cfg.data.mixup_alpha,
                session.mix_rng,
                session.generator,
            )
        with session.precision.autocast(self.device):
            logits = session.forward(images)
            loss = F.cross_entropy(logits, targets, label_smoothing=cfg.train.label_smoothing)
        session.optimizer.zero_grad(set_to_none=True)
        scaler = session.scaler
        if scaler is None:
            loss.backward()
        else:
            scaler.scale(loss).backward()
            if session.tracked:
                scaler.unscale_(session.optimizer)  # the norms of the true gradients
        state.record_grad_norms(session.tracked, cfg.train.grad_norm_at == "last_step")
        if scaler is None:
            session.optimizer.step()
        else:
            scaler.step(session.optimizer)  # skipped when fp16 gradients overflowed
            scaler.update()
        lr = session.optimizer.param_groups[0]["lr"]  # the rate this step used
        session.scheduler.step()
        state.add_batch(loss, logits, labels, lr)

    def _log_window(
        self, session: Session, state: EpochState, epoch: int, global_step: int
    ) -> tuple[float, float]:
        """A row of steps.csv for the window that ends at this step: (loss, images/s)."""
        window = state.close_window()
        self._check_finite(window.loss, epoch, state.step)
        images_per_s = round(window.images_per_s, 2)
        session.logs.steps.append(
            {
                "epoch": epoch,
                "step": global_step,
                "loss": window.loss,
                "acc": window.acc,
                "lr": state.lr,
                "images_per_s": images_per_s,
                "device_util": session.sampler.utilization(),
                "elapsed_s": round(window.ended - session.elapsed_origin, 3),
            }
        )
        self.status.update(train_loss_running=window.loss, images_per_s=images_per_s)
        return window.loss, window.images_per_s

    def _stop_inside(self, session: Session, state: EpochState, epoch: int) -> None:
        """A stop was asked for: checkpoint inside the epoch (at this step), then stop."""
        if self.config.train.save_checkpoints:
            self._check_finite(state.window_loss_mean(), epoch, state.step)
            weights = self._check_weights(session, f"epoch {epoch}, step {state.step}")
            self.checkpoints.save(session, epoch - 1, weights, partial=state)
        raise Interrupted()

    # -- checks and outputs --------------------------------------------------------------------

    def _evaluate(self, session: Session, indices: torch.Tensor, confusion: bool = False):
        return evaluate(
            session.model,
            session.splits,
            indices,
            session.pipeline,
            session.eval_batch,
            confusion=confusion,
        )

    def _check_finite(self, loss: float, epoch: int, step: int) -> None:
        if not math.isfinite(loss):
            raise Diverged(
                f"loss became {loss} in epoch {epoch} by step {step}; the learning rate "
                f"(optim.lr = {self.config.optim.lr:g}) is likely too high for this model"
            )

    def _check_weights(self, session: Session, where: str) -> dict[str, torch.Tensor]:
        """The model's state dict; Diverged when a weight or statistic is NaN or infinite (the
        loss can stay finite a step longer than the weights). Non-finite weights are never
        checkpointed."""
        weights = session.model.state_dict()
        if not all_finite(weights):
            raise Diverged(
                f"the weights became NaN or infinite by {where}; the learning rate "
                f"(optim.lr = {self.config.optim.lr:g}) is likely too high for this model"
            )
        return weights

    def _use_test_weights(self, session: Session, last_epoch: object) -> tuple[str, int | None]:
        """Put the weights train.test_weights asks for into the model before the test pass:
        best.pt's for 'best' (when no epoch ever improved there is none: the last weights are
        tested, and the log says so). Returns which weights were tested and their epoch."""
        last = (TEST_LAST, last_epoch if isinstance(last_epoch, int) else None)
        if self.config.train.test_weights != TEST_BEST:
            return last
        if not self.checkpoints.best.is_file():
            self.events.note(f"{self.spec.name}: no {BEST}: testing the last epoch's weights")
            return last
        saved = load(self.checkpoints.best, map_location=self.device)
        session.model.load_state_dict(saved["model"])
        epoch = saved.get("epoch")
        return TEST_BEST, epoch if isinstance(epoch, int) else None

    def _summary(
        self, session: Session, test: Evaluation, last_row: dict, tested: tuple[str, int | None]
    ) -> RunSummary:
        total, trainable = count_parameters(session.model)
        return RunSummary(
            run=self.spec.name,
            swept=dict(self.spec.values),
            test_loss=test.loss,
            test_acc=test.acc,
            test_top5=test.top5,
            test_precision=test.precision,
            test_recall=test.recall,
            test_images=test.count,
            test_weights=tested[0],
            test_epoch=tested[1],
            best_epoch=session.best.epoch,
            best_val_acc=session.best.val_acc,
            final_train_loss=last_row.get("train_loss"),
            final_train_acc=last_row.get("train_acc"),
            final_val_loss=last_row.get("val_loss"),
            final_val_acc=last_row.get("val_acc"),
            epochs=last_row.get("epoch"),
            wall_time_s=round(session.elapsed(), 3),
            parameters=total,
            trainable_parameters=trainable,
            device=str(self.device),
            device_name=device_name(self.device),
        )
