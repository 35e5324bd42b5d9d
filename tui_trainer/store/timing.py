"""How long an epoch took, by setup, in the studies already run on this machine: the presets and
launch screens turn it into a time estimate for a study.

An epoch's figure is the run's steady pace: the median time between the ends of its epochs from
the second on (the first also pays for warm-up: caches, allocator, a busy moment), not its wall
time over its epochs. What a run spends outside its epochs (start-up, the test pass) is counted
once per run.
"""

from __future__ import annotations

import socket
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import read_rows
from tui_trainer.store.reader import list_studies
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


def setup_timings(runs_dir: Path) -> dict[SetupKey, SetupTiming]:
    """The steady timing (steady_timing) of the newest completed run of each setup that ran on
    this host."""
    host = socket.gethostname()
    timings: dict[SetupKey, SetupTiming] = {}
    for study in list_studies(runs_dir):  # newest first: the first timing of a setup wins
        if study.launch.host != host:
            continue
        for run in study.runs:
            if run.state != COMPLETED or run.summary is None:
                continue
            wall, epochs = run.summary.wall_time_s, run.summary.epochs
            if wall is None or not epochs or epochs < 0:
                continue
            key = setup_key(read_toml(run.paths.config) or {})
            if key is not None and key not in timings:
                timings[key] = steady_timing(read_rows(run.paths.metrics), float(wall), int(epochs))
    return timings
