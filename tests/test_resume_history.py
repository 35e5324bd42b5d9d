"""A resume never loses or invents history: before it changes a byte it checks that the run's
logs are what tui-trainer writes (header, epochs 1..n) and that last.pt is level with them or
one epoch behind, and that the dataset is there; otherwise it refuses with the reason and the
study is left exactly as it was. A failure once training has started keeps the run's progress
in status.toml."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import FOUR_EPOCHS, TINY_PRESET, Recorder, dead_trainer, train
from tui_trainer.cli import app
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.csvlog import cut_rows_after, read_rows
from tui_trainer.store.reader import read_study

runner = CliRunner()


def stopped_after(write_preset, runs_dir, epoch: int, text: str = TINY_PRESET) -> Path:
    """A study trained here and stopped with SIGTERM as `epoch` ended (an interrupted run with
    `epoch` rows and last.pt of that epoch), its trainer then recorded as gone."""
    events = Recorder(
        on_epoch=lambda name, row: row["epoch"] == epoch and os.kill(os.getpid(), signal.SIGTERM)
    )
    _, result = train(write_preset, runs_dir, text=text, events=events)
    study = read_toml(result.study_dir / "study.toml")
    study["launch"].update(dead_trainer())
    write_toml_atomic(result.study_dir / "study.toml", study)
    return result.study_dir


def snapshot(study: Path) -> dict[str, bytes]:
    """Every file of the study, byte for byte."""
    return {
        str(path.relative_to(study)): path.read_bytes()
        for path in sorted(study.rglob("*"))
        if path.is_file()
    }


def resume(study: Path, *more: str):
    return runner.invoke(app, ["resume", str(study), "--runs-dir", str(study.parent), *more])


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda text: "\ufeff" + text, "it starts with a byte-order mark"),
        (lambda text: text.replace("epoch,", "Epoch,", 1), "'Epoch,train_loss"),
    ],
    ids=["byte-order-mark", "renamed-column"],
)
def test_a_header_not_as_written_is_refused_before_any_row_is_cut(
    write_preset, runs_dir, edit, said
):
    study = stopped_after(write_preset, runs_dir, 1)
    metrics = study / "run" / "metrics.csv"
    metrics.write_text(edit(metrics.read_text(encoding="utf-8")), encoding="utf-8")
    before = snapshot(study)
    result = resume(study)
    assert result.exit_code == 2, result.output
    assert "refusing to resume run: metrics.csv has the header" in result.output
    assert said in result.output and "nothing was changed" in result.output
    assert snapshot(study) == before


def test_a_checkpoint_ahead_of_the_rows_is_refused_not_resumed_with_a_gap(write_preset, runs_dir):
    study = stopped_after(write_preset, runs_dir, 3, text=FOUR_EPOCHS)
    cut_rows_after(study / "run" / "metrics.csv", "epoch", 1)  # rows of epochs 2 and 3 lost
    before = snapshot(study)
    result = resume(study)
    assert result.exit_code == 2, result.output
    assert (
        "last.pt is of epoch 3 but metrics.csv holds epochs 1 to 1: epochs 2 to 3 would have "
        "no rows" in result.output
    )
    assert snapshot(study) == before


def test_rows_more_than_an_epoch_ahead_of_the_checkpoint_are_never_cut(write_preset, runs_dir):
    study = stopped_after(write_preset, runs_dir, 3, text=FOUR_EPOCHS)
    run = study / "run"
    later = (run / "checkpoints" / "last.pt").read_bytes()
    first = stopped_after(write_preset, runs_dir / "other", 1, text=FOUR_EPOCHS)
    (run / "checkpoints" / "last.pt").write_bytes((first / "run/checkpoints/last.pt").read_bytes())
    before = snapshot(study)
    result = resume(study)
    assert result.exit_code == 2, result.output
    assert "resuming would cut 2 finished epochs" in result.output
    assert snapshot(study) == before
    (run / "checkpoints" / "last.pt").write_bytes(later)  # the right checkpoint: it resumes
    assert resume(study).exit_code == 0
    assert [row["epoch"] for row in read_rows(run / "metrics.csv")] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("name", "line", "said"),
    [
        ("metrics.csv", 2, "metrics.csv line 3 is not a whole row"),
        ("steps.csv", 1, "steps.csv line 2 is not a whole row"),
    ],
)
def test_a_damaged_row_in_the_middle_is_refused_and_its_file_named(
    write_preset, runs_dir, name, line, said
):
    study = stopped_after(write_preset, runs_dir, 3, text=FOUR_EPOCHS)
    log = study / "run" / name
    lines = log.read_text().splitlines(keepends=True)
    lines[line] = "2,oops\n"
    log.write_text("".join(lines))
    before = snapshot(study)
    result = resume(study)
    assert result.exit_code == 2
    assert f"refusing to resume run: {said}" in result.output
    assert snapshot(study) == before


def test_a_failure_once_resumed_keeps_the_runs_progress_and_rows(write_preset, runs_dir):
    """last.pt no longer fits the model (config.toml edited to another width): the resumed run
    fails in its setup, and its status still says how far it had come."""
    study = stopped_after(write_preset, runs_dir, 1)
    run = study / "run"
    interrupted = read_toml(run / "status.toml")
    config = read_toml(run / "config.toml")
    config["model"]["width_mult"] = 0.5
    write_toml_atomic(run / "config.toml", config)
    rows = (run / "metrics.csv").read_bytes()
    result = resume(study)
    assert result.exit_code == 1
    status = read_toml(run / "status.toml")
    assert status["state"] == "failed" and "does not fit this run's model" in status["message"]
    assert status["epoch"] == interrupted["epoch"] == 1
    assert status["best_val_acc"] == interrupted["best_val_acc"]
    assert status["best_epoch"] == 1
    assert (run / "metrics.csv").read_bytes() == rows
    (record,) = read_study(study).runs
    assert (record.state, record.epoch, record.best_val_acc) == (
        "failed",
        1,
        interrupted["best_val_acc"],
    )


def test_the_first_status_of_a_resumed_run_keeps_its_progress(write_preset, runs_dir):
    """What the monitor reads while a resume sets up: the finished epochs, never 0."""
    import torch

    from tui_trainer.config.run_file import run_config
    from tui_trainer.config.sweep import RunSpec
    from tui_trainer.store.layout import StudyPaths
    from tui_trainer.train.data import DatasetCache
    from tui_trainer.train.loop import RunTrainer

    study = stopped_after(write_preset, runs_dir, 1)
    before = read_toml(study / "run" / "status.toml")
    spec = RunSpec("run", {}, run_config(study / "run" / "config.toml"))
    trainer = RunTrainer(
        spec,
        StudyPaths(study).run("run"),
        torch.device("cpu"),
        DatasetCache(),
        Recorder(),
        stop=__import__("threading").Event(),
        resume=True,
    )
    first = trainer.status.snapshot()
    assert first.state == st.RUNNING and first.resumes == 1
    assert (first.epoch, first.best_val_acc, first.best_epoch, first.elapsed_s) == (
        1,
        before["best_val_acc"],
        1,
        before["elapsed_s"],
    )


def test_a_resume_whose_image_folder_is_gone_exits_3_and_changes_nothing(
    write_preset, runs_dir, tmp_path
):
    import shutil

    from tests.helpers import make_folder

    make_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=10, size=8)
    text = TINY_PRESET.replace(
        'dataset = "digits"',
        f'dataset = "imagefolder"\ndata_dir = "{tmp_path / "pets"}"\nimage_size = 8',
    )
    study = stopped_after(write_preset, runs_dir, 1, text=text)
    shutil.rmtree(tmp_path / "pets")
    before = snapshot(study)
    result = resume(study)
    assert result.exit_code == 3, result.output
    assert "which does not exist, and resume does not create it" in result.output
    assert snapshot(study) == before
    assert not (tmp_path / "pets").exists()


def test_resume_never_creates_nor_downloads_into_a_data_dir_that_config_toml_names(
    write_preset, runs_dir, tmp_path, cifar_data_dir
):
    text = TINY_PRESET.replace('dataset = "digits"', 'dataset = "cifar10"\nsplit = "random"')
    study = stopped_after(write_preset, runs_dir, 1, text=text)
    config = read_toml(study / "run" / "config.toml")
    elsewhere = tmp_path / "elsewhere" / "data"
    config["data"]["data_dir"] = str(elsewhere)
    write_toml_atomic(study / "run" / "config.toml", config)
    before = snapshot(study)

    result = resume(study)
    assert result.exit_code == 3
    assert not elsewhere.exists() and not elsewhere.parent.exists()
    assert snapshot(study) == before

    elsewhere.mkdir(parents=True)  # there, but without the archive: no download into it
    result = resume(study)
    assert result.exit_code == 3 and "data.download is false" in result.output
    assert list(elsewhere.iterdir()) == []
    assert snapshot(study) == before

    result = resume(study, "--data-dir", str(cifar_data_dir))  # the user says where
    assert result.exit_code == 0, result.output
    assert [row["epoch"] for row in read_rows(study / "run" / "metrics.csv")] == [1, 2]


def test_a_run_crashed_on_another_host_resumes_here(write_preset, runs_dir):
    """A node preempted mid-run, the study resumed on another machine of a shared file system:
    the status names the old host, and its heartbeat no longer changes. The run is resumed, not
    taken for live or stalled."""
    from datetime import datetime, timezone

    study = stopped_after(write_preset, runs_dir, 1)
    status = read_toml(study / "run" / "status.toml")
    status.update(
        state="running",
        host="node7",
        pid=4242,
        pid_started=1.0,
        heartbeat=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    write_toml_atomic(study / "run" / "status.toml", status)
    # Seen once, another host's run reads running: its heartbeat's age on another clock means
    # nothing here. Resume watches it for a few seconds, sees it unchanged, and goes on.
    assert read_study(study).runs[0].state == "running"
    result = resume(study)
    assert result.exit_code == 0, result.output
    assert [row["epoch"] for row in read_rows(study / "run" / "metrics.csv")] == [1, 2]
