"""The figures people put in reports: `export --plots` and `compare --plots`, their titles, their
formats (PNG, PDF, SVG, told apart by their headers), the confusion matrix's diagonal, and the
write guard and the missing-matplotlib line over every format."""

from __future__ import annotations

import itertools
import sys

import pytest
from typer.testing import CliRunner

from tests.test_per_class import CONFUSION  # bird never right, fox with no test image
from tui_trainer.cli import app
from tui_trainer.store.synthetic import write_synthetic_study

pytest.importorskip("matplotlib")

runner = CliRunner()
HEADERS = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<?xml"}


@pytest.fixture
def kept_figures(monkeypatch):
    """Every figure drawn, kept open (plt.close does not drop it) so that a test reads it."""
    import matplotlib.pyplot as plt

    figures: list = []
    monkeypatch.setattr(plt, "close", figures.append)
    return figures


def titles(figures) -> list[str]:
    return [figure.axes[0].get_title() for figure in figures]


def test_every_diagonal_count_is_written_zeros_included_and_no_other_zero(kept_figures):
    from tui_trainer.console.confusion_plot import confusion_figure
    from tui_trainer.store.per_class import parse_confusion

    figure = confusion_figure(parse_confusion(CONFUSION), "t")
    written = {
        (int(t.get_position()[1]), int(t.get_position()[0])): t.get_text()
        for t in figure.axes[0].texts
    }
    assert written == {
        (0, 0): "8", (0, 1): "2",
        (1, 0): "1", (1, 1): "9",
        (2, 0): "3", (2, 1): "1", (2, 2): "0", (2, 3): "1",
        (3, 3): "0",
    }  # fmt: skip
    # (true, predicted): bird's and fox's 0 on the diagonal, every other 0 blank


def test_each_diagonal_cell_is_outlined_by_a_box_of_its_own_not_a_staircase(kept_figures):
    from matplotlib.patches import Rectangle

    from tui_trainer.console.confusion_plot import confusion_figure
    from tui_trainer.store.per_class import parse_confusion

    figure = confusion_figure(parse_confusion(CONFUSION), "t")
    boxes = [
        (round(p.get_x(), 2), round(p.get_y(), 2), p.get_width(), p.get_height())
        for p in figure.axes[0].patches
        if isinstance(p, Rectangle)
    ]
    assert boxes == [(round(i - 0.42, 2), round(i - 0.42, 2), 0.84, 0.84) for i in range(4)]
    # neighbours do not touch: box i ends 0.16 of a cell before box i+1 begins
    assert all(b[0] + b[2] < n[0] for b, n in itertools.pairwise(boxes))


@pytest.fixture
def study(tmp_path):
    """A finished two-run study whose lr=0.05 has a test confusion matrix (CONFUSION)."""
    runs_dir = tmp_path / "runs"
    study = write_synthetic_study(runs_dir, "20261122-120000-a-lr", (0.01, 0.05), epochs=4)
    (study / "lr=0.05" / "confusion.csv").write_text(CONFUSION)
    return study


