"""The comparison table of a study, as the reports print it: one row per run with its swept
values, final train/val loss and accuracy, best epoch and test figures. `show` renders it, `export`
writes it as Markdown or CSV."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    swept: list[str]  # the sweep's keys, in file order
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
