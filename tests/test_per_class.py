"""store/per_class.py against scikit-learn, and store/samples.py's reading of samples.csv."""

from __future__ import annotations

import random
import re

import pytest
from sklearn.metrics import precision_recall_fscore_support

from tui_trainer.store.per_class import (
    UnreadableMatrix,
    macro_average,
    parse_confusion,
    per_class,
    read_confusion,
    worst_confused,
)
from tui_trainer.store.samples import read_samples

# 4 classes: "bird" is never predicted (precision 0/0), "fox" has no test image (recall 0/0)
CONFUSION = """\
true\\predicted,cat,dog,bird,fox
cat,8,2,0,0
dog,1,9,0,0
bird,3,1,0,1
fox,0,0,0,0
"""


def labels_of(counts):
    true = [t for t, row in enumerate(counts) for p, n in enumerate(row) for _ in range(n)]
    predicted = [p for t, row in enumerate(counts) for p, n in enumerate(row) for _ in range(n)]
    return true, predicted


def sklearn_figures(counts):
    true, predicted = labels_of(counts)
    labels = list(range(len(counts)))
    return precision_recall_fscore_support(true, predicted, labels=labels, zero_division=0)


def test_per_class_figures_equal_scikit_learns_with_zero_division_0(tmp_path):
    (tmp_path / "confusion.csv").write_text(CONFUSION)
    matrix = read_confusion(tmp_path / "confusion.csv")
    figures = per_class(matrix)
    precision, recall, f1, support = sklearn_figures(matrix.counts)
    assert [f.name for f in figures] == ["cat", "dog", "bird", "fox"]
    assert [f.precision for f in figures] == pytest.approx(list(precision), abs=1e-12)
    assert [f.recall for f in figures] == pytest.approx(list(recall), abs=1e-12)
    assert [f.f1 for f in figures] == pytest.approx(list(f1), abs=1e-12)
    assert [f.support for f in figures] == [10, 10, 5, 0] == list(support)
    assert figures[0].precision == pytest.approx(8 / 12)  # and the figures are what they seem
    assert (figures[2].precision, figures[3].recall, figures[3].f1) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_random_matrices_of_up_to_100_classes_agree_with_scikit_learn(seed):
    rng = random.Random(seed)
    size = rng.choice([2, 3, 10, 100])
    counts = [[rng.choice([0, 0, 1, 2, 7]) for _ in range(size)] for _ in range(size)]
    names = [f"c{i}" for i in range(size)]
    text = "true\\predicted," + ",".join(names) + "\n"
    text += "".join(
        f"{n}," + ",".join(map(str, row)) + "\n" for n, row in zip(names, counts, strict=True)
    )
    figures = per_class(parse_confusion(text))
    expected = sklearn_figures(counts)
    for column, attribute in enumerate(("precision", "recall", "f1", "support")):
        got = [getattr(figure, attribute) for figure in figures]
        assert got == pytest.approx(list(expected[column]), abs=1e-12)


def test_the_macro_average_is_scikit_learns_macro_average():
    matrix = parse_confusion(CONFUSION)
    true, predicted = labels_of(matrix.counts)
    p, r, f, _ = precision_recall_fscore_support(
        true, predicted, labels=[0, 1, 2, 3], average="macro", zero_division=0
    )
    macro = macro_average(per_class(matrix))
    assert (macro.precision, macro.recall, macro.f1) == pytest.approx((p, r, f), abs=1e-12)
    assert macro.support == 25


def test_the_worst_confused_pairs_are_ranked_by_their_share_of_the_true_class():
    pairs = worst_confused(parse_confusion(CONFUSION), limit=3)
    assert [pair.words() for pair in pairs] == ["bird→cat 60%", "cat→dog 20%", "bird→dog 20%"]
    assert [pair.count for pair in pairs] == [3, 2, 1]
    matrix = parse_confusion(CONFUSION)
    assert (matrix.total, matrix.correct) == (25, 17)


