"""How long an epoch took, by setup, in the studies already run on this machine: the presets and
launch screens turn it into a time estimate for a study.

An epoch's figure is the run's steady pace: the median time between the ends of its epochs from
the second on (the first also pays for warm-up: caches, allocator, a busy moment), not its wall
time over its epochs. What a run spends outside its epochs (start-up, the test pass) is counted
once per run.

The presets screen asks on every return to it, and the launch screen on every open, over every
study on disk (thousands): each study's timings are kept, by the size and time of the files
they come from, and read again only when one of those changed.
"""

from __future__ import annotations

import os
import socket
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import read_rows
from tui_trainer.store.layout import STUDY_FILE
from tui_trainer.store.reader import StudyRecord, read_study, study_dirs
from tui_trainer.store.status import COMPLETED

SetupKey = tuple[str, str, float, int | None]


def setup_key(config: Mapping[str, Any]) -> SetupKey | None:
    """What an epoch's duration depends on most: architecture, dataset, width, input size."""
    model, data = config.get("model"), config.get("data")
    if not isinstance(model, dict) or not isinstance(data, dict):
        return None
    width = model.get("width_mult", 1.0)
    resize = data.get("resize")
    return (
        str(model.get("arch")),
        str(data.get("dataset")),
        float(width) if isinstance(width, (int, float)) else 1.0,
        resize if isinstance(resize, int) else None,
    )


@dataclass(frozen=True)
class SetupTiming:
    """How long a run of one setup took here: per epoch at its steady pace, and once per run."""

    epoch_s: float
    overhead_s: float = 0.0

    def run_seconds(self, epochs: int) -> float:
        return self.overhead_s + self.epoch_s * epochs


def steady_timing(metrics: list[Mapping[str, Any]], wall_time_s: float, epochs: int) -> SetupTiming:
    """A run's steady seconds per epoch: the median of the gaps between its epochs' ends
    (`elapsed_s`), from the second epoch on when there is one; its wall time over its epochs
    when its metrics say nothing. Overhead: the wall time outside the epochs."""
    ends = [
        float(row["elapsed_s"])
        for row in metrics
        if isinstance(row.get("elapsed_s"), (int, float)) and isinstance(row.get("epoch"), int)
    ]
    gaps = [later - earlier for earlier, later in zip([0.0, *ends], ends, strict=False)]
    steady = [gap for gap in gaps[1:] if gap > 0] or [gap for gap in gaps if gap > 0]
    if not steady:
        return SetupTiming(wall_time_s / max(1, epochs))
    return SetupTiming(statistics.median(steady), max(0.0, wall_time_s - ends[-1]))


def setup_timings(
    runs_dir: Path, stopped: Callable[[], bool] = lambda: False
) -> dict[SetupKey, SetupTiming]:
    """The steady timing (steady_timing) of the newest completed run of each setup that ran on
    this host. `stopped` is asked before each study (it may wait): once it says True the
    reading stops there, with what was read so far (each study's timings are kept either way)."""
    host = socket.gethostname()
    timings: dict[SetupKey, SetupTiming] = {}
    for path in study_dirs(runs_dir):  # newest first: the first timing of a setup wins
        if stopped():
            break
        for key, timing in study_timings(path, host):
            timings.setdefault(key, timing)
    return timings


# A study's timings, with the stamps of the files they were read from and the host asked for
_KEPT: dict[Path, tuple[tuple[object, ...], list[tuple[SetupKey, SetupTiming]]]] = {}
# What a run's timing is read from: its state and figures, its setup, its epochs' ends
RUN_FILES = ("status.toml", "summary.toml", "config.toml", "metrics.csv")


def study_timings(path: Path, host: str) -> list[tuple[SetupKey, SetupTiming]]:
    """The timing of each completed run of the study at `path` that ran on `host`, in launch
    order; kept while the files it was read from keep their size and time."""
    stamp = (host, *_stamps(path))
    kept = _KEPT.get(path)
    if kept is not None and kept[0] == stamp:
        return kept[1]
    found = _run_timings(read_study(path), host)
    _KEPT[path] = (stamp, found)
    return found


def _stamps(path: Path) -> list[object]:
    """(size, mtime_ns) of study.toml and of each run directory's RUN_FILES (None where one is
    missing or unreadable)."""
    stamps: list[object] = [_stamp(path / STUDY_FILE)]
    try:
        runs = sorted(entry.path for entry in os.scandir(path) if entry.is_dir())
    except OSError:
        return stamps
    for run in runs:
        stamps.append(tuple(_stamp(Path(run, name)) for name in RUN_FILES))
    return stamps


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    return found.st_size, found.st_mtime_ns


def _run_timings(study: StudyRecord, host: str) -> list[tuple[SetupKey, SetupTiming]]:
    if study.launch.host != host:
        return []
    found = []
    for run in study.runs:
        if run.state != COMPLETED or run.summary is None:
            continue
        wall, epochs = run.summary.wall_time_s, run.summary.epochs
        if wall is None or not epochs or epochs < 0:
            continue
        key = setup_key(read_toml(run.paths.config) or {})
        if key is not None:
            timing = steady_timing(read_rows(run.paths.metrics), float(wall), int(epochs))
            found.append((key, timing))
    return found
