"""A synthetic finished study in the run-directory format: plausible learning curves, fixed names
and figures, no training. For snapshot tests, the README screenshot, and benchmarks of readers."""

from __future__ import annotations

import math
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tui_trainer.store.atomic import write_toml_atomic
from tui_trainer.store.csvlog import CsvAppender
from tui_trainer.store.layout import StudyPaths
from tui_trainer.store.schema import (
    STEP_COLUMNS,
    DeviceFigures,
    RunStatus,
    RunSummary,
    TrainerRecord,
    metric_columns,
    write_status,
    write_summary,
)
from tui_trainer.store.status import COMPLETED

CLASSES = 100  # a CIFAR-100 study: metrics.csv has val_top5


def curve(epoch: int, epochs: int, rate: float, floor: float, start: float) -> float:
    """An exponential approach from `start` to `floor`, a little noisy, deterministic."""
    wobble = 0.015 * math.sin(epoch * 1.7 + rate * 10)
    return floor + (start - floor) * math.exp(-rate * epoch * 30 / epochs) + wobble


def write_synthetic_study(
    runs_dir: Path,
    study_id: str = "20261122-120000-r001-cifar100-lr",
    learning_rates: tuple[float, ...] = (0.01, 0.05, 0.5),
    epochs: int = 15,
    steps_per_epoch: int = 20,
) -> Path:
    """Write a completed learning-rate study; returns its directory."""
    paths = StudyPaths(Path(runs_dir) / study_id)
    paths.root.mkdir(parents=True)
    names = [f"lr={lr}" for lr in learning_rates]
    launched = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)
    write_toml_atomic(
        paths.study,
        {
            "study": {
                "name": study_id.split("-", 2)[2],
                "description": "Synthetic learning-rate study",
            },
            "sweep": {"optim.lr": list(learning_rates)},
            "launch": TrainerRecord(
                time=launched,
                host="gpu-box",
                runs=names,
                device="cuda:0",
                device_name="NVIDIA H100 80GB HBM3",
                overrides=[],
            ).to_toml(),
        },
    )
    for index, (name, lr) in enumerate(zip(names, learning_rates, strict=True)):
        run = paths.run(name)
        run.root.mkdir()
        rate = 0.35 + 0.25 * index
        best = 0.0
        best_epoch = 0
        with (
            CsvAppender(run.metrics, metric_columns(CLASSES)) as metrics,
            CsvAppender(run.steps, STEP_COLUMNS) as steps,
        ):
            for epoch in range(1, epochs + 1):
                val_acc = round(1 - curve(epoch, epochs, rate, 0.45 + 0.04 * index, 0.99), 4)
                if val_acc > best:
                    best, best_epoch = val_acc, epoch
                metrics.append(
                    {
                        "epoch": epoch,
                        "train_loss": round(curve(epoch, epochs, rate, 1.2 + 0.2 * index, 4.6), 4),
                        "train_acc": round(
                            1 - curve(epoch, epochs, rate, 0.35 + 0.04 * index, 0.99), 4
                        ),
                        "val_loss": round(curve(epoch, epochs, rate, 1.9 + 0.15 * index, 4.6), 4),
                        "val_acc": val_acc,
                        "val_top5": round(min(1.0, val_acc + 0.25), 4),
                        "lr": lr,
                        "epoch_time_s": 9.5,
                        "images_per_s": 4210.0,
                        "elapsed_s": 10.0 * epoch,
                    }
                )
                for step in range(5, steps_per_epoch + 1, 5):
                    position = epoch - 1 + step / steps_per_epoch
                    steps.append(
                        {
                            "epoch": epoch,
                            "step": (epoch - 1) * steps_per_epoch + step,
                            "loss": round(curve(position, epochs, rate, 1.2, 4.6), 4),
                            "acc": None,
                            "lr": lr,
                            "images_per_s": 4210.0,
                            "device_util": 97.0,
                            "elapsed_s": 10.0 * position,
                        }
                    )
        test_acc = round(best - 0.01, 4)
        write_toml_atomic(run.config, {"optim": {"lr": lr}, "train": {"epochs": epochs}})
        write_status(
            run.status,
            RunStatus(
                state=COMPLETED,
                epoch=epochs,
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                swept={"optim.lr": lr},
                best_val_acc=best,
                best_epoch=best_epoch,
                test_acc=test_acc,
                device="cuda:0",
                device_name="NVIDIA H100 80GB HBM3",
                device_figures=DeviceFigures(
                    cpu_percent=12.0,
                    process_cpu_percent=101.0,
                    rss_mb=2310.0,
                    ram_percent=9.0,
                    gpu_util_percent=97.0,
                    gpu_mem_used_mb=9216.0,
                    gpu_mem_total_mb=81559.0,
                ),
            ),
        )
        write_summary(
            run.summary,
            RunSummary(
                swept={"optim.lr": lr},
                test_acc=test_acc,
                test_loss=2.1 + 0.1 * index,
                best_epoch=best_epoch,
                best_val_acc=best,
                final_train_loss=round(curve(epochs, epochs, rate, 1.2 + 0.2 * index, 4.6), 4),
                final_train_acc=round(
                    1 - curve(epochs, epochs, rate, 0.35 + 0.04 * index, 0.99), 4
                ),
                final_val_loss=round(curve(epochs, epochs, rate, 1.9 + 0.15 * index, 4.6), 4),
                final_val_acc=round(1 - curve(epochs, epochs, rate, 0.45 + 0.04 * index, 0.99), 4),
                epochs=epochs,
                wall_time_s=10.0 * epochs,
            ),
        )
    (paths.log).write_text(
        "".join(f"2026-11-22 12:{i:02d}:00 {name} completed\n" for i, name in enumerate(names))
    )
    return paths.root


