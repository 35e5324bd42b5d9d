"""No command that writes (predict --cam/--output, data --samples, export --plots/--output,
backfill) replaces or adds a file inside a folder it reads images from, or replaces a file that
tui-trainer did not write and the user did not name: refused with one line, exit 2, before the
first byte (write_guard). predict's own cases: tests/test_predict.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import TINY_PRESET
from tui_trainer.cli import app
from tui_trainer.errors import UsageError
from tui_trainer.store.synthetic import write_synthetic_study
from tui_trainer.write_guard import (
    MANIFEST,
    OutputFile,
    OutputFolder,
    check_writes,
    claim,
    recorded,
)

runner = CliRunner()


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def images(tmp_path) -> Path:
    """An image folder of two classes, five 8x8 images each (cat/x.png the first)."""
    from PIL import Image

    folder = tmp_path / "images"
    for label, name in enumerate(("cat", "dog")):
        (folder / name).mkdir(parents=True)
        for index in range(5):
            pixel = (40 * index, 100 * label, 0)
            Image.new("RGB", (8, 8), pixel).save(folder / name / ("x" * (index + 1) + ".png"))
    return folder


def refusal(*args, **kwargs) -> str:
    with pytest.raises(UsageError) as refused:
        check_writes(*args, **kwargs)
    return str(refused.value)


def test_an_output_folder_that_is_the_folder_read_or_inside_it_is_refused(images):
    for cam in (images, images / "cat", images / "new" / "deeper", images / "cat" / ".." / "new"):
        assert refusal([images], folders=[OutputFolder("--cam", cam, ["y.jpg.png"])]) == (
            f"--cam {cam}: inside {images}, which this command reads images from; nothing "
            "there is replaced or added (choose a place outside it)"
        )


def test_a_symlink_to_the_folder_read_is_seen_through(images, tmp_path):
    (tmp_path / "link").symlink_to(images)
    cam = tmp_path / "link"
    assert refusal([images], folders=[OutputFolder("--cam", cam, ["cat/x.png"])]).startswith(
        f"--cam {cam}: inside {images}, which this command reads"
    )
    named = OutputFile("--output", tmp_path / "link" / "p.csv")
    assert refusal([images], [named]).startswith(f"--output {named.path}: inside {images},")


def test_an_output_folder_holding_the_folder_read_is_refused_only_where_a_file_lands_in_it(
    tmp_path,
):
    read = tmp_path / "out" / "images"
    read.mkdir(parents=True)
    check_writes([read], folders=[OutputFolder("--cam", tmp_path / "out", ["a/x.png"])])
    assert refusal([read], folders=[OutputFolder("--cam", tmp_path / "out", ["images/x.png"])]) == (
        f"--cam {tmp_path / 'out' / 'images' / 'x.png'}: inside {read}, which this command "
        "reads images from; nothing there is replaced or added (choose a place outside it)"
    )


def test_a_file_in_an_output_folder_that_tui_trainer_did_not_write_is_never_replaced(tmp_path):
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    for name in ("a/x.png", "b.png", "c.png"):
        (out / name).write_bytes(b"the user's")
    before = tree(out)
    names = ["a/x.png", "b.png", "c.png", "new.png"]
    assert refusal([], folders=[OutputFolder("--plots", out, names)]) == (
        f"--plots {out}: {out / 'a' / 'x.png'} and 2 more already there, not written by "
        "tui-trainer; nothing is replaced (move them away or choose another folder)"
    )
    claim(out, ["b.png", "c.png"])  # ours now, as an earlier run records them
    assert refusal([], folders=[OutputFolder("--plots", out, names)]).startswith(
        f"--plots {out}: {out / 'a' / 'x.png'} already there, not written by tui-trainer;"
    )
    assert tree(out) == {**before, MANIFEST: (out / MANIFEST).read_bytes()}


def test_names_claimed_in_a_folder_may_be_written_again_and_survive_any_bytes(tmp_path):
    out = tmp_path / "made" / "here"
    bad = os.fsdecode(b"bad\xff.png")
    check_writes([], folders=[OutputFolder("--cam", out, [bad, "a/x.png"])])
    assert not (tmp_path / "made").exists()  # the check writes nothing
    claim(out, [bad, "a/x.png"])
    assert recorded(out) == {bad, "a/x.png"}
    (out / bad).write_bytes(b"ours")
    (out / "a").mkdir()
    (out / "a" / "x.png").write_bytes(b"ours")
    check_writes([], folders=[OutputFolder("--cam", out, [bad, "a/x.png"])])


def test_a_file_where_an_output_folder_or_its_subfolder_belongs_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    assert refusal([], folders=[OutputFolder("--cam", tmp_path / "file", ["x.png"])]) == (
        f"--cam {tmp_path / 'file'}: is a file, not a directory"
    )
    deeper = tmp_path / "file" / "plots"
    assert refusal([], folders=[OutputFolder("--plots", deeper, ["loss.png"])]) == (
        f"--plots {deeper}: {tmp_path / 'file'} is a file, not a directory"
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "a").write_text("the user's")
    assert refusal([], folders=[OutputFolder("--cam", out, ["a/b/x.png"])]) == (
        f"--cam {out}: {out / 'a'} is a file, not a directory"
    )


def test_a_named_output_file_may_be_replaced_but_needs_its_directory(tmp_path):
    (tmp_path / "p.csv").write_text("the user's")
    check_writes([tmp_path / "images"], [OutputFile("--output", tmp_path / "p.csv")])
    missing = tmp_path / "no" / "p.csv"
    assert refusal([], [OutputFile("--output", missing)]) == (
        f"--output {missing}: cannot write it: no such directory {tmp_path / 'no'}"
    )
    assert refusal([], [OutputFile("--output", tmp_path)]) == (
        f"--output {tmp_path}: is a directory; name a file"
    )


def imagefolder_preset(tmp_path: Path, data: Path) -> Path:
    preset = tmp_path / "preset.toml"
    preset.write_text(
        TINY_PRESET.replace('dataset = "digits"', f'dataset = "imagefolder"\ndata_dir = "{data}"')
    )
    return preset


def test_data_samples_inside_the_image_folder_is_refused_before_the_data_is_read(images, tmp_path):
    before = tree(images)
    sheet = images / "cat" / "x.png"
    result = runner.invoke(
        app, ["data", str(imagefolder_preset(tmp_path, images)), "--samples", str(sheet)]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: --samples {sheet}: inside {images}, which this command reads images from; "
        "nothing there is replaced or added (choose a place outside it)"
    ]
    assert result.stdout == ""
    assert tree(images) == before


def test_export_refuses_plots_over_a_foreign_file_and_writes_not_even_its_table(tmp_path):
    study = write_synthetic_study(tmp_path / "runs")
    plots = tmp_path / "figures"
    plots.mkdir()
    (plots / "loss.png").write_bytes(b"the user's figure")
    table = tmp_path / "table.md"
    result = runner.invoke(
        app, ["export", str(study), "--plots", str(plots), "--output", str(table)]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: --plots {plots}: {plots / 'loss.png'} already there, not written by "
        "tui-trainer; nothing is replaced (move them away or choose another folder)"
    ]
    assert tree(plots) == {"loss.png": b"the user's figure"} and not table.exists()


def test_backfill_never_adds_a_file_inside_the_folder_the_run_reads_images_from(tmp_path):
    from tui_trainer.store.layout import RunPaths
    from tui_trainer.train.backfill import backfill

    data = tmp_path / "data"
    study = write_synthetic_study(data / "runs")  # a study kept inside its own image folder
    run = next(p for p in study.iterdir() if (p / "summary.toml").is_file())
    shutil.copy(imagefolder_preset(tmp_path, data), run / "config.toml")
    (run / "checkpoints").mkdir(exist_ok=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"never read")
    before = tree(data)
    paths = RunPaths(run)
    with pytest.raises(UsageError) as refused:
        backfill(paths, cam=False, weights="last", device=None, progress=lambda *a: None)
    assert str(refused.value) == (
        f"backfill {paths.predictions}: inside {data}, which this command reads images from; "
        "nothing there is replaced or added (choose a place outside it)"
    )
    assert tree(data) == before


def test_a_manifest_that_is_a_fifo_or_not_a_list_counts_as_none_and_never_hangs(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / MANIFEST)  # opened blocking, this would wait for a writer for good
    assert recorded(out) == set()
    (out / MANIFEST).unlink()
    (out / MANIFEST).write_text('{"x.png": true}\n')
    assert recorded(out) == set()
