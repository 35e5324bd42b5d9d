"""Starting a study (or resuming one) as a detached trainer process, and stopping it.

The trainer runs in its own session with its output appended to the study's trainer.log, so
neither a closed TUI nor a dropped SSH link (SIGHUP) reaches it. Imports neither torch nor
textual: the TUI uses this.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from tui_trainer.errors import UsageError
from tui_trainer.printable import printable
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.files import open_for_append
from tui_trainer.store.layout import STUDY_FILE, TRAINER_LOG, create_study_dir
from tui_trainer.store.schema import trainer_records


@dataclass
class Launched:
    study_dir: Path
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid


def trainer_command(
    preset: Path, overrides: Sequence[str], runs_dir: Path, study_dir: Path
) -> list[str]:
    command = [sys.executable, "-m", "tui_trainer", "run", str(preset), "--runs-dir", str(runs_dir)]
    command += ["--into", str(study_dir), "--plain", "--detached"]
    for override in overrides:
        command += ["--set", override]
    return command


def resume_command(target: Path, runs_dir: Path) -> list[str]:
    """`tui-trainer resume` of a study or run directory (an absolute path, which `resolve`
    takes as a path, never as a study id), detached from the terminal's SIGHUP."""
    command = [sys.executable, "-m", "tui_trainer", "resume", str(Path(target).absolute())]
    return [*command, "--runs-dir", str(runs_dir), "--plain", "--detached"]


def launch(preset: Path, overrides: Sequence[str], runs_dir: Path, study_name: str) -> Launched:
    """Reserve a study directory and start `tui-trainer run` into it, detached."""
    study_dir = create_study_dir(Path(runs_dir), study_name)
    return _start(trainer_command(preset, overrides, runs_dir, study_dir), study_dir)


def resume(study_dir: Path, runs_dir: Path, run_name: str | None = None) -> Launched:
    """Start `tui-trainer resume` of the study (or of its run `run_name`), detached: it continues
    the interrupted, crashed and failed runs from their last checkpoints and starts the queued
    ones. Its output is appended to the study's trainer.log, after the earlier trainers'."""
    study_dir = Path(study_dir)
    target = study_dir / run_name if run_name is not None else study_dir
    return _start(resume_command(target, runs_dir), study_dir)


def _start(command: list[str], study_dir: Path) -> Launched:
    """Start `command` in its own session (no SIGHUP from the app's terminal), stdin from
    /dev/null, stdout and stderr appended to the study's trainer.log."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open_for_append(study_dir / TRAINER_LOG, binary=True) as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    return Launched(study_dir, process)


def trainer_pid(study_dir: Path) -> int | None:
    """The pid of the study's live trainer, when one is alive (store.status.live_trainer) and
    provably that trainer (store.status.verified_trainer: pid, start time and command)."""
    process = _verified(study_dir)
    return process.pid if process is not None else None


def _verified(study_dir: Path) -> psutil.Process | None:
    live = st.live_trainer(trainer_records(read_toml(Path(study_dir) / STUDY_FILE)))
    return st.verified_trainer(live) if live is not None else None


def stop(study_dir: Path) -> int:
    """Ask the study's trainer to stop (SIGTERM: finish the step, keep the finished epochs,
    mark the run interrupted). Returns the pid signalled. Only a process verified to be the
    study's trainer is signalled: a pid that study.toml names is not trusted by itself (a
    hand-made or tampered study could name any process)."""
    process = _verified(study_dir)
    if process is None:
        raise UsageError(f"{printable(Path(study_dir).name)}: no live trainer to stop")
    try:
        process.send_signal(signal.SIGTERM)  # psutil refuses a pid reused since it was checked
    except psutil.Error as exc:
        raise UsageError(
            f"{printable(Path(study_dir).name)}: cannot stop its trainer: {exc}"
        ) from None
    return process.pid
