"""The study-level files a study's trainer writes: the study directory with each run's
config.toml and queued status, study.toml with its `[launch]` record, a `[[resumes]]` entry per
resume, and each trainer's end. No torch, and no config types: the study's lifecycle
(tui_trainer/study/lifecycle.py) hands over the plain data written here, whichever executor
trains the runs.
"""

from __future__ import annotations

import contextlib
import getpass
import importlib.util
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from tui_trainer import __version__
from tui_trainer.errors import ExitCode, UnavailableError
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml, sweep_temp_files, write_toml_atomic
from tui_trainer.store.clock import utc_now
from tui_trainer.store.layout import StudyPaths, create_study_dir
from tui_trainer.store.lock import LockHeld, RunLocks, held
from tui_trainer.store.schema import RunStatus, TrainerRecord, write_status

STALE_TEMP_S = 60.0  # a temp file this old in a study directory is no live writer's


@dataclass(frozen=True)
class DeviceRecord:
    """Where a trainer trains, as its records name it: 'cuda:0' and 'NVIDIA H200'; a parallel
    study's driver names the devices its workers share ('cuda' and the GPU names)."""

    spec: str
    name: str


@dataclass(frozen=True)
class NewRun:
    """A run directory as it is made: its config.toml (the resolved config, as a dict), its
    epochs and swept values (its first, queued status.toml)."""

    name: str
    config: dict[str, Any]
    epochs: int
    swept: dict[str, Any]


@dataclass(frozen=True)
class NewStudy:
    """What study.toml and the study directory are made from: the preset as launched (`preset`,
    study.toml's body), where it came from and its --set overrides, and its runs."""

    name: str
    preset: dict[str, Any]
    source: str
    overrides: list[str]
    runs: list[NewRun]


def git_commit() -> str | None:
    """The commit of the tui-trainer source, when it runs from a git checkout."""
    source = Path(__file__).resolve().parent
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        result = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if result.returncode == 0:
            return result.stdout.strip()
    return None


def versions() -> dict[str, str]:
    """The versions a study was trained with, as each package names itself (torch's
    `2.14.1+cu130`, its build included), found without importing it: a parallel study's driver
    never imports torch."""
    found = {"tui_trainer": __version__, "python": platform.python_version()}
    for package in ("torch", "torchvision", "numpy"):
        version = _own_version(package)
        if version is not None:
            found[package] = version
    return found


def _own_version(package: str) -> str | None:
    """`package.__version__` where the package is imported, else what its version.py says
    (torch and torchvision write their build there), else its installed metadata."""
    module = sys.modules.get(package)
    if isinstance(getattr(module, "__version__", None), str):
        return str(module.__version__)
    with contextlib.suppress(ImportError, ValueError, OSError, AttributeError):
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            text = (Path(folder) / "version.py").read_text(encoding="utf-8")
            match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
            if match:
                return match.group(1)
    with contextlib.suppress(metadata.PackageNotFoundError):
        return metadata.version(package)
    return None


def _user() -> str | None:
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return None


def launch_record(
    new: NewStudy, device: DeviceRecord, argv: Sequence[str], started: datetime
) -> TrainerRecord:
    """study.toml's [launch]: this trainer, what it was asked to run, and its provenance."""
    return TrainerRecord(
        time=started,
        **st.process_identity(),
        command=list(argv),
        runs=[run.name for run in new.runs],
        device=device.spec,
        device_name=device.name,
        user=_user(),
        cwd=os.getcwd(),
        preset=new.source,
        overrides=list(new.overrides),
        versions=versions(),
        git_commit=git_commit(),
    )


def resume_record(names: list[str], device: DeviceRecord, argv: Sequence[str]) -> TrainerRecord:
    """One [[resumes]] entry of study.toml: this trainer and the runs it goes on with."""
    return TrainerRecord(
        time=utc_now().astimezone(),
        **st.process_identity(),
        command=list(argv),
        runs=names,
        device=device.spec,
        device_name=device.name,
    )


