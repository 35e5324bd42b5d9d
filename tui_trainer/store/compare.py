"""The comparison table of a study, as the reports print it: one row per run with its swept
values, final train/val loss and accuracy, best epoch and test figures. `show` renders it, `export`
writes it as Markdown or CSV."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tui_trainer.store.reader import RunRecord, StudyRecord

FIGURE_COLUMNS = (
    ("final_train_loss", "train_loss", "train loss"),
    ("final_train_acc", "train_acc", "train acc"),
    ("final_val_loss", "val_loss", "val loss"),
    ("final_val_acc", "val_acc", "val acc"),
    ("best_val_acc", "best_val_acc", "best val acc"),
    ("best_epoch", "best_epoch", "best epoch"),
    ("test_loss", "test_loss", "test loss"),
    ("test_acc", "test_acc", "test acc"),
    ("test_top5", "test_top5", "test top-5"),
    ("test_precision", "test_precision", "precision"),
    ("test_recall", "test_recall", "recall"),
    ("wall_time_s", "elapsed_s", "time (s)"),
)


@dataclass(frozen=True)
class Comparison:
    swept: list[str]  # the sweep's keys, in file order
    columns: list[str]  # "run", the swept keys, "state", "epochs", then the figures
    rows: list[list[Any]]


def swept_keys(study: StudyRecord) -> list[str]:
    sweep = (study.study or {}).get("sweep")
    return [str(k) for k in sweep] if isinstance(sweep, dict) else []


def swept_value(run: RunRecord, key: str) -> Any:
    for source in (run.summary or {}, run.status):
        swept = source.get("swept")
        if isinstance(swept, dict) and key in swept:
            return swept[key]
    return None


def _figure(run: RunRecord, summary_key: str, status_key: str) -> float | int | None:
    for source, key in ((run.summary or {}, summary_key), (run.status, status_key)):
        value = source.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    return None


def comparison(study: StudyRecord, runs: Sequence[RunRecord] | None = None) -> Comparison:
    """One row per run; a running run shows its latest figures (from status.toml)."""
    keys = swept_keys(study)
    columns = ["run", *keys, "state", "epochs", *[label for _, _, label in FIGURE_COLUMNS]]
    rows = []
    for run in runs if runs is not None else study.runs:
        epochs = f"{run.epoch}/{run.epochs if run.epochs is not None else '?'}"
        figures = [
            _figure(run, summary_key, status_key) for summary_key, status_key, _ in FIGURE_COLUMNS
        ]
        rows.append([run.name, *[swept_value(run, k) for k in keys], run.state, epochs, *figures])
    return Comparison(swept=keys, columns=columns, rows=rows)
