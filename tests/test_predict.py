"""`tui-trainer predict`: a trained run classifies a folder of real images with its own
preprocessing. The run's own test images, written out as PNGs into class folders, give back its
test accuracy and its predictions.csv; damaged, grey and 16-bit images each get their row."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.trained_run import trained_run
from tui_trainer.cli import app
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.train.cam_caption import LINE, PAD, caption_lines, caption_strip, captioned
from tui_trainer.train.predict import overlay_name

runner = CliRunner()
TEST_IMAGES = 359  # digits' test split at test_fraction 0.2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


@pytest.fixture(scope="module")
def folder(run, tmp_path_factory):
    """The run's test images as PNGs in class folders (0/0000.png: test image 0), and in
    extra/ (no class): a damaged PNG, test image 0 as 8-bit grey and as 16-bit grey."""
    from tui_trainer.config.run_file import run_config
    from tui_trainer.train.data import load_splits

    splits = load_splits(run_config(run / "config.toml").data)
    root = tmp_path_factory.mktemp("new-images")
    images = splits.images[splits.test].numpy()
    labels = splits.labels[splits.test].numpy()
    for index, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        (root / str(label)).mkdir(exist_ok=True)
        Image.fromarray(pixels.transpose(1, 2, 0)).save(root / str(label) / f"{index:04d}.png")
    extra = root / "extra"
    extra.mkdir()
    grey = images[0][0]  # digits are grey: the three channels are equal
    Image.fromarray(grey, mode="L").save(extra / "grey.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(extra / "grey16.png")
    assert Image.open(extra / "grey16.png").mode.startswith("I")
    (extra / "damaged.png").write_bytes((root / str(labels[0]) / "0000.png").read_bytes()[:60])
    return root


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def predicted(run, folder, tmp_path_factory):
    cam = tmp_path_factory.mktemp("cam")
    result = runner.invoke(
        app, ["predict", str(run), str(folder), "--topk", "3", "--device", "cpu", "--cam", str(cam)]
    )
    return result, rows_of(result.stdout), cam


def test_predicting_the_runs_test_images_gives_its_test_accuracy(run, predicted):
    result, _, _ = predicted
    assert result.exit_code == 0, result.output
    found = re.search(r"accuracy (\S+) \((\d+) of (\d+) images", result.stderr)
    correct, counted = int(found.group(2)), int(found.group(3))
    assert counted == TEST_IMAGES
    assert correct / counted == read_toml(run / "summary.toml")["test_acc"]


def test_each_image_gets_the_probabilities_predictions_csv_gave_it(run, folder, predicted):
    _, rows, _ = predicted
    by_path = {row["path"]: row for row in rows}
    classes = read_toml(run / "inputs.toml")["inputs"]["classes"]
    with open(run / "predictions.csv") as handle:
        expected = list(csv.DictReader(handle))
    assert len(expected) == TEST_IMAGES
    for want in expected:
        row = by_path[str(folder / classes[int(want["true"])] / f"{int(want['index']):04d}.png")]
        assert row["true"] == classes[int(want["true"])]
        assert row["class_1"] == classes[int(want["predicted"])]
        assert abs(float(row["p_1"]) - float(want["probability"])) <= 2e-6


def test_rows_are_sorted_and_a_damaged_image_has_its_row_and_one_line_on_stderr(folder, predicted):
    result, rows, _ = predicted
    paths = [r["path"] for r in rows]
    assert len(paths) == TEST_IMAGES + 3
    assert paths[-3:] == [
        str(folder / "extra" / n) for n in ("damaged.png", "grey.png", "grey16.png")
    ]
    damaged = rows[-3]
    assert damaged["class_1"] == "" and damaged["true"] == ""
    assert damaged["error"].startswith(f"cannot read {folder / 'extra' / 'damaged.png'}")
    assert result.stderr.count("damaged.png") == 1


def test_grey_and_16_bit_grey_images_are_read_as_the_rgb_image_they_show(folder, predicted):
    _, rows, _ = predicted
    by_path = {row["path"]: row for row in rows}
    original = next(r for r in rows if r["path"].endswith("/0000.png"))
    for name in ("grey.png", "grey16.png"):
        row = by_path[str(folder / "extra" / name)]
        assert [row[f"class_{k}"] for k in (1, 2, 3)] == [original[f"class_{k}"] for k in (1, 2, 3)]
        assert [row[f"p_{k}"] for k in (1, 2, 3)] == [original[f"p_{k}"] for k in (1, 2, 3)]


def test_cam_writes_each_image_beside_its_overlay(folder, predicted):
    _, _, cam = predicted
    written = sorted(p.relative_to(cam).as_posix() for p in cam.rglob("*.png"))
    assert len(written) == TEST_IMAGES + 2  # not the damaged one
    assert "extra/grey16.png" in written and "extra/damaged.png" not in written
    with Image.open(cam / "extra" / "grey.png") as pair:
        # 32 px scaled to 128, twice, 2 px apart; the caption's two lines under them
        assert pair.size == (4 * 32 * 2 + 2, 4 * 32 + 2 * PAD + 2 * LINE)
        pixels = np.asarray(pair.convert("RGB"))
    left, right = pixels[:128, :128], pixels[:128, 130:]
    assert (left[::4, ::4] == Image.open(folder / "extra" / "grey.png").convert("RGB")).all()
    assert not (left == right).all()


def test_each_overlay_carries_its_caption_of_true_and_predicted_class_and_probability(
    folder, predicted
):
    _, rows, cam = predicted
    for row in rows:
        if row["path"].endswith(("/0/0000.png", "/grey.png")):
            name = overlay_name(Path(row["path"]), folder)
            with Image.open(cam / name) as pair:
                caption = np.asarray(pair.convert("RGB"))[128:]
            true = row["true"] or None
            lines = caption_lines(true, row["class_1"], float(row["p_1"]), 258)
            assert lines[0] == f"predicted {row['class_1']} {float(row['p_1']):.1%}"
            assert lines[1] == (
                "true: not named by its folder" if true is None
                else f"true 0: {'right' if row['class_1'] == '0' else 'wrong'}"
            )  # fmt: skip
            assert (caption == caption_strip(lines, 258)).all(), name


def test_a_caption_names_both_classes_says_right_or_wrong_and_cuts_long_names():
    assert caption_lines("cat", "dog", 0.8712, 258) == ["predicted dog 87.1%", "true cat: wrong"]
    assert caption_lines("cat", "cat", 0.5, 258) == ["predicted cat 50.0%", "true cat: right"]
    assert caption_lines(None, "cat", 1.0, 258) == [
        "predicted cat 100.0%",
        "true: not named by its folder",
    ]
    long = "a" * 100
    assert caption_lines(long, long, 0.25, 258) == [
        "predicted " + "a" * 25 + "… 25.0%",
        "true " + "a" * 29 + "…: right",
    ]  # 42 characters of 6 px in 258 - 2 * 3 px


def test_a_caption_is_drawn_under_the_picture_and_its_text_shows():
    picture = np.full((128, 258, 3), 90, dtype=np.uint8)
    drawn = captioned(picture, ["predicted dog 87.1%", "true cat: wrong"])
    assert drawn.shape == (128 + 2 * PAD + 2 * LINE, 258, 3)
    assert (drawn[:128] == picture).all()
    strip = drawn[128:]
    assert (strip > 128).all(axis=2).sum() > 50  # light text on black
    other = captioned(picture, ["predicted cat 87.1%", "true cat: right"])[128:]
    assert (strip != other).any(axis=2).sum() > 20  # and it is this text


def test_json_and_the_latest_run_form_of_show(run, folder, tmp_path):
    runs_dir = run.parent.parent
    result = runner.invoke(
        app,
        ["predict", "latest/run", str(folder / "extra"), "--format", "json", "--topk", "1",
         "--runs-dir", str(runs_dir), "--device", "cpu", "-o", str(tmp_path / "p.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    import json

    rows = json.loads((tmp_path / "p.json").read_text())
    assert [r["path"].rsplit("/", 1)[1] for r in rows] == ["damaged.png", "grey.png", "grey16.png"]
    assert rows[0]["top"] == [] and rows[0]["error"].startswith("cannot read")
    assert len(rows[1]["top"]) == 1 and rows[1]["true"] is None
    assert "accuracy" not in result.stderr  # no image is in a class folder


def test_bad_run_or_folder_exits_2_and_a_missing_checkpoint_exits_3(run, folder, tmp_path):
    def code(*args):
        result = runner.invoke(app, ["predict", *map(str, args), "--device", "cpu"])
        return result.exit_code, result.stderr.strip().splitlines()

    assert code(tmp_path / "nowhere", folder)[0] == 2
    assert code(run, tmp_path / "nowhere") == (
        2,
        [f"error: {tmp_path / 'nowhere'}: not a directory of images"],
    )
    exit_code, lines = code(run, folder, "--cam", tmp_path / "cam", "--cam-layer", "layers.13")
    assert exit_code == 2 and lines[0].startswith("error: --cam-layer layers.13: this model has")
    assert not (tmp_path / "cam").exists()  # refused before any image was read
    (tmp_path / "empty").mkdir()
    assert code(run, tmp_path / "empty")[0] == 2
    study = shutil.copytree(run.parent, tmp_path / "study")
    shutil.rmtree(study / "run" / "checkpoints")
    exit_code, lines = code(study / "run", folder)
    assert exit_code == 3 and lines == [
        f"error: {study / 'run' / 'checkpoints' / 'last.pt'}: no such checkpoint"
    ]


def test_a_folder_named_after_a_class_gives_its_images_that_true_class(run, folder):
    result = runner.invoke(app, ["predict", str(run), str(folder / "3"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert len(rows) == len(list((folder / "3").glob("*.png"))) == 37  # round(0.2 * 183)
    assert {row["true"] for row in rows} == {"3"}
    correct = sum(row["class_1"] == "3" for row in rows)
    assert f"accuracy {correct / 37:.4f} ({correct} of 37 images" in result.stderr


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")}


def test_cam_or_output_inside_the_folder_it_reads_is_refused_and_nothing_is_written(run, folder):
    extra = folder / "extra"
    before = tree(extra)
    for option, target in [
        ("--cam", extra),  # the finding: grey.png replaced by its overlay, exit 0
        ("--cam", extra / "cams"),
        ("--output", extra / "p.csv"),
    ]:
        result = runner.invoke(
            app, ["predict", str(run), str(extra), option, str(target), "--device", "cpu"]
        )
        assert (result.exit_code, result.stderr.splitlines()) == (
            2,
            [
                f"error: {option} {target}: inside {extra}, which this command reads images "
                "from; nothing there is replaced or added (choose a place outside it)"
            ],
        )
        assert result.stdout == ""
        assert tree(extra) == before


def test_cam_again_into_its_own_folder_replaces_its_overlays_but_never_a_users_file(
    run, folder, tmp_path
):
    cam = tmp_path / "cam"
    args = ["predict", str(run), str(folder / "extra"), "--device", "cpu", "--cam", str(cam)]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in cam.iterdir()) == [
        ".tui-trainer-wrote.json",  # the names predict wrote here: those it may replace
        "grey.png",
        "grey16.png",
    ]
    (cam / "grey.png").unlink()
    (cam / "grey.png").write_bytes(b"the user's own")  # a file of that name, not written by us
    cam.joinpath(".tui-trainer-wrote.json").write_text('["grey16.png"]\n')
    refused = runner.invoke(app, args)
    assert (refused.exit_code, refused.stderr.splitlines()) == (
        2,
        [
            f"error: --cam {cam}: {cam / 'grey.png'} already there, not written by tui-trainer; "
            "nothing is replaced (move them away or choose another folder)"
        ],
    )
    assert (cam / "grey.png").read_bytes() == b"the user's own"


def test_a_file_name_that_is_not_utf8_is_kept_with_its_bytes_escaped_in_csv_and_json(
    run, folder, tmp_path
):
    import json
    import os

    images = tmp_path / "old-share"
    images.mkdir()
    shutil.copy(folder / "extra" / "grey.png", images / os.fsdecode(b"bad\xff.png"))
    shown = f"{images}/bad\\xff.png"  # the undecodable byte as \xff, everywhere
    common = ["predict", str(run), str(images), "--device", "cpu", "--topk", "1"]
    to_stdout = runner.invoke(app, common)
    to_csv = runner.invoke(app, [*common, "-o", str(tmp_path / "p.csv")])
    to_json = runner.invoke(app, [*common, "-f", "json", "-o", str(tmp_path / "p.json")])
    assert [to_stdout.exit_code, to_csv.exit_code, to_json.exit_code] == [0, 0, 0]
    assert rows_of(to_stdout.stdout)[0]["path"] == shown
    assert rows_of((tmp_path / "p.csv").read_text(encoding="utf-8"))[0]["path"] == shown
    assert json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))[0]["path"] == shown


TITLE = "\x1b]0;owned\x07"  # OSC 0: retitles the terminal


def test_whether_stdout_is_a_terminal_decides_if_predicts_text_is_made_printable():
    from tui_trainer.cli.output import for_stdout

    text = f"path,true,class_1\nx.png,,cat{TITLE}\n"
    assert for_stdout(text, terminal=True) == "path,true,class_1\nx.png,,cat\\x1b]0;owned\\x07\n"
    assert for_stdout(text, terminal=False) == text


def test_a_class_name_with_an_osc_sequence_reaches_a_terminal_escaped_and_a_file_as_written(
    run, folder, tmp_path, monkeypatch
):
    import json

    from tui_trainer.cli import output
    from tui_trainer.store.atomic import write_toml_atomic

    study = shutil.copytree(run.parent, tmp_path / "study")
    inputs = read_toml(study / "run" / "inputs.toml")
    inputs["inputs"]["classes"] = [f"{name}{TITLE}" for name in inputs["inputs"]["classes"]]
    write_toml_atomic(study / "run" / "inputs.toml", inputs)
    common = ["predict", str(study / "run"), str(folder / "extra"), "--device", "cpu"]
    to_file = runner.invoke(app, [*common, "--topk", "1", "-o", str(tmp_path / "p.csv")])
    to_json = runner.invoke(app, [*common, "-f", "json", "-o", str(tmp_path / "p.json")])
    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    to_terminal = runner.invoke(app, [*common, "--topk", "1"])
    assert [to_file.exit_code, to_json.exit_code, to_terminal.exit_code] == [0, 0, 0]
    written = rows_of((tmp_path / "p.csv").read_text(encoding="utf-8"))
    assert written[1]["class_1"].endswith(TITLE)  # grey.png: the data, as inputs.toml has it
    top = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))[1]["top"][0]["class"]
    assert top.endswith(TITLE) and "\\u001b]0;owned\\u0007" in (tmp_path / "p.json").read_text()
    assert "\x1b" not in to_terminal.stdout and "\x07" not in to_terminal.stdout
    assert rows_of(to_terminal.stdout)[1]["class_1"].endswith("\\x1b]0;owned\\x07")


def tamper(inputs, line):
    """inputs.toml with its key of `line` (TOML text, `key = value`) replaced by `line`."""
    key = line.split(" = ")[0]
    data = read_toml(inputs)
    del data["inputs"][key]
    write_toml_atomic(inputs, data)
    with open(inputs, "a", encoding="utf-8") as handle:  # [inputs] is the file's only table
        handle.write(line + "\n")


TAMPERED_INPUTS = {
    "std of nan": ("std = [nan, nan, nan]", "inputs.std[0]: must be a finite number (got nan)"),
    "mean of nan": ("mean = nan", "inputs.mean: expected a list, e.g. [1, 2], got a float nan"),
    "std of inf": ("std = inf", "inputs.std: expected a list, e.g. [1, 2], got a float inf"),
    "huge images": ("image_size = 100000", "inputs.image_size: must be <= 1024 (got 100000)"),
    "huge resize": ("resize = 100000", "inputs.resize: must be <= 1024 (got 100000)"),
    "fewer classes than outputs": (
        'classes = ["0", "1", "2"]',
        "inputs.classes: 3 class names, but the model in {last} has 10 outputs",
    ),
}


def refused(copy, images, tmp_path) -> tuple[int, list[str]]:
    """`predict COPY IMAGES` with --output and --cam in tmp_path: its exit code and stderr
    lines, once it is checked that it wrote neither (nor anything to stdout)."""
    output, cam = tmp_path / "predicted.csv", tmp_path / "cam"
    result = runner.invoke(
        app,
        ["predict", str(copy), str(images), "--device", "cpu", "-o", str(output),
         "--cam", str(cam)],
    )  # fmt: skip
    assert result.stdout == "" and not output.exists() and not cam.exists(), result.output
    return result.exit_code, result.stderr.splitlines()


@pytest.mark.parametrize("case", TAMPERED_INPUTS)
def test_a_tampered_inputs_toml_exits_2_naming_the_file_and_key_and_writes_nothing(
    run, folder, tmp_path, case
):
    line, expected = TAMPERED_INPUTS[case]
    copy = shutil.copytree(run.parent, tmp_path / "study") / "run"
    tamper(copy / "inputs.toml", line)
    expected = expected.format(last=copy / "checkpoints" / "last.pt")
    assert refused(copy, folder / "extra", tmp_path) == (
        2,
        [f"error: {copy / 'inputs.toml'}: {expected}"],
    )


def test_a_tampered_config_toml_is_worded_as_in_a_preset_and_exits_2(run, folder, tmp_path):
    copy = shutil.copytree(run.parent, tmp_path / "study") / "run"
    config = copy / "config.toml"
    config.write_text(re.sub(r"^lr = .*$", "lr = nan", config.read_text(), flags=re.M))
    assert refused(copy, folder / "extra", tmp_path) == (
        2,
        [f"error: {config}: optim.lr: must be a finite number (got nan)"],
    )


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ("a number", "not a tui-trainer checkpoint (no model weights)"),
        ("nan", "holds weights that are not finite (nan or inf)"),
    ],
)
def test_a_checkpoint_without_a_weights_table_or_with_nan_weights_exits_3_and_writes_nothing(
    run, folder, tmp_path, weights, expected
):
    import torch

    copy = shutil.copytree(run.parent, tmp_path / "study") / "run"
    last = copy / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)["model"]
    nan = {k: v.float() * float("nan") if v.is_floating_point() else v for k, v in state.items()}
    torch.save({"model": nan if weights == "nan" else 5}, last)
    assert refused(copy, folder / "extra", tmp_path) == (3, [f"error: {last}: {expected}"])


def test_a_full_disk_under_cam_is_exit_3_naming_the_overlay(run, folder, tmp_path, monkeypatch):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("tui_trainer.train.predict.write_bytes_atomic", full)
    cam = tmp_path / "cam"
    result = runner.invoke(
        app, ["predict", str(run), str(folder / "extra"), "--device", "cpu", "--cam", str(cam)]
    )
    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1] == (
        f"error: --cam {cam}: cannot write {cam / 'grey.png'}: No space left on device"
    )
