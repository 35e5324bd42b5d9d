"""What each file of the run directory holds (DESIGN.md's contract), in one place: the columns of
metrics.csv and steps.csv, and the keys of status.toml, summary.toml and the trainer records of
study.toml as typed records.

The trainer writes status.toml and summary.toml only through `write_status` and `write_summary`;
readers get the same records back from `read_status` and `read_summary`. Nothing read is trusted:
a key that is missing, or whose value has the wrong type (a hand-edited file, a newer version's
file), reads as the field's default, never as a crash in whoever shows it. Keys a record does not
know are ignored, so an older reader still reads a newer run. Every string read is made printable
(tui_trainer/printable.py): a record's text can be shown on a terminal as it is.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from tui_trainer.printable import printable, printable_value
from tui_trainer.store.atomic import read_toml, write_toml_atomic

# -- metrics.csv and steps.csv ---------------------------------------------------------------------

GRAD_NORM_PREFIX = "grad_norm:"  # a metrics.csv column per tracked parameter: grad_norm:<name>
TOP5_MIN_CLASSES = 10  # val_top5 is a column only where top-5 means something

STEP_COLUMNS = ("epoch", "step", "loss", "acc", "lr", "images_per_s", "device_util", "elapsed_s")


def has_top5(num_classes: int) -> bool:
    """Whether metrics.csv has a val_top5 column for a dataset of `num_classes` classes."""
    return num_classes >= TOP5_MIN_CLASSES


def metric_columns(num_classes: int, tracked: Iterable[str] = ()) -> list[str]:
    """metrics.csv's header: top-5 where it means something, and a gradient-norm column per
    tracked parameter."""
    columns = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc"]
    if has_top5(num_classes):
        columns.append("val_top5")
    columns += ["lr", "epoch_time_s", "images_per_s", "elapsed_s"]
    return columns + [GRAD_NORM_PREFIX + name for name in tracked]


# What each metrics.csv column is called where a person reads it (the monitor's chart titles,
# export's figures): one set of words per column, beside the header that defines the columns.
METRIC_WORDS = {
    "epoch": "epoch",
    "train_loss": "train loss",
    "train_acc": "train accuracy",
    "val_loss": "validation loss",
    "val_acc": "validation accuracy",
    "val_top5": "validation top-5 accuracy",
    "lr": "learning rate",
    "epoch_time_s": "epoch time (s)",
    "images_per_s": "images per second",
    "elapsed_s": "elapsed time (s)",
}


def metric_words(column: str) -> str:
    """A metrics.csv column in words ('val_top5' -> 'validation top-5 accuracy'); a gradient
    norm column names its parameter; a column this version does not know, as it is."""
    if column.startswith(GRAD_NORM_PREFIX):
        return f"gradient 2-norm of {column.removeprefix(GRAD_NORM_PREFIX)}"
    return METRIC_WORDS.get(column, column)


# -- typed TOML records ----------------------------------------------------------------------------

R = TypeVar("R", bound="TomlRecord")
_ABSENT = object()  # a value of the wrong type: the field keeps its default


class TomlRecord:
    """A dataclass read from and written to a TOML table. `from_toml` keeps each value whose type
    fits its field (an int where a float belongs is taken as a float) and leaves the rest at their
    defaults; `to_toml` leaves out fields that are None (TOML has no null)."""

    _checks: ClassVar[dict[type, dict[str, Callable[[Any], Any]]]] = {}
    # fields read as written, not made printable: compared with what the system reports, never
    # shown (TrainerRecord.command against a process's command line)
    _raw: ClassVar[frozenset[str]] = frozenset()
    # the least value a field can hold: one below it is a placeholder an older version wrote
    # (a best accuracy of -1 before the first epoch) and reads as absent
    _floors: ClassVar[Mapping[str, float]] = {}

    @classmethod
    def from_toml(cls: type[R], data: Mapping[str, Any] | None) -> R:
        if not isinstance(data, Mapping):
            return cls()
        values = {}
        for name, check in _field_checks(cls).items():
            if name in data:
                value = check(data[name])
                floor = cls._floors.get(name)
                if floor is not None and value is not _ABSENT and not value >= floor:
                    value = _ABSENT
                if value is not _ABSENT:
                    values[name] = value
        return cls(**values)

    def to_toml(self) -> dict[str, Any]:
        table: dict[str, Any] = {}
        for spec in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, spec.name)
            if isinstance(value, TomlRecord):
                value = value.to_toml()
            if value is not None:
                table[spec.name] = value
        return table


def _field_checks(cls: type) -> dict[str, Callable[[Any], Any]]:
    checks = TomlRecord._checks.get(cls)
    if checks is None:
        hints = typing.get_type_hints(cls)
        checks = {
            spec.name: _check_for(hints[spec.name], raw=spec.name in cls._raw)  # type: ignore[attr-defined]
            for spec in dataclasses.fields(cls)
        }
        TomlRecord._checks[cls] = checks
    return checks


def _check_for(hint: Any, raw: bool = False) -> Callable[[Any], Any]:
    """A function that returns a TOML value as the type `hint` names, or _ABSENT; strings made
    printable unless `raw`."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    origin = typing.get_origin(hint)
    if hint is Any:
        return lambda value: value
    if hint is bool:
        return lambda value: value if isinstance(value, bool) else _ABSENT
    if hint is int:
        return lambda value: (
            value if isinstance(value, int) and not isinstance(value, bool) else _ABSENT
        )
    if hint is float:
        return _as_float
    if hint is str:
        return lambda value: printable(value) if isinstance(value, str) else _ABSENT
    if hint is datetime:
        return lambda value: value if isinstance(value, datetime) else _ABSENT
    if origin is dict:
        return lambda value: printable_value(value) if isinstance(value, dict) else _ABSENT
    if origin is list and typing.get_args(hint) == (str,):
        shown = (lambda text: text) if raw else printable
        return lambda value: (
            [shown(v) for v in value]
            if isinstance(value, list) and all(isinstance(v, str) for v in value)
            else _ABSENT
        )
    if isinstance(hint, type) and issubclass(hint, TomlRecord):
        return lambda value: hint.from_toml(value) if isinstance(value, dict) else _ABSENT
    raise TypeError(f"no TOML check for fields of type {hint!r}")


