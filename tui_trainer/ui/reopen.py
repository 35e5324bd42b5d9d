"""Which study the app opens by itself when it starts: the newest one still training, or still
being started.

A launched trainer takes seconds to import torch and load the data before it writes
study.toml; until then its study directory holds only trainer.log, and the studies listed
(those with a study.toml) do not include it. So an app quit a moment after a launch and started
again would not find the study it had just launched. The trainer's own command line names the
directory (`python -m tui_trainer run PRESET ... --into DIR`, launch.trainer_command): a study
directory without study.toml whose trainer is alive is being started, and is opened too; so is
a study whose study.toml names a live trainer while its runs still read queued. The processes
are looked at once, at start, and only when such a directory is there. No torch,
no textual."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil

from tui_trainer.store import status as st
from tui_trainer.store.layout import STUDY_FILE, TRAINER_LOG
from tui_trainer.store.reader import read_study, study_dirs

LIVE = (st.RUNNING, st.STALLED)


def study_to_reopen(runs_dir: Path, stopped: Callable[[], bool] = lambda: False) -> Path | None:
    """The newest study under `runs_dir` that is running (or stalled), or whose trainer is
    alive (its runs still queued while it loads), or has not even written study.toml yet; None
    when there is none, or when `stopped` (asked before each study) says True. The studies are
    read newest first, up to the first live one."""
    found = []
    for path in study_dirs(runs_dir):
        if stopped():
            return None
        study = read_study(path, summaries=False)
        if study.state in LIVE or st.live_trainer(study.trainers) is not None:
            found.append(study.paths.root)
            break
    found += starting_studies(runs_dir)
    return max(found, key=lambda path: path.name, default=None)


def starting_studies(runs_dir: Path) -> list[Path]:
    """Study directories without a study.toml yet, with a trainer.log, that a live trainer
    was started into (its command line says `--into` that directory)."""
    try:
        candidates = [
            path.absolute()
            for path in Path(runs_dir).iterdir()
            if path.is_dir()
            and not path.is_symlink()
            and not (path / STUDY_FILE).exists()
            and (path / TRAINER_LOG).is_file()
        ]
    except OSError:
        return []
    if not candidates:
        return []
    into = set(_trainer_targets(psutil.process_iter(["cmdline"])))
    return [path for path in candidates if path in into]


def _trainer_targets(processes: Iterable[psutil.Process]) -> Iterable[Path]:
    """The `--into` directory of every `-m tui_trainer` process that this user may read."""
    for process in processes:
        try:
            command = process.info.get("cmdline") or []
        except (psutil.Error, AttributeError):
            continue
        pairs = list(itertools.pairwise(command))
        if ("-m", "tui_trainer") not in pairs:
            continue
        for flag, value in pairs:
            if flag == "--into":
                yield _absolute(Path(value), process)


def _absolute(path: Path, process: psutil.Process) -> Path:
    """`path` as the trainer meant it: a relative one is relative to its working directory."""
    if path.is_absolute():
        return path
    try:
        return Path(process.cwd()) / path
    except psutil.Error:
        return path.absolute()
