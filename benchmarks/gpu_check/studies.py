"""Training through the command users run: a preset written into the step's directory, trained
by `python -m tui_trainer run PRESET --set ...`, and its run directories read back with the
store's own readers (what `tui-trainer show` and the app read)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import cifar100_data_dir
from benchmarks.gpu_check.harness import Context, Finished, run, trainer
from tui_trainer import tomlcompat
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import read_rows
from tui_trainer.store.schema import RunStatus, RunSummary, read_status, read_summary


def generated_cifar100(ctx: Context, per_class: int) -> Path:
    """A data directory holding CIFAR-100 in its genuine format with `per_class` training images
    per class, each class its own mean colour (learnable, so that a loss can fall). Made once
    per size and shared by the steps; the real dataset is used instead when it is installed."""
    scratch = ctx.scratch / f"cifar100-{per_class}-per-class"
    if (scratch / "cifar-100-python" / "train").is_file():
        return scratch
    directory, _ = cifar100_data_dir(scratch, per_class)
    return directory


def val_fraction(per_class: int) -> float:
    """5% held out for validation, or enough that every class keeps one image (the split is
    stratified, rounded per class, and an empty split is refused)."""
    return max(0.05, round(0.6 / per_class, 3))


def cifar_preset(
    name: str, data_dir: Path, per_class: int, **sections: Mapping[str, Any]
) -> dict[str, Any]:
    """A preset on the generated CIFAR-100: MobileNet v1 with SGD unless `sections` says more."""
    preset: dict[str, Any] = {
        "study": {"name": name},
        "data": {
            "dataset": "cifar100",
            "data_dir": str(data_dir),
            "download": False,
            "val_fraction": val_fraction(per_class),
            "augment": ["crop", "hflip"],
            "batch_size": 128,
        },
        "model": {"arch": "mobilenet_v1"},
        "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
        "train": {"epochs": 1, "seed": 0, "log_every_steps": 10, "save_checkpoints": False},
    }  # fmt: skip
    for section, values in sections.items():
        preset.setdefault(section, {}).update(values)
    return preset


@dataclass
class TrainedRun:
    name: str
    directory: Path
    config: dict[str, Any]
    status: RunStatus | None
    summary: RunSummary | None
    metrics: list[dict[str, Any]]
    steps: list[dict[str, Any]]

    @property
    def state(self) -> str:
        return self.status.state if self.status and self.status.state else "no status"

    def losses(self) -> list[float]:
        return [float(r["loss"]) for r in self.steps if isinstance(r.get("loss"), (int, float))]


@dataclass
class TrainedStudy:
    finished: Finished
    directory: Path | None
    runs: list[TrainedRun]


def study_dir(runs_dir: Path) -> Path | None:
    found = sorted(p for p in runs_dir.glob("*") if (p / "study.toml").is_file())
    return found[-1] if found else None


def read_runs(study: Path) -> list[TrainedRun]:
    """Every run directory of the study, as the readers see it."""
    runs = []
    for directory in sorted(p for p in study.iterdir() if (p / "config.toml").is_file()):
        runs.append(
            TrainedRun(
                name=directory.name,
                directory=directory,
                config=read_toml(directory / "config.toml") or {},
                status=read_status(directory / "status.toml"),
                summary=read_summary(directory / "summary.toml"),
                metrics=read_rows(directory / "metrics.csv"),
                steps=read_rows(directory / "steps.csv"),
            )
        )
    return runs


def write_preset(directory: Path, preset: Mapping[str, Any]) -> Path:
    path = directory / "preset.toml"
    path.write_text(tomlcompat.dumps(preset))
    return path


def train(
    ctx: Context, directory: Path, preset: Mapping[str, Any] | Path, *options: str
) -> TrainedStudy:
    """`tui-trainer run PRESET --plain --runs-dir DIR/runs [options]`, within the step's time."""
    path = preset if isinstance(preset, Path) else write_preset(directory, preset)
    runs_dir = directory / "runs"
    command = trainer("run", str(path), "--plain", "--runs-dir", str(runs_dir), *options)
    finished = run(command, directory / "trainer-output.log", ctx.left())
    found = study_dir(runs_dir) if runs_dir.is_dir() else None
    return TrainedStudy(finished, found, read_runs(found) if found else [])


def sets(**values: Any) -> list[str]:
    """`--set key=value` options, dotted keys written with `__` (train__epochs=1)."""
    options = []
    for key, value in values.items():
        # JSON's numbers, strings, booleans and flat lists are TOML values too, on one line
        options += ["--set", f"{key.replace('__', '.')}={json.dumps(value)}"]
    return options