def test_a_run_without_a_confusion_matrix_has_none_yet(tmp_path):
    assert read_confusion(tmp_path / "confusion.csv") is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "confusion.csv: no header of class names"),
        ("true\\predicted,a,b\na,1,2\n", "confusion.csv: 2 predicted classes but 1 rows"),
        ("true\\predicted,a,b\na,1,2\nb,1\n", "confusion.csv:3: 1 counts, not 2"),
        ("true\\predicted,a,b\na,1,x\nb,1,1\n", "confusion.csv:2: a count that is not a whole"),
        ("true\\predicted,a,b\na,1,-1\nb,1,1\n", "confusion.csv:2: a negative count"),
        (
            "true\\predicted,a,b\na,1,1\nb,9223372036854775808,1\n",
            "confusion.csv:3: a count too large for 64 bits",
        ),
    ],
)
def test_a_matrix_that_does_not_parse_says_where_and_why(text, why):
    with pytest.raises(UnreadableMatrix, match="^" + why.replace("\\", "\\\\")):
        parse_confusion(text)


SAMPLES = """\
tile,x,y,width,height,index,true,predicted,probability,kind
0,0,0,8,8,17,cat,cat,0.97,correct
1,8,0,8,8,42,cat,dog,0.83,mistake
2,16,0,8,8,5,dog,dog,bad,correct
3,24,0,8,8,9,bird,fox,0.51,mistake
"""


def test_samples_are_read_mistakes_first_and_a_bad_row_is_left_out(tmp_path):
    (tmp_path / "samples.csv").write_text(SAMPLES)
    tiles = read_samples(tmp_path / "samples.csv")
    assert [(t.tile, t.index, t.caption()) for t in tiles] == [
        (1, 42, "cat→dog 0.83"),
        (3, 9, "bird→fox 0.51"),
        (0, 17, "cat 0.97"),
    ]
    assert tiles[0].box == (8, 0, 16, 8)
    assert read_samples(tmp_path / "missing.csv") is None


