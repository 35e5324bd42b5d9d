"""Time to 97% test accuracy on the bundled digits: the quickstart through tui-trainer against
the same model and recipe through a plain TensorDataset + DataLoader eager loop.

    .venv/bin/python -m benchmarks.time_to_accuracy [--target 0.97] [--seed 0]

Both train presets/quickstart.toml's recipe (MobileNet v1 at width 0.5, SGD with Nesterov
momentum, weight decay, a cosine schedule with a one-epoch warm-up, random 32x32 crops of the
images padded by 4, batch 64, 20 epochs) on the same train/test split, and both are evaluated on
the test images after every epoch, outside the timed region:

- tui-trainer: `run_study`, the function `tui-trainer run` calls, on the quickstart preset. After
  each epoch a listener loads the epoch's checkpoints/last.pt (written before the listener is
  called) and evaluates it;
- plain loop: a TensorDataset of the normalized float images, a DataLoader (shuffle, the crop as
  a per-sample torchvision transform), the model in eager fp32 NCHW, `.item()` every step.

Reported: training seconds (the epochs' own time, evaluation excluded) until the first epoch
whose test accuracy reaches the target, and the final test accuracy.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, fmt_ratio, machine_line

PRESET = REPO / "presets" / "quickstart.toml"


class _CheckpointEvaluator:
    """TrainingEvents listener: test accuracy of each epoch's checkpoint, and its own time."""

    def __init__(self, config, run_dir_of):
        from tui_trainer.train.data import BatchPipeline, load_splits
        from tui_trainer.train.models import build_model

        self.config = config
        self.run_dir_of = run_dir_of
        self.splits = load_splits(config.data)
        self.pipeline = BatchPipeline.for_run(config, self.splits, _cpu())
        self.model = build_model(config.model, self.splits.num_classes)
        self.history: list[tuple[int, float, float]] = []  # epoch, train seconds, test acc
        self.train_seconds = 0.0

    def epoch_ended(self, name, row):
        import torch

        from tui_trainer.train.metrics import evaluate

        self.train_seconds += float(row["epoch_time_s"])
        path = self.run_dir_of(name) / "checkpoints" / "last.pt"
        state = torch.load(path, map_location="cpu", weights_only=True)["model"]
        self.model.load_state_dict(state)
        test = evaluate(self.model, self.splits, self.splits.test, self.pipeline, 512)
        self.history.append((int(row["epoch"]), self.train_seconds, test.acc))

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _cpu():
    import torch

    return torch.device("cpu")


def run_tui_trainer(seed: int) -> list[tuple[int, float, float]]:
    from tui_trainer.config.load import load_preset
    from tui_trainer.console.plain import with_study_log
    from tui_trainer.store.layout import StudyPaths
    from tui_trainer.train.in_process import run_study

    loaded = load_preset(PRESET, [f"train.seed={seed}", "train.device=cpu"])
    with tempfile.TemporaryDirectory() as scratch:
        runs = Path(scratch)
        listener = _CheckpointEvaluator(
            loaded.runs[0].config, lambda name: StudyPaths(_only_study(runs)).run(name).root
        )
        run_study(loaded, runs, with_study_log(listener), argv=["bench"])
    return listener.history


def _only_study(runs: Path) -> Path:
    (study,) = [p for p in runs.iterdir() if p.is_dir()]
    return study


def run_plain_loop(seed: int) -> list[tuple[int, float, float]]:
    import torch
    import torch.nn.functional as F
    from torchvision import transforms

    from tui_trainer.config.load import load_preset
    from tui_trainer.train.data import load_splits, normalization
    from tui_trainer.train.models import build_model
    from tui_trainer.train.optim import build_scheduler

    config = load_preset(PRESET, [f"train.seed={seed}"]).runs[0].config
    splits = load_splits(config.data)
    mean, std = normalization(config, splits)
    normalize = transforms.Normalize(mean, std)

    def tensors(indices):
        return normalize(splits.images[indices].float() / 255), splits.labels[indices]

    crop = transforms.RandomCrop(32, padding=config.data.crop_padding)

    class Cropped(torch.utils.data.TensorDataset):
        def __getitem__(self, index):
            image, label = super().__getitem__(index)
            return crop(image), label

    torch.manual_seed(seed)
    train_x, train_y = tensors(splits.train)
    test_x, test_y = tensors(splits.test)
    loader = torch.utils.data.DataLoader(
        Cropped(train_x, train_y), batch_size=config.data.batch_size, shuffle=True, drop_last=False
    )
    model = build_model(config.model, splits.num_classes)
    o = config.optim
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=o.lr,
        momentum=o.momentum,
        nesterov=o.nesterov,
        weight_decay=o.weight_decay,
    )
    scheduler = build_scheduler(optimizer, config, len(loader))
    history = []
    train_seconds = 0.0
    for epoch in range(1, config.train.epochs + 1):
        model.train()
        started = time.perf_counter()
        for x, y in loader:
            if len(y) < 2:
                continue
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss.item()
        train_seconds += time.perf_counter() - started
        model.eval()
        with torch.no_grad():
            correct = sum(
                (model(test_x[i : i + 512]).argmax(1) == test_y[i : i + 512]).sum().item()
                for i in range(0, len(test_y), 512)
            )
        history.append((epoch, train_seconds, correct / len(test_y)))
    return history


def _reached(history, target):
    for epoch, seconds, acc in history:
        if acc >= target:
            return epoch, seconds
    return None, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", type=float, default=0.97)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import torch

    print(machine_line())
    print(f"quickstart recipe, seed {args.seed}, torch threads {torch.get_num_threads()}")
    print(f"{'pipeline':14} {'epoch reached':>13} {'train s':>8} {'final acc':>9}  per epoch")
    results = {}
    for label, runner in (("plain loop", run_plain_loop), ("tui-trainer", run_tui_trainer)):
        history = runner(args.seed)
        epoch, seconds = _reached(history, args.target)
        results[label] = seconds
        trace = " ".join(f"{acc:.3f}" for _, _, acc in history)
        reached = f"{epoch:>13} {seconds:8.1f}" if epoch else f"{'never':>13} {'-':>8}"
        print(f"{label:14} {reached} {history[-1][2]:9.4f}  {trace}")
    if all(results.values()):
        speedup = results["plain loop"] / results["tui-trainer"]
        print(f"time to {args.target:.0%}: tui-trainer {fmt_ratio(speedup)} faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
