"""`tui-trainer runs` on many studies: the table Rich's Table printed, printed without laying out
each cell through it, and a run's progress read without parsing its metrics.csv where
status.toml already counts every row."""

from __future__ import annotations

import io
import os

from rich.console import Console
from typer.testing import CliRunner

from tests.helpers import fake_study
from tui_trainer.cli import app
from tui_trainer.console.grid import print_grid
from tui_trainer.console.tables import STUDIES_COLUMNS, studies_rows, studies_table
from tui_trainer.store import reader
from tui_trainer.store.atomic import write_toml_atomic
from tui_trainer.store.csvlog import CsvAppender
from tui_trainer.store.reader import list_studies, read_study
from tui_trainer.store.synthetic import write_many_studies


def rich_table_text(studies, width: int = 200) -> str:
    """What `runs` printed before: Rich's Table of the studies, on the console `runs` uses
    when its output is not a terminal (200 columns)."""
    console = Console(file=io.StringIO(), width=width, soft_wrap=False, markup=False)
    console.print(studies_table(studies))
    return console.file.getvalue()


def varied_studies(runs_dir):
    """Rows of every kind beside the generated ones: a failed run whose status a full disk
    left behind its rows, a problem line, a run name of wide characters, no runs at all."""
    root = fake_study(runs_dir, "20270101-000000-full", ["run", "学習率=0.1"], state="failed")
    write_toml_atomic(root / "run" / "status.toml", {"state": "failed", "epoch": 0, "epochs": 3})
    with CsvAppender(root / "run" / "metrics.csv", ["epoch", "val_acc"]) as rows:
        rows.append({"epoch": 1, "val_acc": 0.5})
    fake_study(runs_dir, "20270102-000000-twice", ["a"], launch_runs=["a", "a"])
    fake_study(runs_dir, "20270103-000000-empty", [], launch_runs=[])


def test_runs_on_two_hundred_studies_prints_what_richs_table_printed(tmp_path):
    runs_dir = tmp_path / "runs"
    write_many_studies(runs_dir, 200)
    varied_studies(runs_dir)
    result = CliRunner().invoke(app, ["runs", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    assert result.output == rich_table_text(list_studies(runs_dir))
    lines = result.output.splitlines()
    assert len(lines) == 1 + 200 * 4 + (1 + 2) + (1 + 1 + 1) + 1  # the header, the studies
    assert lines[1].split()[:5] == ["20270103-000000-empty", "unknown", "0/0", "runs", "-"]
    (run_line,) = [line for line in lines if line.startswith("  run ")]
    assert run_line.split() == ["run", "failed", "1/3", "-", "-"]


def test_a_table_too_wide_for_the_console_is_left_to_rich_which_wraps_it(tmp_path):
    runs_dir = tmp_path / "runs"
    write_many_studies(runs_dir, 3)
    studies = list_studies(runs_dir)
    console = Console(file=io.StringIO(), width=50, soft_wrap=False, markup=False)
    print_grid(console, STUDIES_COLUMNS, studies_rows(studies))
    assert console.file.getvalue() == rich_table_text(studies, width=50)
    assert max(len(line) for line in console.file.getvalue().splitlines()) <= 50


def test_a_completed_run_whose_status_was_written_after_its_last_row_is_counted_from_it(
    tmp_path, monkeypatch
):
    """The trainer appends its last row, then writes `completed` with its epoch: a completed
    status.toml newer than metrics.csv already counts every row, so the listing takes its
    figure and parses no CSV."""
    runs_dir = tmp_path / "runs"
    (root,) = write_many_studies(runs_dir, 1)

    def no_csv(path):
        raise AssertionError(f"read {path}")

    monkeypatch.setattr(reader, "read_rows", no_csv)
    assert [run.epoch for run in read_study(root).runs] == [3, 3, 3]


def test_a_stopped_runs_status_newer_than_its_rows_but_behind_them_is_not_believed(tmp_path):
    """The heartbeat rewrote status.toml (epoch 1) while epoch 2's checkpoint was saved, after
    epoch 2's row; the disk filled there and the trainer stopped, `failed`: the run read 2/3."""
    runs_dir = tmp_path / "runs"
    (root,) = write_many_studies(runs_dir, 1)
    run = root / "lr=0.01"
    (run / "metrics.csv").unlink()
    with CsvAppender(run / "metrics.csv", ["epoch", "val_acc"]) as rows:
        rows.append({"epoch": 1, "val_acc": 0.5})
        rows.append({"epoch": 2, "val_acc": 0.6})
    write_toml_atomic(run / "status.toml", {"state": "failed", "epoch": 1, "epochs": 3})
    os.utime(run / "metrics.csv", ns=(1, 1))  # the row long before the heartbeat
    first = read_study(root).runs[0]
    assert (first.state, first.epoch, first.epochs) == ("failed", 2, 3)


def test_on_a_terminal_the_lines_carry_their_styles_and_read_as_richs_table(tmp_path):
    """Colour on: the same characters as Rich's Table, the header bold, states coloured."""
    runs_dir = tmp_path / "runs"
    write_many_studies(runs_dir, 3)
    studies = list_studies(runs_dir)

    def terminal() -> Console:
        return Console(
            file=io.StringIO(), width=200, force_terminal=True, color_system="standard",
            record=True, soft_wrap=False, markup=False,
        )  # fmt: skip

    ours, rich = terminal(), terminal()
    print_grid(ours, STUDIES_COLUMNS, studies_rows(studies))
    rich.print(studies_table(studies))
    assert ours.export_text(clear=False) == rich.export_text(clear=False)
    assert ours.file.getvalue().startswith("\x1b[1mstudy / run")
    assert "\x1b[32mcompleted" in ours.file.getvalue()