def test_show_prints_the_per_class_table_and_a_matrix_whose_diagonal_reads_without_colour(
    runs_dir,
):
    from typer.testing import CliRunner

    from tests.helpers import fake_study
    from tui_trainer.cli import app

    study = fake_study(runs_dir, "20260101-000000-x", ["run"])
    (study / "run" / "confusion.csv").write_text(CONFUSION)
    result = CliRunner().invoke(app, ["show", "latest/run", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    start = lines.index("test split, per class")
    assert lines[start + 1 : start + 8] == [
        "25 test images, 17 right (68.00%)",
        "class      precision  recall      f1  support",
        "cat           0.6667  0.8000  0.7273       10",
        "dog           0.7500  0.9000  0.8182       10",
        "bird          0.0000  0.0000  0.0000        5",
        "fox           0.0000  0.0000  0.0000        0",
        "macro avg     0.3542  0.4250  0.3864       25",
    ]
    matrix = lines.index("confusion matrix (rows: true class; [n]: right)")
    assert lines[matrix + 1 : matrix + 6] == [
        "true \\ predicted    0    1    2    3",
        "0 cat             [8]    2    ·    ·",
        "1 dog               1  [9]    ·    ·",
        "2 bird              3    1  [0]    1",
        "3 fox               ·    ·    ·  [0]",
    ]
    assert "bird→cat 60% (3)  cat→dog 20% (2)" in result.output


def test_show_of_a_run_still_training_says_when_its_figures_appear(runs_dir):
    from typer.testing import CliRunner

    from tests.helpers import fake_study
    from tui_trainer.cli import app

    fake_study(runs_dir, "20260101-000000-x", ["run"], state="running")
    result = CliRunner().invoke(app, ["show", "latest/run", "--runs-dir", str(runs_dir)])
    assert "appears when the run ends, after its test evaluation" in result.output


def test_export_plots_adds_the_best_runs_confusion_png_and_one_per_run(runs_dir, tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from tui_trainer.cli import app
    from tui_trainer.store.synthetic import write_synthetic_study
    from tui_trainer.store.synthetic_test_split import write_synthetic_test_split

    study = write_synthetic_study(runs_dir)
    for run in ("lr=0.01", "lr=0.05"):  # lr=0.5 has none, as a run that never tested
        write_synthetic_test_split(study / run, cam=False)
    plots = tmp_path / "plots"
    result = CliRunner().invoke(
        app, ["export", "latest", "--plots", str(plots), "--runs-dir", str(runs_dir)]
    )
    assert result.exit_code == 0, result.output
    written = sorted(path.name for path in plots.glob("confusion*.png"))
    assert written == ["confusion-lr=0.01.png", "confusion-lr=0.05.png", "confusion.png"]
    assert (plots / "confusion.png").read_bytes() == (plots / "confusion-lr=0.01.png").read_bytes()
    with Image.open(plots / "confusion.png") as image:
        assert image.size == (840, 756)  # 7 x 6.3 inches at 120 dpi: 10 classes


def test_show_of_100_classes_keeps_the_table_and_pairs_and_says_where_the_matrix_is(runs_dir):
    from typer.testing import CliRunner

    from tests.helpers import fake_study
    from tui_trainer.cli import app
    from tui_trainer.store.synthetic_test_split import synthetic_confusion, write_confusion_csv

    study = fake_study(runs_dir, "20260101-000000-x", ["run"])
    names = [f"class{i}" for i in range(100)]
    counts = synthetic_confusion(100)
    write_confusion_csv(study / "run" / "confusion.csv", names, counts)
    result = CliRunner().invoke(app, ["show", "latest/run", "--runs-dir", str(runs_dir)])
    lines = [line.rstrip() for line in result.output.splitlines()]
    rows = [line for line in lines if re.match(r"^class\d+ +\d\.\d{4} +\d\.\d{4}", line)]
    precision, recall, f1, _ = sklearn_figures(counts)
    expected = [f"{precision[99]:.4f}", f"{recall[99]:.4f}", f"{f1[99]:.4f}", "1000"]
    assert len(rows) == 100 and rows[99].split() == ["class99", *expected]
    assert (
        "100 classes: too wide to print; the whole matrix is in confusion.csv and on the "
        "inspect screen (`i` in the monitor)" in lines
    )
    assert "class3→class5 16% (160)  class5→class3 11% (110)" in result.output


def huge_counts_matrix(classes: int = 10, digits: int = 4299) -> str:
    """Every count just under Python's int-string limit (4300 digits): their sums are over it."""
    big = "9" * digits
    header = "true\\predicted," + ",".join(f"c{i}" for i in range(classes))
    rows = [f"c{i}," + ",".join([big] * classes) for i in range(classes)]
    return "\n".join([header, *rows]) + "\n"


def test_show_of_counts_of_thousands_of_digits_says_which_line_instead_of_a_traceback(runs_dir):
    from typer.testing import CliRunner

    from tests.helpers import fake_study
    from tui_trainer.cli import app

    study = fake_study(runs_dir, "20260101-000000-x", ["run"])
    (study / "run" / "confusion.csv").write_text(huge_counts_matrix())
    result = CliRunner().invoke(app, ["show", "latest/run", "--runs-dir", str(runs_dir)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    start = lines.index("test split, per class")
    assert lines[start + 1] == (
        f"{study / 'run' / 'confusion.csv'}:2: a count too large for 64 bits"
    )


def test_a_tile_whose_box_is_empty_or_beyond_any_sheet_is_left_out(tmp_path):
    huge = "9" * 5000  # past int()'s limit
    (tmp_path / "samples.csv").write_text(
        SAMPLES.splitlines(keepends=True)[0]
        + "0,0,0,8,8,17,cat,cat,0.97,correct\n"
        + "1,8,0,8,0,42,cat,dog,0.83,mistake\n"  # no height
        + "2,16399,0,8,8,5,dog,dog,0.9,correct\n"  # right of the widest sheet
        + "3,0,8192,8,8,9,bird,fox,0.51,mistake\n"  # below the tallest
        + f"4,0,{huge},8,8,9,bird,fox,0.51,mistake\n"
    )
    assert [t.tile for t in read_samples(tmp_path / "samples.csv")] == [0]


def test_a_matrix_of_classes_named_by_their_number_labels_each_row_once_never_0_0(runs_dir):
    from typer.testing import CliRunner

    from tests.helpers import fake_study
    from tui_trainer.cli import app

    study = fake_study(runs_dir, "20260101-000000-x", ["run"])
    (study / "run" / "confusion.csv").write_text(
        "true\\predicted,0,1,2\n0,5,1,0\n1,0,6,0\n2,2,0,4\n"
    )
    result = CliRunner().invoke(app, ["show", "latest/run", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    matrix = lines.index("confusion matrix (rows: true class; [n]: right)")
    assert lines[matrix + 1 : matrix + 5] == [
        "true \\ predicted    0    1    2",
        "0                 [5]    1    ·",
        "1                   ·  [6]    ·",
        "2                   2    ·  [4]",
    ]
