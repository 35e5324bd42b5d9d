"""Per-class figures of a run's test split, computed from its confusion.csv alone.

The trainer writes only the matrix (train/metrics.py write_confusion: a header
`true\\predicted,<class>,...`, then one row per true class, its name and then one count per
predicted class); everything else a reader shows is derived here, so `show`, `export` and the
inspect screen agree and an older run's matrix gives the same figures as a new one's. Precision,
recall and F1 follow scikit-learn's `precision_recall_fscore_support(zero_division=0)`: a class
never predicted has precision 0, a class absent from the test split has recall 0.

A count has the bound of metrics.csv's integers (store/csvlog.py INT_LIMIT: under 2**63): a count
of thousands of digits is refused with its line, since the sums of such counts would pass Python's
int-string limit (4300 digits) wherever a reader prints a total.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from tui_trainer.printable import printable
from tui_trainer.store.csvlog import INT_LIMIT
from tui_trainer.store.files import read_limited

MAX_CONFUSION_BYTES = 64 * 1024 * 1024  # 1000 classes of 9-digit counts is ~10 MB


class UnreadableMatrix(ValueError):
    """confusion.csv exists but is not a square matrix of counts; says where and why."""


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts of test images by true class (rows) and predicted class (columns)."""

    classes: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    @property
    def total(self) -> int:
        return sum(map(sum, self.counts))

    @property
    def correct(self) -> int:
        return sum(self.counts[i][i] for i in range(len(self.classes)))

    def support(self, true: int) -> int:
        """Test images of class `true`."""
        return sum(self.counts[true])

    def predicted(self, column: int) -> int:
        """Test images predicted as class `column`."""
        return sum(row[column] for row in self.counts)

    def row_share(self, true: int, predicted: int) -> float:
        """The fraction of class `true`'s images predicted as `predicted` (0 for an empty row):
        the row-normalised matrix, whose diagonal is each class's recall."""
        support = self.support(true)
        return self.counts[true][predicted] / support if support else 0.0


def class_label(number: int, name: str, width: int = 0) -> str:
    """A class as a matrix row names it: its number and name (`3 cat`), or the number alone
    when the name is that number (the digits' classes): never `0 0`. `width` right-aligns the
    number."""
    index = f"{number:>{width}}"
    return index if name == str(number) else f"{index} {name}"


@dataclass(frozen=True)
class ClassFigures:
    """One class's precision, recall, F1 and support (test images of that class)."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ConfusedPair:
    """Images of class `true` predicted as `predicted`: `count` of them, `share` of the class."""

    true: str
    predicted: str
    count: int
    share: float

    def words(self) -> str:
        """`cat→dog 16%` (`<1%` for a share that would round to 0%)"""
        return f"{self.true}\u2192{self.predicted} {percent(self.share)}"


def percent(share: float) -> str:
    """`16%`; `<1%` for a share above 0 that would round to `0%` (which reads as none)."""
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def parse_confusion(text: str, source: str = "confusion.csv") -> ConfusionMatrix:
    """The matrix of a confusion.csv's text. Raises UnreadableMatrix (naming `source` and the
    line) when the header and rows do not make a square matrix of non-negative counts."""
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if not rows or len(rows[0]) < 2:
        raise UnreadableMatrix(f"{source}: no header of class names")
    classes = tuple(printable(name, limit=40) for name in rows[0][1:])
    body = rows[1:]
    if len(body) != len(classes):
        raise UnreadableMatrix(
            f"{source}: {len(classes)} predicted classes but {len(body)} rows of true classes"
        )
    counts: list[tuple[int, ...]] = []
    for line, row in enumerate(body, start=2):
        if len(row) != len(classes) + 1:
            raise UnreadableMatrix(f"{source}:{line}: {len(row) - 1} counts, not {len(classes)}")
        try:
            values = tuple(int(cell) for cell in row[1:])
        except ValueError:
            raise UnreadableMatrix(f"{source}:{line}: a count that is not a whole number") from None
        if min(values) < 0:
            raise UnreadableMatrix(f"{source}:{line}: a negative count")
        if max(values) >= INT_LIMIT:
            raise UnreadableMatrix(f"{source}:{line}: a count too large for 64 bits")
        counts.append(values)
    return ConfusionMatrix(classes, tuple(counts))


def read_confusion(path: Path) -> ConfusionMatrix | None:
    """The run's test confusion matrix; None while it has none (a run writes it at its end,
    after the test evaluation). Raises UnreadableMatrix when the file is there but unusable."""
    try:
        data = read_limited(path, MAX_CONFUSION_BYTES)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UnreadableMatrix(f"{printable(str(path))}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableMatrix(f"{printable(str(path))}: not UTF-8 text") from None
    return parse_confusion(text, printable(str(path)))


def per_class(matrix: ConfusionMatrix) -> list[ClassFigures]:
    """Precision, recall, F1 and support of every class, in the matrix's order; a figure whose
    denominator is 0 is 0 (scikit-learn's zero_division=0). F1 is 2tp / (2tp + fp + fn), which
    is scikit-learn's formula and 0 whenever tp is."""
    figures = []
    for index, name in enumerate(matrix.classes):
        tp = matrix.counts[index][index]
        support = matrix.support(index)
        predicted = matrix.predicted(index)
        fp, fn = predicted - tp, support - tp
        figures.append(
            ClassFigures(
                name=name,
                precision=tp / predicted if predicted else 0.0,
                recall=tp / support if support else 0.0,
                f1=2 * tp / (2 * tp + fp + fn) if tp else 0.0,
                support=support,
            )
        )
    return figures


def macro_average(figures: list[ClassFigures]) -> ClassFigures:
    """The unweighted mean of every class's figures (scikit-learn's average='macro'), support
    summed: one class that is never right weighs as much as a common one."""
    count = len(figures) or 1
    return ClassFigures(
        name="macro avg",
        precision=sum(f.precision for f in figures) / count,
        recall=sum(f.recall for f in figures) / count,
        f1=sum(f.f1 for f in figures) / count,
        support=sum(f.support for f in figures),
    )


def worst_confused(matrix: ConfusionMatrix, limit: int = 10) -> list[ConfusedPair]:
    """The off-diagonal cells with the largest share of their true class, most first (then the
    most images, then the matrix's order): where the model goes wrong most often."""
    pairs = [
        ConfusedPair(true, predicted, count, matrix.row_share(t, p))
        for t, true in enumerate(matrix.classes)
        for p, predicted in enumerate(matrix.classes)
        if t != p and (count := matrix.counts[t][p]) > 0
    ]
    pairs.sort(key=lambda pair: (-pair.share, -pair.count))  # stable: the matrix's order next
    return pairs[:limit]