def write_small_study(root: Path, host: str, runs: int = 3, epochs: int = 3) -> Path:
    """A small completed study at `root`, launched on `host`: study.toml, and per run
    config.toml (two setups, so time estimates have something to tell apart), metrics.csv,
    status.toml and summary.toml, written in that order as the trainer writes them."""
    paths = StudyPaths(Path(root))
    paths.root.mkdir(parents=True)
    names = [f"lr={0.01 * (index + 1):g}" for index in range(runs)]
    launched = datetime(2026, 1, 1, tzinfo=timezone.utc)
    record = TrainerRecord(time=launched, host=host, runs=names)
    study = {"study": {"name": "small", "description": "generated"}, "launch": record.to_toml()}
    write_toml_atomic(paths.study, study)
    for index, name in enumerate(names):
        run = paths.run(name)
        run.root.mkdir()
        model = {"arch": f"mobilenet_v{1 + index % 2}"}
        config = {"data": {"dataset": "digits"}, "model": model, "train": {"epochs": epochs}}
        write_toml_atomic(run.config, config)
        with CsvAppender(run.metrics, metric_columns(10)) as metrics:
            for epoch in range(1, epochs + 1):
                row = {"epoch": epoch, "val_acc": 0.5 + 0.01 * epoch, "elapsed_s": 2.0 * epoch}
                metrics.append(row)
        best, test = 0.5 + 0.01 * epochs, 0.49 + 0.01 * epochs
        write_status(
            run.status,
            RunStatus(
                state=COMPLETED, epoch=epochs, epochs=epochs, best_val_acc=best, test_acc=test
            ),
        )
        write_summary(
            run.summary,
            RunSummary(test_acc=test, best_val_acc=best, epochs=epochs, wall_time_s=2.0 * epochs),
        )
    return paths.root


def write_many_studies(runs_dir: Path, count: int, host: str = "gpu-box") -> list[Path]:
    """`count` small finished studies under `runs_dir`, a minute apart from 2026-01-01 00:00:
    copies (file times kept) of one write_small_study wrote, for benchmarks and tests of
    listings."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    template = write_small_study(runs_dir / ".small-study", host)
    start = datetime(2026, 1, 1)
    roots = []
    for index in range(count):
        stamp = (start + timedelta(minutes=index)).strftime("%Y%m%d-%H%M%S")
        roots.append(Path(shutil.copytree(template, runs_dir / f"{stamp}-small{index}")))
    shutil.rmtree(template)
    return roots
