"""train.test_weights: the test figures of a run come from the weights it names ('last', the
default, or checkpoints/best.pt), and summary.toml records which and of what epoch."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from tests.helpers import TINY_PRESET, Recorder
from tui_trainer.cli import app
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.layout import RunPaths
from tui_trainer.train.checkpoint import RunCheckpoints

runner = CliRunner()
BEST_OF_TWO = TINY_PRESET + 'test_weights = "best"\n'  # line 29


def evaluated(run, weights: str):
    """The test split evaluated again, here, with the run's checkpoints/<weights>.pt."""
    from tui_trainer.config.run_file import run_config
    from tui_trainer.train.data import load_splits
    from tui_trainer.train.metrics import evaluate
    from tui_trainer.train.run_model import load_run_model

    config = run_config(run / "config.toml")
    model = load_run_model(RunPaths(run), config, weights, torch.device("cpu"))
    splits = load_splits(config.data)
    return evaluate(model.model, splits, splits.test, model.pipeline, model.batch_size)


@pytest.fixture(scope="module")
def best_of_two(tmp_path_factory):
    """A 2-epoch digits run with test_weights = "best", whose best.pt stays epoch 1's (as if
    epoch 2 were worse on validation), so that best.pt and last.pt differ."""
    from tests.helpers import run_study
    from tui_trainer.config import load_preset
    from tui_trainer.errors import ExitCode

    original = RunCheckpoints.save

    def first_epoch_is_best(self, session, epoch, weights, *, improved=False, partial=None):
        original(self, session, epoch, weights, improved=improved and epoch == 1, partial=partial)

    patch = pytest.MonkeyPatch()
    patch.setattr(RunCheckpoints, "save", first_epoch_is_best)
    try:
        directory = tmp_path_factory.mktemp("best-of-two")
        preset = directory / "preset.toml"
        preset.write_text(BEST_OF_TWO)
        result = run_study(load_preset(preset), directory / "runs", Recorder(), argv=["test"])
    finally:
        patch.undo()
    assert result.exit_code == ExitCode.OK
    return result.study_dir / "run"


def test_test_weights_best_tests_best_pt_and_summary_records_it(best_of_two):
    summary = read_toml(best_of_two / "summary.toml")
    assert (summary["test_weights"], summary["test_epoch"], summary["epochs"]) == ("best", 1, 2)
    best, last = evaluated(best_of_two, "best"), evaluated(best_of_two, "last")
    assert summary["test_loss"] == pytest.approx(best.loss, abs=1e-5)
    assert summary["test_acc"] == pytest.approx(best.acc, abs=1 / best.count)
    assert abs(best.loss - last.loss) > 1e-3  # the two checkpoints do differ
    matrix = (best_of_two / "confusion.csv").read_text().splitlines()
    correct = sum(int(row.split(",")[i + 1]) for i, row in enumerate(matrix[1:]))
    assert correct / best.count == summary["test_acc"]  # confusion.csv is best.pt's too


def test_show_of_a_run_says_which_weights_were_tested(best_of_two):
    runs_dir = best_of_two.parent.parent
    result = runner.invoke(app, ["show", "latest/run", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["test_weights", "best"] in lines and ["test_epoch", "1"] in lines


def test_test_weights_best_without_checkpoints_is_refused_before_anything_is_written(tmp_path):
    preset = tmp_path / "preset.toml"
    preset.write_text(BEST_OF_TWO + "save_checkpoints = false\n")
    result = runner.invoke(app, ["run", str(preset), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {preset}:29:1: train.test_weights: 'best' needs save_checkpoints = true "
        "(the best weights are checkpoints/best.pt)"
    ]
    assert not (tmp_path / "runs").exists()


def test_backfill_defaults_to_the_weights_the_run_was_tested_with_and_weights_overrides_it(
    best_of_two, tmp_path
):
    import shutil

    study = shutil.copytree(best_of_two.parent, tmp_path / best_of_two.parent.name)
    copy = study / "run"
    (copy / "predictions.csv").unlink()
    result = runner.invoke(app, ["backfill", str(copy), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    tested = (best_of_two / "predictions.csv").read_bytes()
    assert (copy / "predictions.csv").read_bytes() == tested  # best.pt's, as the run's own
    (copy / "predictions.csv").unlink()
    result = runner.invoke(app, ["backfill", str(copy), "--weights", "last", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert (copy / "predictions.csv").read_bytes() != tested
