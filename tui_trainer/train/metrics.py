"""Evaluation: loss, top-1, top-5, macro precision and recall, and the confusion matrix, all
accumulated on the device and read back once."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tui_trainer.store.atomic import write_text_atomic
from tui_trainer.train.data import BatchPipeline, ImageSplits, iterate_batches


@dataclass(frozen=True)
class Evaluation:
    loss: float
    acc: float
    top5: float | None
    count: int
    confusion: list[list[int]] | None = None  # [true][predicted]

    @property
    def precision(self) -> float | None:
        """Macro precision as scikit-learn computes it: the mean over every class that is a true
        or a predicted label, a class never predicted counting 0."""
        return self._macro(dim=0)

    @property
    def recall(self) -> float | None:
        """Macro recall, over the same classes as precision."""
        return self._macro(dim=1)

    def _macro(self, dim: int) -> float | None:
        if self.confusion is None:
            return None
        matrix = torch.tensor(self.confusion, dtype=torch.float64)
        totals = matrix.sum(dim)
        present = (matrix.sum(0) + matrix.sum(1)) > 0
        per_class = torch.where(
            totals > 0, matrix.diag() / totals.clamp_min(1), torch.zeros_like(totals)
        )
        return float(per_class[present].mean()) if present.any() else 0.0


@torch.no_grad()
def evaluate(
    model: nn.Module,
    splits: ImageSplits,
    indices: torch.Tensor,
    pipeline: BatchPipeline,
    batch_size: int,
    *,
    confusion: bool = False,
) -> Evaluation:
    """Evaluate `model` (in eval mode, plain cross-entropy) on the images at `indices`."""
    was_training = model.training
    model.eval()
    classes = splits.num_classes
    device = splits.images.device
    # float64 sums where the device has them (MPS does not)
    wide = torch.float32 if device.type == "mps" else torch.float64
    loss_sum = torch.zeros((), dtype=wide, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    correct5 = torch.zeros((), dtype=torch.int64, device=device)
    matrix = torch.zeros(classes * classes, dtype=torch.int64, device=device) if confusion else None
    count = 0
    for images, labels in iterate_batches(splits, indices, batch_size, pipeline):
        logits = model(images).float()
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").to(wide)
        predicted = logits.argmax(1)
        correct += (predicted == labels).sum()
        if classes >= 5:
            top = logits.topk(5, dim=1).indices
            correct5 += (top == labels[:, None]).any(1).sum()
        if matrix is not None:
            matrix += torch.bincount(labels * classes + predicted, minlength=classes * classes)
        count += labels.shape[0]
    model.train(was_training)
    count = max(count, 1)
    return Evaluation(
        loss=loss_sum.item() / count,
        acc=correct.item() / count,
        top5=correct5.item() / count if classes >= 5 else None,
        count=count,
        confusion=matrix.view(classes, classes).tolist() if matrix is not None else None,
    )


def write_confusion(
    path: Path, matrix: Sequence[Sequence[int]] | None, class_names: Sequence[str]
) -> None:
    """confusion.csv: one row per true class, one column per predicted class, named."""
    if matrix is None:
        return
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true\\predicted", *class_names])
    for name, row in zip(class_names, matrix, strict=True):
        writer.writerow([name, *row])
    write_text_atomic(path, buffer.getvalue(), durable=True)
