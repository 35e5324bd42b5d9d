"""The figures' files: which formats there are, how each is named, and matplotlib itself.

One place decides a figure's file names, so that the names `export` and `compare` hand the write
guard before writing (write_guard.py) are the names then written, in every format. matplotlib
is an optional dependency (the `plots` extra): asking for a figure without it is one line saying
how to install it, before anything is written. Text in the figures is drawn as written, never
parsed as TeX.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui_trainer.errors import UnavailableError


def pyplot() -> Any:
    """matplotlib's pyplot drawing off screen (Agg), or an UnavailableError (exit 3: the
    machine lacks it, the command was right) saying how to install it: it is an optional
    dependency (the `plots` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        # every text drawn is a name as written (a --title, a run, a class from confusion.csv):
        # `$\frac$` in one is not TeX to parse, and never a traceback when it does not parse
        matplotlib.rcParams["text.parse_math"] = False
        import matplotlib.pyplot as plt
    except ImportError:
        raise UnavailableError(
            "--plots needs matplotlib: pip install 'tui-trainer[plots]' (or pip install matplotlib)"
        ) from None
    return plt


def figure_names(stems: Sequence[str], formats: Sequence[str]) -> list[str]:
    """Every file of the figures `stems` in each of `formats`: loss.png, loss.pdf, ..."""
    return [f"{stem}.{form}" for stem in stems for form in formats]


def save_figure(figure: Any, directory: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    """Write `figure` as directory/<stem>.<format> for each of `formats`, then close it."""
    plt = pyplot()
    written = []
    try:
        for form in formats:
            path = directory / f"{stem}.{form}"
            # no creation date in a PDF or SVG: the same figures give the same bytes
            figure.savefig(path, format=form, metadata=_fixed_metadata(form))
            written.append(path)
    finally:
        plt.close(figure)
    return written


def _fixed_metadata(form: str) -> dict[str, Any] | None:
    if form == "pdf":
        return {"CreationDate": None}
    if form == "svg":
        return {"Date": None}
    return None
