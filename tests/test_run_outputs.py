"""What a run writes to be used without its dataset (inputs.toml) and what it shows of its test
split (predictions.csv, samples.png/csv), and `tui-trainer backfill`, which writes them for a
run that lacks them (and the activation-map sheet samples_cam.png)."""

from __future__ import annotations

import csv
import re
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.trained_run import trained_run
from tui_trainer.cli import app
from tui_trainer.store.atomic import read_toml
from tui_trainer.train.samples import SAMPLE_COLUMNS, choose_samples

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


@pytest.fixture(scope="module")
def splits(run):
    from tui_trainer.config.run_file import run_config
    from tui_trainer.train.data import load_splits

    return load_splits(run_config(run / "config.toml").data)


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_inputs_toml_records_the_classes_sizes_and_the_train_split_statistics(run, splits):
    inputs = read_toml(run / "inputs.toml")["inputs"]
    assert inputs["dataset"] == "digits"
    assert inputs["classes"] == [str(d) for d in range(10)]
    assert (inputs["channels"], inputs["image_size"], inputs["resize"]) == (3, 32, 32)
    assert inputs["grayscale_to_rgb"] is True
    assert inputs["mean"] == list(splits.mean) and inputs["std"] == list(splits.std)
    assert inputs["mean"][0] == pytest.approx(0.3049, abs=1e-4)


def test_predictions_csv_has_one_row_per_test_image_that_agrees_with_summary_and_confusion(
    run, splits
):
    rows = read_csv(run / "predictions.csv")
    assert list(rows[0]) == ["index", "true", "predicted", "probability"] + [
        f"p_{k}" for k in range(10)
    ]
    assert [int(r["index"]) for r in rows] == list(range(359))
    assert [int(r["true"]) for r in rows] == splits.labels[splits.test].tolist()
    correct = sum(r["true"] == r["predicted"] for r in rows)
    assert correct / 359 == read_toml(run / "summary.toml")["test_acc"]
    confusion = read_csv(run / "confusion.csv")
    for r in rows[:50]:
        probabilities = [float(r[f"p_{k}"]) for k in range(10)]
        assert float(r["probability"]) == max(probabilities)
        assert abs(sum(probabilities) - 1) < 1e-5
    diagonal = sum(int(line[str(k)]) for k, line in enumerate(confusion))
    assert diagonal == correct


def test_summary_records_that_the_last_epochs_weights_were_tested_by_default(run):
    summary = read_toml(run / "summary.toml")
    assert (summary["test_weights"], summary["test_epoch"], summary["epochs"]) == ("last", 1, 1)


