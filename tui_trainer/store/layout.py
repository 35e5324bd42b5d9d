"""Names and paths of the run directory (see DESIGN.md):

runs/<study-id>/study.toml, trainer.log, <run-id>/{config,status,summary}.toml,
<run-id>/{metrics,steps,confusion}.csv, <run-id>/checkpoints/, and <run-id>/worker.log when
the run trains in a worker process of its own (a study with parallel jobs); what a run needs to be
used without its dataset (<run-id>/inputs.toml) and what it shows of its test split at its end
(<run-id>/predictions.csv, <run-id>/samples.{png,csv}, <run-id>/samples_cam.png)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tui_trainer.printable import printable

STUDY_FILE = "study.toml"
TRAINER_LOG = "trainer.log"
CONFIG_FILE = "config.toml"
STATUS_FILE = "status.toml"
METRICS_FILE = "metrics.csv"
STEPS_FILE = "steps.csv"
SUMMARY_FILE = "summary.toml"
CONFUSION_FILE = "confusion.csv"
INPUTS_FILE = "inputs.toml"  # class names, image size, resize, the mean/std used
PREDICTIONS_FILE = "predictions.csv"  # one row per test image
SAMPLES_IMAGE = "samples.png"  # a sheet of test images at their stored size
SAMPLES_FILE = "samples.csv"  # which tile of the sheet is which image
SAMPLES_CAM_IMAGE = "samples_cam.png"  # the same sheet, each tile its activation map
CHECKPOINTS_DIR = "checkpoints"
WORKER_LOG = "worker.log"  # a worker's own output (train/worker.py), in its run directory
# the study's trainer asks the run's trainer to stop it early (store/stop_request.py)
STOP_REQUEST_FILE = "stop-request.toml"

_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9_+=,.-]+$")


def is_safe_name(name: str) -> bool:
    """A single path component that stays inside its parent: no separators, not '.' or '..'."""
    return bool(_SAFE_NAME_RE.match(name)) and name not in (".", "..") and len(name) <= 200


def study_id_for(name: str, when: datetime) -> str:
    """`<yyyymmdd-hhmmss>-<preset name>`, sortable by launch time."""
    return f"{when:%Y%m%d-%H%M%S}-{name}"


def create_study_dir(runs_dir: Path, name: str, when: datetime | None = None) -> Path:
    """Create a new, empty study directory. Two studies started in the same second get distinct
    directories (`-2`, `-3`, ...): creation is an exclusive mkdir, so racing trainers never
    share one."""
    when = when or datetime.now()
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    base = study_id_for(name, when)
    for attempt in range(1, 1000):
        candidate = runs_dir / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"too many studies named {base} in {runs_dir}")


@dataclass(frozen=True)
class RunPaths:
    """The files of one run of a study."""

    root: Path

    @property
    def name(self) -> str:
        return printable(self.root.name)

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def status(self) -> Path:
        return self.root / STATUS_FILE

    @property
    def metrics(self) -> Path:
        return self.root / METRICS_FILE

    @property
    def steps(self) -> Path:
        return self.root / STEPS_FILE

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY_FILE

    @property
    def confusion(self) -> Path:
        return self.root / CONFUSION_FILE

    @property
    def inputs(self) -> Path:
        return self.root / INPUTS_FILE

    @property
    def predictions(self) -> Path:
        return self.root / PREDICTIONS_FILE

    @property
    def samples_image(self) -> Path:
        return self.root / SAMPLES_IMAGE

    @property
    def samples(self) -> Path:
        return self.root / SAMPLES_FILE

    @property
    def samples_cam_image(self) -> Path:
        return self.root / SAMPLES_CAM_IMAGE

    @property
    def stop_request(self) -> Path:
        return self.root / STOP_REQUEST_FILE

    @property
    def worker_log(self) -> Path:
        return self.root / WORKER_LOG

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS_DIR


@dataclass(frozen=True)
class StudyPaths:
    """The files of a study directory."""

    root: Path

    @property
    def id(self) -> str:
        """The study's id, as shown: its directory's name, made printable."""
        return printable(self.root.name)

    @property
    def study(self) -> Path:
        return self.root / STUDY_FILE

    @property
    def log(self) -> Path:
        return self.root / TRAINER_LOG

    def run(self, name: str) -> RunPaths:
        if not is_safe_name(name):
            raise ValueError(f"unsafe run name {name!r}")
        return RunPaths(self.root / name)
