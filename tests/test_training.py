"""Real training on the bundled digits: the run directory it leaves, learning, determinism,
divergence and interruption."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import (
    DIGITS_PER_CLASS,
    REPO,
    TIMING_COLUMNS,
    TINY_PRESET,
    Recorder,
    run_study,
    train,
)
from tui_trainer.config import load_preset
from tui_trainer.errors import ConfigError, ExitCode
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import read_rows
from tui_trainer.store.reader import list_studies
from tui_trainer.train import loop, session


def test_run_directory_holds_everything_design_promises(write_preset, runs_dir):
    loaded, result = train(write_preset, runs_dir)
    assert result.exit_code == ExitCode.OK
    study_dir = result.study_dir
    assert study_dir.parent == runs_dir and study_dir.name.endswith("-tiny")

    study = read_toml(study_dir / "study.toml")
    assert study["optim"]["lr"] == 0.1 and study["sweep"] == {}
    launch = study["launch"]
    assert launch["runs"] == ["run"] and launch["device"] == "cpu" and launch["pid"] == os.getpid()
    assert launch["versions"]["torch"] == torch.__version__
    assert (study_dir / "trainer.log").read_text().count("epoch") >= 2

    run = study_dir / "run"
    # config.toml is a complete preset: loading it gives back the same run config.
    assert load_preset(run / "config.toml").runs[0].config == loaded.runs[0].config

    status = read_toml(run / "status.toml")
    assert status["state"] == "completed" and status["epoch"] == 2 and status["epochs"] == 2
    assert status["pid"] == os.getpid() and "heartbeat" in status and "finished" in status

    metrics = read_rows(run / "metrics.csv")
    assert [r["epoch"] for r in metrics] == [1, 2]
    assert list(metrics[0]) == [
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "val_top5",
        "lr",
        "epoch_time_s",
        "images_per_s",
        "elapsed_s",
    ]
    assert all(0.0 <= r["val_acc"] <= r["val_top5"] <= 1.0 for r in metrics)
    assert metrics[0]["lr"] == pytest.approx(0.1)  # cosine: epoch 1 runs at the base rate
    assert metrics[1]["lr"] == pytest.approx(0.05)  # epoch 2 of 2 at half of it

    steps = read_rows(run / "steps.csv")
    per_epoch = status["steps_per_epoch"]
    assert per_epoch == 18  # 1151 training images in batches of 64
    assert [r["step"] for r in steps if r["epoch"] == 1] == [5, 10, 15, 18]
    assert all(r["loss"] > 0 and r["images_per_s"] > 0 for r in steps)

    summary = read_toml(run / "summary.toml")
    test_images = sum(round(n * 0.2) for n in DIGITS_PER_CLASS)  # 20% of each class
    assert summary["epochs"] == 2 and summary["test_images"] == test_images == 359
    assert 0.0 <= summary["test_acc"] <= summary["test_top5"] <= 1.0
    first_best = max(metrics, key=lambda row: row["val_acc"])  # the earliest epoch of the best
    assert summary["best_epoch"] == first_best["epoch"]
    assert summary["best_val_acc"] == max(r["val_acc"] for r in metrics)

    with open(run / "confusion.csv", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["true\\predicted", *[str(d) for d in range(10)]]
    counts = [[int(c) for c in row[1:]] for row in table[1:]]
    assert [sum(row) for row in counts] == [round(n * 0.2) for n in DIGITS_PER_CLASS]
    assert sum(counts[i][i] for i in range(10)) == round(summary["test_acc"] * test_images)

    last = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert last["epoch"] == 2 and "layers.8.conv1.weight" in last["model"]
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert best["epoch"] == summary["best_epoch"]


@pytest.mark.slow
def test_quickstart_learns_well_above_chance(write_preset, runs_dir):
    quickstart = (REPO / "presets" / "quickstart.toml").read_text()
    _, result = train(write_preset, runs_dir, quickstart, ["train.epochs=4", "train.device=cpu"])
    summary = read_toml(result.study_dir / "run" / "summary.toml")
    assert summary["test_acc"] >= 0.80, summary  # chance is 0.10


def test_same_seed_same_metrics(write_preset, runs_dir):
    text = TINY_PRESET.replace("epochs = 2", "epochs = 1")
    _, first = train(write_preset, runs_dir, text)
    _, second = train(write_preset, runs_dir, text)
    a = read_rows(first.study_dir / "run" / "metrics.csv")
    b = read_rows(second.study_dir / "run" / "metrics.csv")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in rows]  # noqa: E731
    assert strip(a) == strip(b)


def test_divergence_stops_that_run_and_the_study_goes_on(write_preset, runs_dir, monkeypatch):
    # A NaN loss in the first run's fifth step, however the network would behave.
    real_cross_entropy = loop.F.cross_entropy
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real_cross_entropy(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(loop.F, "cross_entropy", poisoned)
    text = TINY_PRESET.replace("epochs = 2", "epochs = 1") + '\n[sweep]\n"optim.lr" = [2.0, 0.1]\n'
    _, result = train(write_preset, runs_dir, text)
    assert result.states == {"lr=2.0": "diverged", "lr=0.1": "completed"}
    assert result.exit_code == ExitCode.RUN_FAILED
    status = read_toml(result.study_dir / "lr=2.0" / "status.toml")
    assert status["message"] == (
        "loss became nan in epoch 1 by step 5; the learning rate (optim.lr = 2) is likely too "
        "high for this model"
    )
    assert not (result.study_dir / "lr=2.0" / "checkpoints").exists()  # no non-finite weights saved
    assert read_rows(result.study_dir / "lr=2.0" / "metrics.csv") == []
    assert read_rows(result.study_dir / "lr=0.1" / "metrics.csv")[0]["epoch"] == 1


@pytest.mark.process
def test_sigint_keeps_finished_epochs_and_marks_interrupted(write_preset, runs_dir):
    text = TINY_PRESET.replace("epochs = 2", "epochs = 3") + '\n[sweep]\n"train.seed" = [0, 1]\n'
    events = Recorder(
        on_epoch=lambda name, row: row["epoch"] == 1 and os.kill(os.getpid(), signal.SIGINT)
    )
    _, result = train(write_preset, runs_dir, text, events=events)
    assert result.exit_code == ExitCode.INTERRUPTED
    assert result.states == {"seed=0": "interrupted", "seed=1": "queued"}
    assert [r["epoch"] for r in read_rows(result.study_dir / "seed=0" / "metrics.csv")] == [1]
    status = read_toml(result.study_dir / "seed=0" / "status.toml")
    assert status["state"] == "interrupted" and status["epoch"] == 1
    assert read_toml(result.study_dir / "seed=1" / "status.toml")["state"] == "queued"
    assert list_studies(runs_dir)[0].state == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


@pytest.mark.process
def test_headless_trainer_process_interrupted_by_sigint(write_preset, runs_dir):
    path = write_preset(TINY_PRESET.replace("epochs = 2", "epochs = 50"))
    process = subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", "run", str(path), "--runs-dir", str(runs_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        metrics: list[Path] = []
        while time.monotonic() < deadline:
            metrics = list(runs_dir.glob("*/run/metrics.csv"))
            if metrics and len(read_rows(metrics[0])) >= 1:
                break
            time.sleep(0.1)
        assert metrics, "the trainer wrote no epoch in time"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, output
    assert "Traceback" not in output
    run = metrics[0].parent
    status = read_toml(run / "status.toml")
    assert status["state"] == "interrupted"
    rows = read_rows(run / "metrics.csv")
    assert len(rows) == status["epoch"] >= 1
    # plain lines when stdout is not a terminal: one timestamped line per epoch
    assert f"run epoch 1/50  train_loss {rows[0]['train_loss']:.4f}" in output


def test_a_run_that_fails_in_setup_is_failed_and_the_study_goes_on(
    write_preset, runs_dir, monkeypatch
):
    real_build = session.build_model
    calls = {"n": 0}

    def build_model(config, num_classes):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real_build(config, num_classes)

    monkeypatch.setattr(session, "build_model", build_model)
    text = TINY_PRESET.replace("epochs = 2", "epochs = 1") + '\n[sweep]\n"train.seed" = [0, 1]\n'
    _, result = train(write_preset, runs_dir, text)
    assert result.states == {"seed=0": "failed", "seed=1": "completed"}
    assert result.exit_code == ExitCode.RUN_FAILED
    status = read_toml(result.study_dir / "seed=0" / "status.toml")
    assert status["message"] == "RuntimeError: CUDA out of memory (simulated)"
    log = (result.study_dir / "trainer.log").read_text()
    assert "seed=0 failed:\nTraceback" in log  # the traceback is in the log, not on screen


def test_splits_that_leave_nothing_to_train_on_are_refused_before_anything_is_written(
    write_preset, runs_dir
):
    loaded = load_preset(write_preset(), ["data.test_fraction=0.99", "data.val_fraction=0.99"])
    with pytest.raises(ConfigError) as info:
        run_study(loaded, runs_dir, Recorder())
    (message,) = info.value.lines()
    assert "data.val_fraction / data.test_fraction: leaves 0 training images" in message
    assert not runs_dir.exists()


def test_a_stop_during_the_last_epoch_still_completes_the_run(write_preset, runs_dir):
    text = TINY_PRESET + '\n[sweep]\n"train.seed" = [0, 1]\n'
    events = Recorder(
        on_epoch=lambda name, row: row["epoch"] == 2 and os.kill(os.getpid(), signal.SIGTERM)
    )
    _, result = train(write_preset, runs_dir, text, events=events)
    assert result.states == {"seed=0": "completed", "seed=1": "queued"}
    assert result.exit_code == ExitCode.TERMINATED
    assert read_toml(result.study_dir / "seed=0" / "summary.toml")["epochs"] == 2


def test_macro_precision_and_recall_agree_with_scikit_learn():
    from sklearn.metrics import precision_score, recall_score

    from tui_trainer.train.metrics import Evaluation

    confusion = [[5, 0, 0, 0], [5, 0, 0, 0], [3, 1, 1, 0], [0, 0, 0, 0]]
    y_true = [t for t, row in enumerate(confusion) for p, n in enumerate(row) for _ in range(n)]
    y_pred = [p for t, row in enumerate(confusion) for p, n in enumerate(row) for _ in range(n)]
    evaluation = Evaluation(loss=0.0, acc=0.0, top5=None, count=15, confusion=confusion)
    assert evaluation.precision == pytest.approx(
        precision_score(y_true, y_pred, average="macro", zero_division=0)
    )
    assert evaluation.recall == pytest.approx(
        recall_score(y_true, y_pred, average="macro", zero_division=0)
    )
