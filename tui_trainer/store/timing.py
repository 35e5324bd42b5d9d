"""How long an epoch took, by setup, in the studies already run on this machine: the presets
screen turns it into a time estimate for a study."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tui_trainer.store.atomic import read_toml
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


def epoch_seconds(runs_dir: Path) -> dict[SetupKey, float]:
    """Seconds per epoch (training and validation) of the newest completed run of each setup
    that ran on this host."""
    host = socket.gethostname()
    timings: dict[SetupKey, float] = {}
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
                timings[key] = float(wall) / int(epochs)
    return timings
