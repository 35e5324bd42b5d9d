"""The comparison table of a study, as the reports print it: one row per run with its swept
values, final train/val loss and accuracy, best epoch and test figures. `show` renders it, `export`
writes it as Markdown or CSV.

Runs of several studies are compared on what tells them apart: every key of their resolved
configs (config.toml, flattened to `optim.lr`) whose value is not the same in all of them, since
two studies may differ in epochs or schedule without sweeping either."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tui_trainer.printable import printable, printable_value
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.reader import RunRecord, StudyRecord

# (summary.toml field, status.toml field, column label): a completed run shows its summary's
# number, a running one the latest its status holds (None: status.toml has no such number).
HEADLINE_COLUMNS = (
    ("final_train_loss", "train_loss", "train loss"),
    ("final_train_acc", "train_acc", "train acc"),
    ("final_val_loss", "val_loss", "val loss"),
    ("final_val_acc", "val_acc", "val acc"),
    ("best_val_acc", "best_val_acc", "best val acc"),
    ("best_epoch", "best_epoch", "best epoch"),
    ("test_loss", "test_loss", "test loss"),
    ("test_acc", "test_acc", "test acc"),
    ("test_top5", None, "test top-5"),
    ("test_precision", None, "precision"),
    ("test_recall", None, "recall"),
    ("wall_time_s", "elapsed_s", "time (s)"),
)


@dataclass(frozen=True)
class Comparison:
    swept: list[str]  # the sweep's keys, in file order; across studies: the differing ones
    columns: list[str]  # "run", the swept keys, "state", "epochs", then the headline numbers
    rows: list[list[Any]]


def swept_value(run: RunRecord, key: str) -> Any:
    for swept in (run.summary.swept if run.summary is not None else {}, run.status.swept):
        if key in swept:
            return swept[key]
    return None


def _headline(run: RunRecord, summary_field: str, status_field: str | None) -> float | int | None:
    if run.summary is not None:
        value = getattr(run.summary, summary_field)
        if value is not None:
            return value
    return getattr(run.status, status_field) if status_field is not None else None


def comparison(study: StudyRecord, runs: Sequence[RunRecord] | None = None) -> Comparison:
    """One row per run; a running run shows its latest numbers (from status.toml)."""
    keys = study.sweep_keys
    columns = ["run", *keys, "state", "epochs", *[label for _, _, label in HEADLINE_COLUMNS]]
    rows = []
    for run in runs if runs is not None else study.runs:
        epochs = f"{run.epoch}/{run.epochs if run.epochs is not None else '?'}"
        headlines = [_headline(run, summary, status) for summary, status, _ in HEADLINE_COLUMNS]
        rows.append([run.name, *[swept_value(run, k) for k in keys], run.state, epochs, *headlines])
    return Comparison(swept=keys, columns=columns, rows=rows)


# config.toml's tables that do not tell runs apart: the study's name and description (the
# comparison has a study column)
NOT_COMPARED = ("study",)


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as dotted keys: {"optim": {"lr": 0.1}} -> {"optim.lr": 0.1}."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def run_settings(run: RunRecord) -> dict[str, Any]:
    """A run's resolved config, flattened, made printable; its swept values where config.toml
    is missing or unreadable (they are the config's own values otherwise)."""
    config = run.config if run.config is not None else read_toml(run.paths.config)
    settings = flatten(config) if isinstance(config, Mapping) else {}
    for key in run.status.swept:
        settings.setdefault(key, swept_value(run, key))
    shown = {printable(str(key)): printable_value(value) for key, value in settings.items()}
    return {key: value for key, value in shown.items() if key.split(".")[0] not in NOT_COMPARED}


_MISSING = object()


def differing_keys(settings: Sequence[Mapping[str, Any]]) -> list[str]:
    """The keys whose value is not the same in every one of `settings` (a key some lack
    included; 1 and 1.0 or true are not the same setting), in the order they first appear."""
    keys = list(dict.fromkeys(key for one in settings for key in one))
    differing = []
    for key in keys:
        values = [one.get(key, _MISSING) for one in settings]
        if any(type(v) is not type(values[0]) or v != values[0] for v in values[1:]):
            differing.append(key)
    return differing


def combined(studies: Sequence[StudyRecord]) -> Comparison:
    """The runs of several studies as one table: the study and run in front, then each config
    key whose value differs between the runs (`swept`), then the reports' columns."""
    runs = [(study, run) for study in studies for run in study.runs]
    settings = [run_settings(run) for _, run in runs]
    fixed = {"study", "run", "state", "epochs", *[label for _, _, label in HEADLINE_COLUMNS]}
    keys = [key for key in differing_keys(settings) if key not in fixed]  # (a hand-made key)
    columns = [
        "study",
        "run",
        *keys,
        "state",
        "epochs",
        *[label for _, _, label in HEADLINE_COLUMNS],
    ]
    rows = []
    for (study, run), values in zip(runs, settings, strict=True):
        epochs = f"{run.epoch}/{run.epochs if run.epochs is not None else '?'}"
        headlines = [_headline(run, summary, status) for summary, status, _ in HEADLINE_COLUMNS]
        rows.append(
            [study.id, run.name, *[values.get(key) for key in keys], run.state, epochs, *headlines]
        )
    return Comparison(swept=keys, columns=columns, rows=rows)
