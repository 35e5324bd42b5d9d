"""Shared fixtures: tiny presets written into a temporary directory, CIFAR archives, a reference
run. The helpers they use are in tests/helpers.py."""

from __future__ import annotations

import os
import subprocess
import textwrap
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import FOUR_EPOCHS, TINY_PRESET

CTYPES_UTIL = os.path.join("ctypes", "util.py")


def is_lookup(args) -> bool:
    """A one-shot question asked of another program, not a process a test is about: the commit
    the trainer records (store.study_files.git_commit) and ctypes.util.find_library's ldconfig
    (glibc's malloc settings)."""
    if isinstance(args, (list, tuple)) and list(args[:1]) == ["git"] and "rev-parse" in args:
        return True
    return any(frame.filename.endswith(CTYPES_UTIL) for frame in traceback.extract_stack())


class SpawnWithoutMarker(BaseException):
    """A test not marked `process` started a process. A BaseException, so that the code under
    test, which catches Exception where a launch may fail, cannot swallow it."""


@pytest.fixture(autouse=True)
def only_process_tests_spawn(request, monkeypatch):
    """`pytest -m "not process"` is the quick inner loop only if every test that starts a process
    (a trainer, a CLI, a cluster, tmux) says so: any other test that reaches subprocess (and so
    asyncio's subprocesses, which go through it) fails, here and at its teardown, naming the
    marker to add."""
    if request.node.get_closest_marker("process") is not None:
        yield
        return
    attempts: list[str] = []
    execute_child = subprocess.Popen._execute_child

    def refuse(self, args, *rest, **kwargs):
        if is_lookup(args):
            return execute_child(self, args, *rest, **kwargs)
        attempts.append(str(args)[:200])
        raise SpawnWithoutMarker(
            f"{request.node.nodeid} starts a process ({attempts[-1]}): mark it "
            "@pytest.mark.process (see pyproject's markers)"
        )

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)
    yield
    if attempts:
        pytest.fail(f"started a process without @pytest.mark.process: {attempts[0]}")


@pytest.fixture(autouse=True)
def own_config_home(tmp_path: Path, monkeypatch) -> Path:
    """No test sees (or writes) the presets of the user running it: the user's presets folder
    (config.presets.user_presets_dir) is under tmp_path."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture
def write_preset(tmp_path: Path) -> Callable[..., Path]:
    """Write TOML text (dedented) to a file in tmp_path and return its path."""

    def write(text: str = TINY_PRESET, name: str = "preset.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture(scope="session")
def cifar_archives(tmp_path_factory) -> Path:
    """A data directory with tiny CIFAR-10 (30/class train, 10/class test) and CIFAR-100
    (4/class train, 1/class test) archives in the genuine format."""
    from tests.cifar_archives import write_archive
    from tui_trainer.train import cifar

    directory = tmp_path_factory.mktemp("cifar-archives")
    write_archive(directory, cifar.CIFAR10, train_per_class=30, test_per_class=10)
    write_archive(directory, cifar.CIFAR100, train_per_class=4, test_per_class=1)
    return directory


@pytest.fixture
def cifar_data_dir(cifar_archives, tmp_path, monkeypatch) -> Path:
    """A fresh copy of the tiny archives, with the expected MD5s set to theirs (the real
    dataset's checksums would refuse them) and TUI_TRAINER_DATA pointing at it."""
    import dataclasses
    import shutil

    from tui_trainer.train import cifar

    directory = tmp_path / "data"
    shutil.copytree(cifar_archives, directory)
    specs = {
        name: dataclasses.replace(spec, md5=cifar.md5_of(directory / spec.archive))
        for name, spec in cifar.SPECS.items()
    }
    monkeypatch.setattr(cifar, "SPECS", specs)
    monkeypatch.setenv("TUI_TRAINER_DATA", str(directory))
    return directory


@pytest.fixture(scope="session")
def four_epoch_reference(tmp_path_factory) -> dict:
    """The rows and summary of an uninterrupted run of FOUR_EPOCHS, trained once per session:
    what a resumed run must reproduce."""
    from tests.helpers import Recorder, run_study
    from tui_trainer.config import load_preset
    from tui_trainer.errors import ExitCode
    from tui_trainer.store.atomic import read_toml
    from tui_trainer.store.csvlog import read_rows

    directory = tmp_path_factory.mktemp("reference")
    preset = directory / "preset.toml"
    preset.write_text(FOUR_EPOCHS)
    result = run_study(load_preset(preset), directory / "runs", Recorder(), argv=["test"])
    assert result.exit_code == ExitCode.OK
    run = result.study_dir / "run"
    return {
        "metrics": read_rows(run / "metrics.csv"),
        "steps": read_rows(run / "steps.csv"),
        "summary": read_toml(run / "summary.toml"),
    }


class FakeTrainer:
    """What the fake `launch.resume` returns: a trainer process that starts nothing."""

    pid = 4242

    def __init__(self, alive: bool = False):
        self.alive = alive

    def poll(self):
        return None if self.alive else 0


class Resumes(list):
    """The calls of the fake `launch.resume`; `alive`: whether the trainers it returns run."""

    alive = False


@pytest.fixture
def resumes(monkeypatch):
    """tui_trainer.launch.resume replaced by one that trains nothing and notes its calls."""
    from tui_trainer.launch import Launched

    calls = Resumes()

    def resume(study_dir, runs_dir, run_name=None):
        calls.append((Path(study_dir), Path(runs_dir), run_name))
        return Launched(Path(study_dir), FakeTrainer(alive=calls.alive))

    monkeypatch.setattr("tui_trainer.launch.resume", resume)
    return calls