def _as_float(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _ABSENT
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float
        return _ABSENT


def _read(cls: type[R], path: Path) -> R | None:
    data = read_toml(path)
    return None if data is None else cls.from_toml(data)


# -- status.toml -----------------------------------------------------------------------------------

# A best accuracy is a fraction and a best epoch counts from 1. Before its first epoch ends a run
# has neither and the keys are left out; an older trainer wrote -1 and 0 there (a resumed run's
# status.toml), which read as absent.
BEST_EPOCH_FLOORS: Mapping[str, float] = types.MappingProxyType(
    {"best_val_acc": 0.0, "best_epoch": 1}
)


@dataclass
class DeviceFigures(TomlRecord):
    """What the heartbeat samples of the machine: host CPU and RAM, this trainer's CPU and
    memory, and the GPU's utilization and memory on CUDA."""

    cpu_percent: float | None = None
    process_cpu_percent: float | None = None
    rss_mb: float | None = None
    ram_percent: float | None = None
    gpu_util_percent: float | None = None
    gpu_mem_used_mb: float | None = None
    gpu_mem_total_mb: float | None = None


@dataclass
class RunStatus(TomlRecord):
    """status.toml: a run's state and progress, rewritten about once a second while it trains.
    `state` is one of store.status.WRITTEN_STATES; readers judge a `running` one by its pid and
    heartbeat (store.status.effective_state)."""

    state: str | None = None
    # the trainer writing the run (store.status.process_identity)
    pid: int | None = None
    host: str | None = None
    pid_started: float | None = None
    started: datetime | None = None  # the first time the run started training
    resumes: int | None = None  # how often `tui-trainer resume` continued it
    resumed: datetime | None = None  # the latest of those
    epoch: int = 0  # finished epochs
    epochs: int | None = None
    step: int = 0  # steps of the epoch in progress
    global_step: int | None = None  # steps over the run
    steps_per_epoch: int | None = None
    swept: dict[str, Any] = field(default_factory=dict)  # the sweep values of this run
    device: str | None = None  # cpu, cuda:0, mps
    device_name: str | None = None
    precision: str | None = None
    compiled: bool | None = None
    parameters: int | None = None
    trainable_parameters: int | None = None
    # the latest figures: of the last finished epoch, of the last logging window (running), and
    # the test set's once completed
    train_loss: float | None = None
    train_acc: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    # the best epoch so far: absent until the first epoch ends (never a placeholder)
    best_val_acc: float | None = None
    best_epoch: int | None = None
    train_loss_running: float | None = None
    images_per_s: float | None = None
    elapsed_s: float | None = None  # training time of the run so far, resumes included
    eta_s: float | None = None  # estimated seconds to the run's last epoch
    test_loss: float | None = None
    test_acc: float | None = None
    message: str | None = None  # why it stopped, diverged or failed
    finished: datetime | None = None
    heartbeat: datetime | None = None
    device_figures: DeviceFigures | None = None
    # a run trained by a worker process (train/worker.py): which attempt this is (a worker
    # killed is retried from last.pt), the GPU it was given (a CUDA_VISIBLE_DEVICES entry: a
    # number or a GPU UUID), how many runs share that GPU, and its CPU threads
    attempt: int | None = None
    gpu: str | None = None
    gpu_share: int | None = None
    threads: int | None = None
    # a queued run: what it waits for (a free slot, the cluster's resources), written by the
    # study's driver so that no run sits "queued" without saying why
    waiting: str | None = None
    _floors: ClassVar[Mapping[str, float]] = BEST_EPOCH_FLOORS

    @property
    def identity(self) -> dict[str, Any]:
        """The trainer's pid, host and start time, as store.status.process_alive takes them."""
        return {"pid": self.pid, "host": self.host, "pid_started": self.pid_started}


def write_status(path: Path, status: RunStatus) -> None:
    """Replace status.toml atomically (not fsynced: it is rewritten every second)."""
    write_toml_atomic(path, status.to_toml())


def read_status(path: Path) -> RunStatus | None:
    """The run's status; None when status.toml is missing, unreadable or not TOML."""
    return _read(RunStatus, path)


# -- summary.toml ----------------------------------------------------------------------------------


@dataclass
class RunSummary(TomlRecord):
    """summary.toml: a completed run's final figures, written once, durably."""

    run: str | None = None
    swept: dict[str, Any] = field(default_factory=dict)
    test_loss: float | None = None
    test_acc: float | None = None
    test_top5: float | None = None
    test_precision: float | None = None  # macro, as scikit-learn computes it
    test_recall: float | None = None
    test_images: int | None = None
    test_weights: str | None = None  # "last" or "best" (train.test_weights); older runs: last
    test_epoch: int | None = None  # the epoch whose weights were tested
    best_epoch: int | None = None
    best_val_acc: float | None = None
    final_train_loss: float | None = None
    final_train_acc: float | None = None
    final_val_loss: float | None = None
    final_val_acc: float | None = None
    epochs: int | None = None
    wall_time_s: float | None = None
    parameters: int | None = None
    trainable_parameters: int | None = None
    device: str | None = None
    device_name: str | None = None
    _floors: ClassVar[Mapping[str, float]] = BEST_EPOCH_FLOORS


def write_summary(path: Path, summary: RunSummary) -> None:
    """Write summary.toml atomically and durably."""
    write_toml_atomic(path, summary.to_toml(), durable=True)


def read_summary(path: Path) -> RunSummary | None:
    """The run's summary; None when summary.toml is missing, unreadable or not TOML."""
    return _read(RunSummary, path)


# -- study.toml's trainer records ------------------------------------------------------------------


@dataclass
class TrainerRecord(TomlRecord):
    """One trainer of a study, as study.toml records it: the `[launch]` table of the trainer that
    created the study, or one `[[resumes]]` entry per `tui-trainer resume` of it. The fields from
    `user` to `git_commit` are the launch's provenance; `ended` and `exit_code` are written as
    the trainer exits (store.study_files.record_end)."""

    time: datetime | None = None
    pid: int | None = None
    host: str | None = None
    pid_started: float | None = None
    command: list[str] | None = None
    runs: list[str] | None = None  # the runs it trains, in order
    device: str | None = None
    device_name: str | None = None
    user: str | None = None
    cwd: str | None = None
    preset: str | None = None
    overrides: list[str] | None = None
    versions: dict[str, Any] | None = None
    git_commit: str | None = None
    _raw: ClassVar[frozenset[str]] = frozenset({"command"})  # verified, never shown
    # written when the trainer exits, however it ends but a kill: a study whose trainer is gone
    # without these crashed; with them it stopped (a signal, a full disk) and says how
    ended: datetime | None = None
    exit_code: int | None = None

    @property
    def identity(self) -> dict[str, Any]:
        return {"pid": self.pid, "host": self.host, "pid_started": self.pid_started}


def trainer_records(study: Mapping[str, Any] | None) -> list[TrainerRecord]:
    """The study's trainers, oldest first: its launch, then each resume."""
    study = study or {}
    tables = [study.get("launch")]
    resumes = study.get("resumes")
    if isinstance(resumes, list):
        tables += resumes
    return [TrainerRecord.from_toml(table) for table in tables if isinstance(table, dict)]
