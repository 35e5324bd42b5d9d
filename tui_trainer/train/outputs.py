"""What a run writes of its test split at its end: predictions.csv (every test image's class
probabilities) and the sample sheet (train/samples.py). Computed with the model that gave the
summary's test figures, so that predictions.csv's accuracy is the summary's test accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from tui_trainer.store.atomic import write_text_atomic
from tui_trainer.store.layout import RunPaths
from tui_trainer.train.data import BatchPipeline, ImageSplits
from tui_trainer.train.samples import build_sheet, write_sheet

ProgressCallback = Callable[[str, int, int], None]  # told (what, done, total) as work goes on


def no_progress(what: str, done: int, total: int) -> None:
    return None


@torch.no_grad()
def test_probabilities(
    model: nn.Module,
    splits: ImageSplits,
    pipeline: BatchPipeline,
    batch_size: int,
    progress: ProgressCallback = no_progress,
) -> np.ndarray:
    """Softmax probabilities [N, K] (float32) of the test split, in its order, in eval mode
    (the mode the model was in is restored)."""
    was_training = model.training
    model.eval()
    indices = splits.test
    total = max(1, -(-len(indices) // batch_size))
    parts = []
    try:
        for number, start in enumerate(range(0, len(indices), batch_size), start=1):
            chosen = indices[start : start + batch_size]
            logits = model(pipeline(splits.images[chosen])).float()
            parts.append(torch.softmax(logits, dim=1).cpu())
            progress("predictions", number, total)
    finally:
        model.train(was_training)
    if not parts:
        return np.zeros((0, splits.num_classes), dtype=np.float32)
    return torch.cat(parts).numpy()


def predictions_csv(probabilities: np.ndarray, labels: np.ndarray) -> str:
    """index,true,predicted,probability,p_0..p_{K-1}; classes as ids, probabilities 6 decimals."""
    classes = probabilities.shape[1]
    lines = [",".join(["index", "true", "predicted", "probability"]
                      + [f"p_{k}" for k in range(classes)])]  # fmt: skip
    predicted = probabilities.argmax(1) if len(probabilities) else np.zeros(0, dtype=np.int64)
    for index, (row, true, guess) in enumerate(zip(probabilities, labels, predicted, strict=True)):
        cells = [str(index), str(int(true)), str(int(guess)), f"{row[guess]:.6f}"]
        cells += [f"{p:.6f}" for p in row]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def write_test_outputs(
    paths: RunPaths,
    probabilities: np.ndarray,
    splits: ImageSplits,
    class_names: Sequence[str],
    *,
    predictions: bool = True,
    samples: bool = True,
) -> None:
    """predictions.csv and samples.png/csv from the test split's probabilities."""
    labels = splits.labels[splits.test.to(splits.labels.device)].cpu().numpy()
    if predictions:
        write_text_atomic(paths.predictions, predictions_csv(probabilities, labels), durable=True)
    if samples:
        images = splits.images[splits.test.to(splits.images.device)].cpu().numpy()
        sheet, tiles = build_sheet(images, probabilities, labels, class_names)
        write_sheet(paths.samples_image, paths.samples, sheet, tiles)
