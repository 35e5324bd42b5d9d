"""What the inspect screen shows of a run, read in one go, off the UI thread.

A confusion.csv of 1000 classes takes about a second to parse and rank, and a run directory can
hold anything: store/ refuses what is not a regular file and bounds what it reads, and what a
reader still cannot use is said, never raised. So the screen calls read_inspected() in a thread
worker and shows what it returns; no file of the run is opened on the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_trainer.printable import printable
from tui_trainer.store import status as st
from tui_trainer.store.layout import RunPaths
from tui_trainer.store.per_class import (
    ClassFigures,
    ConfusedPair,
    ConfusionMatrix,
    UnreadableMatrix,
    per_class,
    read_confusion,
    worst_confused,
)
from tui_trainer.store.reader import read_run
from tui_trainer.store.samples import SheetTile, UnreadableSamples, read_samples


@dataclass(frozen=True)
class InspectedRun:
    """A run's state and test-split files as read, with the figures derived from them."""

    state: str = st.UNKNOWN
    epoch: int = 0
    epochs: int | None = None
    matrix: ConfusionMatrix | None = None
    figures: tuple[ClassFigures, ...] = ()
    worst: tuple[ConfusedPair, ...] = ()
    tiles: tuple[SheetTile, ...] | None = None  # None: no samples.csv (yet), or unreadable
    unreadable: str = ""  # why the matrix, or the run, could not be read: `unreadable: <why>`
    samples_unreadable: str = ""  # why samples.csv could not be read


def read_inspected(paths: RunPaths, study_id: str, worst: int) -> InspectedRun:
    """The run at `paths` as the inspect screen shows it; what no reader could use is in
    `unreadable`, never raised."""
    try:
        run = read_run(study_id, paths, summary=False)
        unreadable = ""
        try:
            matrix = read_confusion(paths.confusion)
        except UnreadableMatrix as error:
            matrix, unreadable = None, f"unreadable: {error}"
        samples_unreadable = ""
        try:
            tiles = read_samples(paths.samples)
        except UnreadableSamples as error:
            tiles, samples_unreadable = None, f"unreadable: {error}"
        return InspectedRun(
            state=run.state,
            epoch=run.epoch,
            epochs=run.epochs,
            matrix=matrix,
            figures=tuple(per_class(matrix)) if matrix is not None else (),
            worst=tuple(worst_confused(matrix, worst)) if matrix is not None else (),
            tiles=None if tiles is None else tuple(tiles),
            unreadable=unreadable,
            samples_unreadable=samples_unreadable,
        )
    except (OSError, ValueError) as error:  # what a reader let through: said, not raised
        return InspectedRun(unreadable=f"unreadable: {printable(str(error), limit=200)}")