def test_export_titles_name_the_study_and_what_each_figure_shows(study, tmp_path, kept_figures):
    result = runner.invoke(app, ["export", str(study), "--plots", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output
    assert titles(kept_figures) == [
        "a-lr: loss (train solid, validation dashed)",
        "a-lr: accuracy (train solid, validation dashed)",
        "a-lr: learning rate",
        "a-lr: test confusion matrix of lr=0.05\n25 test images, 68.00% right",
        "a-lr: test confusion matrix of lr=0.05\n25 test images, 68.00% right",
    ]


def test_title_sets_the_figures_title_before_what_each_shows(study, tmp_path, kept_figures):
    result = runner.invoke(
        app,
        ["export", str(study), "--plots", str(tmp_path / "plots"), "--title", "Figure 3"],
    )
    assert result.exit_code == 0, result.output
    assert [title.splitlines()[0] for title in titles(kept_figures)] == [
        "Figure 3: loss (train solid, validation dashed)",
        "Figure 3: accuracy (train solid, validation dashed)",
        "Figure 3: learning rate",
        "Figure 3: test confusion matrix of lr=0.05",
        "Figure 3: test confusion matrix of lr=0.05",
    ]


def test_export_writes_every_figure_in_each_format_asked_for(study, tmp_path):
    plots = tmp_path / "plots"
    result = runner.invoke(
        app,
        ["export", str(study), "--plots", str(plots), "--plot-format", "pdf",
         "--plot-format", "svg", "--plot-format", "pdf"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stems = ["accuracy", "confusion", "confusion-lr=0.05", "loss", "lr"]
    assert sorted(p.name for p in plots.iterdir()) == [
        ".tui-trainer-wrote.json",
        *sorted(f"{stem}.{form}" for stem in stems for form in ("pdf", "svg")),
    ]
    for path in plots.glob("*.*"):
        if path.suffix in (".pdf", ".svg"):
            assert path.read_bytes().startswith(HEADERS[path.suffix[1:]]), path.name
    assert b"<svg" in (plots / "loss.svg").read_bytes()[:1000]


@pytest.mark.parametrize("command", ["export", "compare"])
def test_the_write_guard_keeps_a_users_pdf_that_a_figure_would_replace(command, study, tmp_path):
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "accuracy.pdf").write_bytes(b"the user's own")
    table = tmp_path / "table.md"
    result = runner.invoke(
        app,
        [command, str(study), "--plots", str(plots), "--plot-format", "pdf", "-o", str(table)],
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: --plots {plots}: {plots / 'accuracy.pdf'} already there, not written by "
        "tui-trainer; nothing is replaced (move them away or choose another folder)"
    ]
    assert [p.name for p in plots.iterdir()] == ["accuracy.pdf"] and not table.exists()


@pytest.mark.parametrize("command", ["export", "compare"])
def test_without_matplotlib_plots_say_how_to_install_it_exit_3_and_write_nothing(
    command, study, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    table, plots = tmp_path / "table.md", tmp_path / "plots"
    result = runner.invoke(app, [command, str(study), "--plots", str(plots), "-o", str(table)])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == [
        "error: --plots needs matplotlib: pip install 'tui-trainer[plots]' "
        "(or pip install matplotlib)"
    ]
    assert not table.exists() and not plots.exists()


def test_dollar_signs_in_a_title_or_a_class_name_are_drawn_as_written_not_parsed_as_tex(
    study, tmp_path, kept_figures
):
    confusion = study / "lr=0.05" / "confusion.csv"
    confusion.write_text(CONFUSION.replace("cat", "$\\frac$"))
    result = runner.invoke(
        app, ["export", str(study), "--plots", str(tmp_path / "plots"), "--title", "$\\frac$"]
    )
    assert result.exit_code == 0, result.output
    assert titles(kept_figures)[0] == "$\\frac$: loss (train solid, validation dashed)"
    classes = [label.get_text() for label in kept_figures[3].axes[0].get_xticklabels()]
    assert classes == ["$\\frac$", "dog", "bird", "fox"]


def test_a_full_disk_under_the_table_is_exit_3_with_its_line(study):
    result = runner.invoke(app, ["export", str(study), "-o", "/dev/full"])
    assert result.exit_code == 3
    assert result.stderr == "error: --output /dev/full: cannot write it: No space left on device\n"


def test_a_full_disk_under_the_figures_is_exit_3_with_its_line(study, tmp_path, monkeypatch):
    import errno

    from matplotlib.figure import Figure

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    plots = tmp_path / "plots"
    result = runner.invoke(app, ["export", str(study), "--plots", str(plots)])
    assert result.exit_code == 3
    assert result.stderr == f"error: cannot write plots into {plots}: No space left on device\n"


@pytest.mark.parametrize("command", ["export", "compare"])
def test_plot_format_or_title_without_plots_is_refused_not_ignored(command, study, tmp_path):
    table = tmp_path / "table.md"
    args = [command, str(study), "--plot-format", "pdf", "--title", "Figure 3", "-o", str(table)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr == ("error: --plot-format and --title: no figures without --plots DIR\n")
    assert not table.exists()


# -- compare -------------------------------------------------------------------------------------


@pytest.fixture
def two_studies(tmp_path):
    runs_dir = tmp_path / "runs"
    write_synthetic_study(runs_dir, "20261122-120000-a-lr", (0.01, 0.05))
    write_synthetic_study(runs_dir, "20261123-120000-b-lr", (0.5,), epochs=10)
    return runs_dir


def test_compare_prints_the_apps_compare_table_as_markdown(two_studies):
    result = runner.invoke(app, ["compare", "a-lr", "b-lr", "--runs-dir", str(two_studies)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "| study | run | optim.lr | train.epochs | state | epochs | train loss | train acc "
        "| val loss | val acc | best val acc | best epoch | test loss | test acc | test top-5 "
        "| precision | recall | time (s) |"
    )
    assert [line.split(" | ")[:4] for line in lines[2:]] == [
        ["| 20261122-120000-a-lr", "lr=0.01", "0.01", "15"],
        ["| 20261122-120000-a-lr", "lr=0.05", "0.05", "15"],
        ["| 20261123-120000-b-lr", "lr=0.5", "0.5", "10"],
    ]


def test_compare_writes_csv_and_one_run_of_a_study_named_study_slash_run(two_studies, tmp_path):
    import csv

    out = tmp_path / "compare.csv"
    result = runner.invoke(
        app,
        ["compare", "a-lr/lr=0.05", "b-lr", "-f", "csv", "-o", str(out),
         "--runs-dir", str(two_studies)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == f"wrote {out}\n"
    rows = list(csv.DictReader(out.open()))
    assert [(r["study"], r["run"], r["optim.lr"], r["best val acc"]) for r in rows] == [
        ("20261122-120000-a-lr", "lr=0.05", "0.05", "0.525000"),
        ("20261123-120000-b-lr", "lr=0.5", "0.5", "0.564600"),
    ]


def test_compare_plots_overlay_every_run_labelled_study_slash_run(
    two_studies, tmp_path, kept_figures
):
    plots = tmp_path / "plots"
    result = runner.invoke(
        app,
        ["compare", "a-lr", "b-lr", "--plots", str(plots), "--plot-format", "svg",
         "--runs-dir", str(two_studies)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in plots.iterdir()) == [
        ".tui-trainer-wrote.json",
        "accuracy.svg",
        "loss.svg",
        "lr.svg",
    ]
    assert titles(kept_figures)[2] == "a-lr vs b-lr: learning rate"
    legend = [t.get_text() for t in kept_figures[2].axes[0].get_legend().get_texts()]
    assert legend == [
        "20261122-120000-a-lr/lr=0.01",
        "20261122-120000-a-lr/lr=0.05",
        "20261123-120000-b-lr/lr=0.5",
    ]


def test_compare_refuses_a_run_named_twice_and_writes_nothing(two_studies, tmp_path):
    out = tmp_path / "compare.md"
    result = runner.invoke(
        app, ["compare", "a-lr", "a-lr/lr=0.01", "-o", str(out), "--runs-dir", str(two_studies)]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "error: compare: 20261122-120000-a-lr/lr=0.01 is named twice; name it once\n"
    )
    assert not out.exists()


def test_compare_is_listed_after_export_in_help():
    commands = [
        line.split()[1]
        for line in runner.invoke(app, ["--help"], env={"COLUMNS": "100"}).stdout.splitlines()
        if line.startswith("│ ") and len(line.split()) > 2 and line[2] != " "
    ]
    assert commands[commands.index("export") + 1] == "compare"
