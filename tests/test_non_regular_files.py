"""A FIFO, /dev/zero or a symlink where a file of a run directory or a preset belongs: every
reader refuses it at once (store/files.py) instead of blocking or reading forever. Each check
runs under `within`, so a reader that blocked would fail the test, not hang the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import TINY_PRESET, make_fifo, within
from tui_trainer.cli import app
from tui_trainer.config import load_preset
from tui_trainer.errors import ConfigError
from tui_trainer.store.csvlog import CsvAppender, CsvFollower, cut_rows_after, read_rows
from tui_trainer.store.files import (
    FileTooLarge,
    LinkedFile,
    NotRegularFile,
    open_for_append,
    read_limited,
)
from tui_trainer.store.follow import StudyFollower
from tui_trainer.store.reader import list_studies, read_study
from tui_trainer.store.schema import read_status, read_summary
from tui_trainer.store.synthetic import write_synthetic_study

runner = CliRunner()
RUN = "lr=0.05"


@pytest.fixture
def study(tmp_path) -> Path:
    return write_synthetic_study(tmp_path / "runs", epochs=3)


def test_the_one_opener_refuses_a_fifo_a_device_and_a_symlink_with_the_reason(tmp_path):
    fifo = make_fifo(tmp_path / "fifo")
    with pytest.raises(NotRegularFile, match=r"not a regular file \(a FIFO\)"):
        within(10, read_limited, fifo, 1000)
    with pytest.raises(NotRegularFile, match=r"a character device"):
        within(10, read_limited, "/dev/zero", 1000)
    (tmp_path / "big").write_bytes(b"x" * 2000)
    with pytest.raises(FileTooLarge, match="larger than 1000 bytes"):
        read_limited(tmp_path / "big", 1000)
    (tmp_path / "link").symlink_to(tmp_path / "big")
    with pytest.raises(OSError, match="is a symlink; not followed"):
        read_limited(tmp_path / "link", 10_000)
    assert read_limited(tmp_path / "link", 10_000, follow_links=True) == b"x" * 2000
    (tmp_path / "to-fifo").symlink_to(fifo)
    with pytest.raises(NotRegularFile):  # a link followed must still lead to a regular file
        within(10, read_limited, tmp_path / "to-fifo", 10, follow_links=True)


def test_appending_refuses_a_fifo_and_a_file_hard_linked_elsewhere(tmp_path):
    fifo = make_fifo(tmp_path / "trainer.log")
    with pytest.raises(NotRegularFile):
        within(10, open_for_append, fifo)
    outside = tmp_path / "outside.txt"
    outside.write_text("someone else's file\n")
    os.link(outside, tmp_path / "metrics.csv")
    with pytest.raises(LinkedFile, match="2 hard links"):
        open_for_append(tmp_path / "metrics.csv")
    with pytest.raises(LinkedFile):
        CsvAppender(tmp_path / "metrics.csv", ["epoch"])
    assert outside.read_text() == "someone else's file\n"


@pytest.mark.parametrize(
    "name",
    [
        "study.toml",
        "trainer.log",
        f"{RUN}/status.toml",
        f"{RUN}/summary.toml",
        f"{RUN}/metrics.csv",
        f"{RUN}/steps.csv",
    ],
)
def test_a_fifo_in_place_of_a_run_file_never_blocks_a_reader(study, name):
    make_fifo(study / name)
    within(20, read_study, study)
    within(20, list_studies, study.parent)
    follower = within(20, StudyFollower, study)
    within(20, follower.poll)
    within(20, follower.new_log_lines)
    within(20, read_status, study / RUN / "status.toml")
    within(20, read_summary, study / RUN / "summary.toml")
    rows = within(20, read_rows, study / RUN / "metrics.csv")
    assert len(rows) == (0 if "metrics" in name else 3)


@pytest.mark.parametrize("name", ["study.toml", f"{RUN}/status.toml", f"{RUN}/metrics.csv"])
def test_runs_and_show_answer_with_a_fifo_in_the_study(study, name):
    make_fifo(study / name)
    runs_dir = str(study.parent)
    for args in (["runs"], ["show", study.name], ["show", f"{study.name}/{RUN}"]):
        if name == "study.toml" and args[0] == "show" and "/" in args[1]:
            continue  # without study.toml the study has no run list to pick from
        result = within(60, runner.invoke, app, [*args, "--runs-dir", runs_dir])
        assert result.exit_code in (0, 2), result.output
        assert "Traceback" not in result.output


def test_resume_refuses_a_fifo_in_the_run_without_touching_anything(study):
    from tests.helpers import make_unfinished

    make_unfinished(study, RUN, state="interrupted", epoch=1)
    make_fifo(study / RUN / "steps.csv")
    before = (study / RUN / "metrics.csv").read_bytes()
    result = within(60, runner.invoke, app, ["resume", study.name, "--runs-dir", str(study.parent)])
    assert result.exit_code == 2
    assert "steps.csv is a FIFO, not a regular file" in result.output
    assert (study / RUN / "metrics.csv").read_bytes() == before


def test_csv_writers_and_the_cut_refuse_a_fifo(tmp_path):
    fifo = make_fifo(tmp_path / "metrics.csv")
    with pytest.raises(NotRegularFile):
        within(10, CsvAppender, fifo, ["epoch"])
    with pytest.raises(NotRegularFile):
        within(10, cut_rows_after, fifo, "epoch", 1)
    assert within(10, CsvFollower(fifo).poll) == []


@pytest.mark.process
@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_fifo_or_dev_zero_as_a_preset_is_a_located_error(tmp_path, kind):
    path = tmp_path / "preset.toml"
    if kind == "fifo":
        make_fifo(path)
    else:
        path.symlink_to("/dev/zero")
    with pytest.raises(ConfigError) as caught:
        within(20, load_preset, path)
    kind_text = "a FIFO" if kind == "fifo" else "a character device"
    assert caught.value.lines() == [f"{path}: cannot read: not a regular file ({kind_text})"]
    result = subprocess.run(
        [sys.executable, "-m", "tui_trainer", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {path}: cannot read: not a regular file ({kind_text})"


def test_an_oversized_preset_is_refused_not_read(tmp_path):
    path = tmp_path / "big.toml"
    with open(path, "wb") as handle:
        handle.truncate(5 << 20)  # a sparse 5 MiB file
    with pytest.raises(ConfigError, match="larger than 4 MiB"):
        load_preset(path)


def test_a_symlinked_preset_is_followed_to_its_regular_file(tmp_path):
    real = tmp_path / "dotfiles" / "mine.toml"
    real.parent.mkdir()
    real.write_text(TINY_PRESET)
    (tmp_path / "mine.toml").symlink_to(real)
    assert load_preset(tmp_path / "mine.toml").preset.study.name == "tiny"


def test_the_app_starts_and_browses_with_fifos_among_presets_and_studies(tmp_path, study):
    """A FIFO in the user's presets folder once froze the app at start."""
    import asyncio

    from textual.widgets import DataTable

    from tui_trainer.ui.app import create_app
    from tui_trainer.ui.screens.monitor import MonitorScreen

    presets = tmp_path / "presets"
    presets.mkdir()
    make_fifo(presets / "fifo.toml")
    (presets / "zero.toml").symlink_to("/dev/zero")
    (presets / "mine.toml").write_text(TINY_PRESET)
    make_fifo(study / RUN / "status.toml")
    make_fifo(study / RUN / "metrics.csv")
    make_fifo(study / "trainer.log")

    async def scenario():
        app_ = create_app(study.parent, user_presets_dir=presets)
        async with app_.run_test(size=(120, 40)) as pilot:
            table = app_.screen.query_one("#presets", DataTable)
            rows = {
                str(table.get_row_at(i)[0]): table.get_row_at(i) for i in range(table.row_count)
            }
            assert str(rows["fifo"][5]) == (
                f"{presets / 'fifo.toml'}: cannot read: not a regular file (a FIFO)"
            )
            assert "a character device" in str(rows["zero"][5])
            assert rows["mine"][1] == "1"
            await pilot.press("r")  # the runs browser
            await pilot.pause()
            await pilot.press("enter")  # the study with FIFOs, in the monitor
            await pilot.pause(0.5)
            assert isinstance(app_.screen, MonitorScreen)
        return app_.return_code

    assert within(120, asyncio.run, scenario()) in (None, 0)