def test_the_sample_sheet_shows_mistakes_then_one_correct_image_per_class(run, splits):
    tiles = read_csv(run / "samples.csv")
    predictions = read_csv(run / "predictions.csv")
    assert list(tiles[0]) == list(SAMPLE_COLUMNS)
    kinds = [t["kind"] for t in tiles]
    mistakes = kinds.count("mistake")
    assert kinds == ["mistake"] * mistakes + ["correct"] * (len(tiles) - mistakes)
    assert 0 < mistakes <= 64
    sheet = np.asarray(Image.open(run / "samples.png").convert("RGB"))
    images = splits.images[splits.test].numpy()
    for number, tile in enumerate(tiles):
        x, y, index = int(tile["x"]), int(tile["y"]), int(tile["index"])
        assert int(tile["tile"]) == number
        assert (x, y) == ((number % 16) * 33, (number // 16) * 33)
        assert (tile["width"], tile["height"]) == ("32", "32")
        assert (sheet[y : y + 32, x : x + 32] == images[index].transpose(1, 2, 0)).all()
        row = predictions[index]
        assert (tile["true"], tile["predicted"]) == (row["true"], row["predicted"])  # digit names
        # 4 decimals of the same float that predictions.csv gives 6 of: rounding 0.205050 again
        # to 4 would say 0.2051 where the float, 0.2050499..., rounds to 0.2050
        assert abs(float(tile["probability"]) - float(row["probability"])) <= 0.00005 + 1e-6
        assert (tile["kind"] == "mistake") == (row["true"] != row["predicted"])
    rows = -(-len(tiles) // 16)
    assert sheet.shape == (
        rows * 33 - 1,
        16 * 33 - 1 if len(tiles) >= 16 else len(tiles) * 33 - 1,
        3,
    )


def test_mistakes_come_by_most_confused_pair_most_confident_first_then_the_best_correct():
    p = np.array(
        [
            [0.1, 0.9, 0.0],  # 0 true 0 -> 1 (0.9)
            [0.3, 0.7, 0.0],  # 1 true 0 -> 1 (0.7)
            [0.0, 0.2, 0.8],  # 2 true 1 -> 2 (0.8): a pair of one
            [0.6, 0.4, 0.0],  # 3 true 0, correct (0.6)
            [0.8, 0.2, 0.0],  # 4 true 0, correct (0.8)
            [0.0, 0.0, 1.0],  # 5 true 2, correct
        ]
    )
    labels = np.array([0, 0, 1, 0, 0, 2])
    assert choose_samples(p, labels) == [
        (0, "mistake"),
        (1, "mistake"),
        (2, "mistake"),
        (4, "correct"),
        (5, "correct"),  # class 1 has no correct image
    ]


def test_a_hundred_classes_give_64_mistakes_and_the_first_64_classes_correct_images():
    rng = np.random.default_rng(0)
    labels = np.arange(2000) % 100
    p = rng.dirichlet(np.ones(100), size=2000)
    p[np.arange(2000), labels] += rng.random(2000) < 0.9  # about 90% right
    p /= p.sum(1, keepdims=True)
    chosen = choose_samples(p, labels)
    assert len(chosen) == 128
    assert [k for _, k in chosen] == ["mistake"] * 64 + ["correct"] * 64
    assert [int(labels[i]) for i, _ in chosen[64:]] == list(range(64))


def test_backfill_writes_the_same_files_for_a_run_that_lacks_them(run, tmp_path):
    study = shutil.copytree(run.parent, tmp_path / run.parent.name)
    copy = study / "run"
    names = ["inputs.toml", "predictions.csv", "samples.png", "samples.csv"]
    for name in names:
        (copy / name).unlink()
    result = runner.invoke(app, ["backfill", str(copy), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    for name in names:
        assert (copy / name).read_bytes() == (run / name).read_bytes(), name
    assert result.stdout.splitlines() == [
        "dataset 0/1",
        "dataset 1/1",
        "predictions 1/2",
        "predictions 2/2",
    ]
    assert result.stderr == "wrote " + ", ".join(names) + "\n"
    assert not (copy / "samples_cam.png").exists()


def test_backfill_cam_draws_the_sample_sheets_maps_from_the_runs_files_only(
    run, tmp_path, monkeypatch
):
    study = shutil.copytree(run.parent, tmp_path / run.parent.name)
    copy = study / "run"
    monkeypatch.setattr("tui_trainer.train.backfill.load_splits", None)  # no dataset
    result = runner.invoke(app, ["backfill", str(copy), "--cam", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    tiles = read_csv(run / "samples.csv")
    count = len(tiles)
    steps = [f"cam {min(done, count)}/{count}" for done in range(0, count + 15, 16)]
    assert result.stdout.splitlines() == steps
    assert result.stderr == "wrote samples_cam.png\n"
    sheet = np.asarray(Image.open(copy / "samples.png").convert("RGB"))
    cam = np.asarray(Image.open(copy / "samples_cam.png").convert("RGB"))
    assert cam.shape == sheet.shape
    for tile in tiles:  # every tile is blended, the gaps between them are not
        x, y = int(tile["x"]), int(tile["y"])
        assert (cam[y : y + 32, x : x + 32] != sheet[y : y + 32, x : x + 32]).any()
    assert (cam[:, 32] == sheet[:, 32]).all()
    again = runner.invoke(app, ["backfill", str(copy), "--cam", "--device", "cpu"])
    assert (again.exit_code, again.stdout, again.stderr) == (
        0,
        "",
        "nothing to do: the run has inputs.toml, predictions.csv, samples.png, samples.csv and "
        "samples_cam.png\n",
    )


def test_backfill_on_a_complete_run_says_there_was_nothing_to_do_and_exits_0(
    run, tmp_path, monkeypatch
):
    study = shutil.copytree(run.parent, tmp_path / run.parent.name)
    copy = study / "run"
    before = sorted(p.name for p in copy.rglob("*"))
    monkeypatch.setattr("tui_trainer.train.backfill.load_splits", None)  # nothing is loaded
    result = runner.invoke(app, ["backfill", str(copy), "--device", "cpu"])
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "",
        "nothing to do: the run has inputs.toml, predictions.csv, samples.png, samples.csv "
        "(--cam also draws samples_cam.png)\n",
    )
    assert sorted(p.name for p in copy.rglob("*")) == before


def test_backfill_cam_refuses_a_tile_of_height_0_by_its_line_with_exit_2(run, tmp_path):
    study = shutil.copytree(run.parent, tmp_path / run.parent.name)
    copy = study / "run"
    (copy / "samples_cam.png").unlink(missing_ok=True)
    lines = (copy / "samples.csv").read_text().splitlines(keepends=True)
    cells = lines[2].split(",")
    cells[4] = "0"  # the second tile's height
    lines[2] = ",".join(cells)
    (copy / "samples.csv").write_text("".join(lines))
    result = runner.invoke(app, ["backfill", str(copy), "--cam", "--device", "cpu"])
    assert (result.exit_code, result.stderr.splitlines()) == (
        2,
        [f"error: {copy / 'samples.csv'}:3: tile 1 has an empty box (32x0 pixels)"],
    )
    assert not (copy / "samples_cam.png").exists()


def test_backfill_cam_reads_the_sheet_through_the_apps_checked_reader(run, tmp_path):
    from tests.helpers import make_fifo, within

    study = shutil.copytree(run.parent, tmp_path / run.parent.name)
    copy = study / "run"
    (copy / "samples_cam.png").unlink(missing_ok=True)
    make_fifo(copy / "samples.png")
    result = within(60, runner.invoke, app, ["backfill", str(copy), "--cam", "--device", "cpu"])
    assert (result.exit_code, result.stderr.splitlines()) == (
        2,
        [f"error: {copy / 'samples.png'}: not a regular file (a FIFO)"],
    )
    assert not (copy / "samples_cam.png").exists()


def test_backfill_exits_2_for_a_bad_or_unfinished_run_and_3_without_checkpoint(
    run, tmp_path, monkeypatch
):
    study = shutil.copytree(run.parent, tmp_path / run.parent.name)
    copy = study / "run"

    def backfill(*args):
        result = runner.invoke(app, ["backfill", *map(str, args), "--device", "cpu"])
        return result.exit_code, result.stderr.splitlines()

    assert backfill(tmp_path / "nowhere") == (
        2,
        [f"error: {tmp_path / 'nowhere'} is not a study or run directory"],
    )
    shutil.rmtree(copy / "checkpoints")
    (copy / "predictions.csv").unlink()
    monkeypatch.setattr("tui_trainer.train.backfill.load_splits", None)  # refused before loading
    assert backfill(copy) == (3, [f"error: {copy / 'checkpoints' / 'last.pt'}: no such checkpoint"])
    (copy / "summary.toml").unlink()
    code, lines = backfill(copy)
    assert code == 2 and len(lines) == 1 and "has not finished" in lines[0]


def test_backfill_refuses_a_tampered_inputs_toml_before_the_dataset_and_writes_nothing(
    run, tmp_path, monkeypatch
):
    copy = shutil.copytree(run.parent, tmp_path / run.parent.name) / "run"
    inputs = copy / "inputs.toml"
    inputs.write_text(
        re.sub(r"^resize = .*$", "resize = 100000", inputs.read_text(), flags=re.M),
        encoding="utf-8",
    )
    monkeypatch.setattr("tui_trainer.train.backfill.load_splits", None)  # refused before loading
    line = f"error: {inputs}: inputs.resize: must be <= 1024 (got 100000)"
    before = sorted(p.name for p in copy.iterdir())
    result = runner.invoke(app, ["backfill", str(copy), "--cam", "--device", "cpu"])
    assert (result.exit_code, result.stdout, result.stderr.splitlines()) == (2, "", [line])
    (copy / "predictions.csv").unlink()
    result = runner.invoke(app, ["backfill", str(copy), "--device", "cpu"])
    assert (result.exit_code, result.stdout, result.stderr.splitlines()) == (2, "", [line])
    assert sorted(p.name for p in copy.iterdir()) == [n for n in before if n != "predictions.csv"]