def create_study(
    new: NewStudy,
    runs_dir: Path,
    device: DeviceRecord,
    argv: Sequence[str],
    into: Path | None = None,
    locks: RunLocks | None = None,
) -> StudyPaths:
    """Make the study directory (or fill `into`, reserved by a launcher) with each run's
    config.toml and queued status, then study.toml: readers list a directory as a study only
    once study.toml exists, so a trainer killed while creating it leaves no half-made study.
    Each run directory is locked into `locks` before study.toml makes the study visible, so no
    `resume` can take a run of it."""
    started = utc_now().astimezone()
    if into is not None and (not into.is_dir() or (into / "study.toml").exists()):
        raise UnavailableError(
            f"--into {into}: not an empty study directory reserved by a launcher"
        )
    try:
        paths = StudyPaths(
            into
            if into is not None
            else create_study_dir(runs_dir, new.name, started.replace(tzinfo=None))
        )
        for run in new.runs:
            _make_run(paths, run, locks)
        study = dict(new.preset)
        study["launch"] = launch_record(new, device, argv, started).to_toml()
        write_toml_atomic(paths.study, study, durable=True)
    except OSError as exc:
        where = exc.filename or runs_dir
        raise UnavailableError(f"cannot write the study under {where}: {exc.strerror}") from None
    except LockHeld as lock:  # only a hand-made directory passed as --into can be locked
        raise UnavailableError(f"{lock.path}: another trainer is writing it") from None
    return paths


def _make_run(paths: StudyPaths, run: NewRun, locks: RunLocks | None) -> None:
    run_paths = paths.run(run.name)
    run_paths.root.mkdir()
    if locks is not None:
        locks.acquire(run_paths.root)
    write_toml_atomic(run_paths.config, run.config, durable=True)
    write_status(run_paths.status, RunStatus(state=st.QUEUED, epochs=run.epochs, swept=run.swept))


def add_run(paths: StudyPaths, run: NewRun, locks: RunLocks | None = None) -> None:
    """Make one more run directory in a live study (a run source that grows: a sampler's new
    trial), locked into `locks` as create_study's are. UnavailableError when it cannot."""
    try:
        _make_run(paths, run, locks)
    except OSError as exc:
        where = exc.filename or paths.root
        raise UnavailableError(f"cannot write {where}: {exc.strerror}") from None
    except LockHeld as lock:
        raise UnavailableError(f"{lock.path}: another trainer is writing it") from None


def record_end(paths: StudyPaths, code: ExitCode, note: Callable[[str], None]) -> None:
    """Write this trainer's end (time and exit code) into its record in study.toml (the
    launch, or its [[resumes]] entry): readers then tell a study that stopped (a signal, a full
    disk) from one whose trainer was killed. Best effort: a full disk leaves it unwritten, and
    the study then reads as crashed."""
    me = st.process_identity()
    try:
        with held(paths.root):
            study = read_toml(paths.study)
            if study is None:
                return
            tables = [study.get("launch"), *(study.get("resumes") or [])]
            for table in reversed(tables):
                if (
                    isinstance(table, dict)
                    and table.get("pid") == me["pid"]
                    and table.get("pid_started") == me["pid_started"]
                ):
                    table["ended"] = utc_now().astimezone()
                    table["exit_code"] = int(code)
                    write_toml_atomic(paths.study, study, durable=True)
                    return
    except (OSError, TypeError) as exc:
        note(f"could not record the trainer's end in {paths.study}: {exc}")


def record_resume(
    paths: StudyPaths,
    names: list[str],
    device: DeviceRecord,
    argv: Sequence[str],
    parallel: dict | None = None,
) -> None:
    """Append this trainer to study.toml's `resumes`, so that readers (and the app's stop key)
    find the live trainer of the study; `parallel` replaces the study's [parallel] section (a
    resume given other --jobs goes on with them, and so will the next)."""
    try:
        with held(paths.root):  # two resumes of one study at once: both records kept
            study = read_toml(paths.study)
            if study is None:
                raise UnavailableError(f"{paths.study}: missing or not valid TOML")
            resumes = study.get("resumes")
            resumes = list(resumes) if isinstance(resumes, list) else []
            resumes.append(resume_record(names, device, argv).to_toml())
            study["resumes"] = resumes
            if parallel is not None:
                study["parallel"] = parallel
            write_toml_atomic(paths.study, study, durable=True)
    except OSError as exc:
        where = exc.filename or paths.study
        raise UnavailableError(f"cannot write {where}: {exc.strerror}") from None
    # what a trainer killed while writing study.toml left (old enough to be no one's)
    sweep_temp_files(paths.root, older_than_s=STALE_TEMP_S)


__all__ = [
    "DeviceRecord",
    "NewRun",
    "NewStudy",
    "add_run",
    "create_study",
    "record_end",
    "record_resume",
    "versions",
]
