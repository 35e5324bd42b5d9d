"""A full disk or an unwritable runs directory: one clear line naming the path, exit 3, and
everything written before intact (the finished epochs, the previous checkpoint).

The in-process tests inject the error where the write happens; the last ones use a real tiny or
read-only tmpfs in a private mount namespace (`unshare`), where the machine allows it."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import FOUR_EPOCHS, TINY_PRESET
from tui_trainer.cli import app
from tui_trainer.store import csvlog
from tui_trainer.store import status as st
from tui_trainer.store.atomic import TEMP_PREFIX, read_toml
from tui_trainer.store.csvlog import read_rows
from tui_trainer.store.reader import study_dirs
from tui_trainer.train import checkpoint

runner = CliRunner()


class FailingFile:
    """A text file whose n-th write fails with `code`, as a full or read-only disk fails it."""

    def __init__(self, wrapped, code: int, fail_at: int):
        self.wrapped, self.code, self.fail_at, self.writes = wrapped, code, fail_at, 0

    def write(self, text):
        self.writes += 1
        if self.writes >= self.fail_at:
            raise OSError(self.code, os.strerror(self.code))
        return self.wrapped.write(text)

    def __getattr__(self, name):
        return getattr(self.wrapped, name)


def run_cli(*args):
    return runner.invoke(app, list(args))


@pytest.mark.parametrize(
    "code", [errno.ENOSPC, errno.EROFS, errno.EDQUOT], ids=["ENOSPC", "EROFS", "EDQUOT"]
)
def test_a_failed_row_write_stops_the_study_with_the_path_and_keeps_earlier_epochs(
    write_preset, runs_dir, monkeypatch, code
):
    real_init = csvlog.CsvAppender.__init__

    def init(self, path, fieldnames):
        real_init(self, path, fieldnames)
        if self.path.name == "metrics.csv":
            self._file = FailingFile(self._file, code, fail_at=2)  # epoch 2's row
            self._writer = csvlog.csv.writer(self._file, lineterminator="\n")

    monkeypatch.setattr(csvlog.CsvAppender, "__init__", init)
    text = FOUR_EPOCHS + '\n[sweep]\n"train.seed" = [0, 1]\n'
    result = run_cli("run", str(write_preset(text)), "--runs-dir", str(runs_dir), "--plain")
    assert result.exit_code == 3, result.output
    (study,) = study_dirs(runs_dir)
    metrics = study / "seed=0" / "metrics.csv"
    line = f"error: cannot write {metrics}: {os.strerror(code)}"
    assert line in result.output.splitlines()
    assert "Traceback" not in result.output
    assert [row["epoch"] for row in read_rows(metrics)] == [1]
    assert checkpoint.load(study / "seed=0" / "checkpoints" / "last.pt")["epoch"] == 1
    status = read_toml(study / "seed=0" / "status.toml")
    assert status["state"] == st.FAILED and status["message"] == line.removeprefix("error: ")
    # the study stopped: the next run was not started into a failing disk
    assert read_toml(study / "seed=1" / "status.toml")["state"] == st.QUEUED


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(
    write_preset, runs_dir, monkeypatch, four_epoch_reference
):
    real_fsync = os.fsync
    count = {"last": 0}

    def fsync(fd):
        target = os.readlink(f"/proc/self/fd/{fd}") if Path("/proc/self/fd").is_dir() else ""
        if Path(target).name.startswith(TEMP_PREFIX + "last.pt"):
            count["last"] += 1
            if count["last"] == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell which file is synced")
    monkeypatch.setattr(os, "fsync", fsync)
    result = run_cli("run", str(write_preset(FOUR_EPOCHS)), "--runs-dir", str(runs_dir), "--plain")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert result.exit_code == 3, result.output
    (study,) = study_dirs(runs_dir)
    last = study / "run" / "checkpoints" / "last.pt"
    assert f"error: cannot write {last}: No space left on device" in result.output
    assert checkpoint.load(last)["epoch"] == 2  # the previous checkpoint, whole
    assert not list(last.parent.glob(TEMP_PREFIX + "*"))  # the half-written one removed
    assert [row["epoch"] for row in read_rows(study / "run" / "metrics.csv")] == [1, 2, 3]

    # space freed: resuming redoes epoch 3 and ends where an uninterrupted run ends
    resumed = run_cli("resume", "latest", "--runs-dir", str(runs_dir), "--plain")
    assert resumed.exit_code == 0, resumed.output
    rows = read_rows(study / "run" / "metrics.csv")
    timing = {"epoch_time_s", "images_per_s", "elapsed_s"}
    strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]  # noqa: E731
    assert strip(rows) == strip(four_epoch_reference["metrics"])


def test_an_unwritable_runs_directory_is_one_clear_line(write_preset, tmp_path, monkeypatch):
    from tui_trainer.store import layout

    runs_dir = tmp_path / "runs"

    def refuse(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(layout.Path, "mkdir", refuse)
    result = run_cli("run", str(write_preset()), "--runs-dir", str(runs_dir))
    assert result.exit_code == 3
    assert f"error: cannot write the study under {runs_dir}: Permission denied" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory anyway")
def test_a_read_only_runs_directory_is_refused_before_training(write_preset, tmp_path):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    runs_dir.chmod(0o555)
    try:
        result = run_cli("run", str(write_preset()), "--runs-dir", str(runs_dir))
    finally:
        runs_dir.chmod(0o755)
    assert result.exit_code == 3
    assert "Permission denied" in result.output and str(runs_dir) in result.output
    assert list(runs_dir.iterdir()) == []


# -- real file systems -------------------------------------------------------------------------


def _namespaces_work() -> bool:
    """Whether this machine lets us mount a tmpfs in a private user+mount namespace."""
    if shutil.which("unshare") is None or not Path("/proc/self/fd").is_dir():
        return False
    probe = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /tmp && echo ok"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() == "ok"


needs_namespaces = pytest.mark.skipif(
    not _namespaces_work(), reason="no unprivileged mount namespaces here"
)


def in_tmpfs(mount_options: str, runs_dir: Path, copy_out: Path, *command: str, setup: str = ""):
    """Run `command` with a fresh tmpfs on `runs_dir` (private to it), then copy what the
    command left there to `copy_out`."""
    script = (
        f'mount -t tmpfs -o {mount_options} tmpfs "$RUNS" && {setup or "true"} && '
        '"$@"; code=$?; cp -a "$RUNS/." "$OUT/"; exit $code'
    )
    env = {**os.environ, "RUNS": str(runs_dir), "OUT": str(copy_out)}
    return subprocess.run(
        ["unshare", "-Urm", "sh", "-c", script, "sh", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.process
@needs_namespaces
def test_a_really_full_disk(write_preset, tmp_path):
    """A 1 MiB file system: the study starts, epoch 1's row is written, its checkpoint does not
    fit."""
    runs_dir, out = tmp_path / "runs", tmp_path / "out"
    runs_dir.mkdir()
    out.mkdir()
    preset = write_preset(TINY_PRESET)
    result = in_tmpfs(
        "size=1m",
        runs_dir,
        out,
        *(sys.executable, "-m", "tui_trainer", "run", str(preset), "--plain"),
        *("--runs-dir", str(runs_dir)),
    )
    assert result.returncode == 3, result.stdout + result.stderr
    (line,) = [text for text in result.stderr.splitlines() if text.startswith("error:")]
    assert "/checkpoints/" in line and line.endswith(": No space left on device")
    assert "Traceback" not in result.stderr
    (study,) = study_dirs(out)
    assert [row["epoch"] for row in read_rows(study / "run" / "metrics.csv")] == [1]
    assert not list((study / "run").rglob(TEMP_PREFIX + "*"))


@pytest.mark.process
@needs_namespaces
def test_a_really_read_only_file_system(write_preset, tmp_path):
    runs_dir, out = tmp_path / "runs", tmp_path / "out"
    runs_dir.mkdir()
    out.mkdir()
    result = in_tmpfs(
        "ro,size=1m",
        runs_dir,
        out,
        *(sys.executable, "-m", "tui_trainer", "run", str(write_preset()), "--plain"),
        *("--runs-dir", str(runs_dir)),
    )
    assert result.returncode == 3, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot write the study under {runs_dir}")
    assert line.endswith(": Read-only file system")
    assert list(out.iterdir()) == []


@pytest.mark.process
@needs_namespaces
def test_resume_on_a_read_only_file_system_changes_nothing(write_preset, tmp_path):
    """An interrupted study on a disk that turned read-only: resume says so and writes nothing."""
    runs_dir, out = tmp_path / "runs", tmp_path / "out"
    runs_dir.mkdir()
    out.mkdir()
    source = tmp_path / "source"
    interrupted = run_cli(
        "run", str(write_preset()), "--runs-dir", str(source), "--set", "train.epochs=1"
    )
    assert interrupted.exit_code == 0
    (study,) = study_dirs(source)
    status = read_toml(study / "run" / "status.toml")
    from tui_trainer.store.atomic import write_toml_atomic

    write_toml_atomic(study / "run" / "status.toml", {**status, "state": "interrupted"})
    before = {p.relative_to(source): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    result = in_tmpfs(
        "size=8m",
        runs_dir,
        out,
        *(sys.executable, "-m", "tui_trainer", "resume", "latest", "--plain"),
        *("--runs-dir", str(runs_dir)),
        setup=f'cp -a "{source}/." "$RUNS/" && mount -o remount,ro "$RUNS"',
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Read-only file system" in result.stderr and "Traceback" not in result.stderr
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


@pytest.mark.process
@needs_namespaces
def test_a_really_full_disk_under_a_parallel_study_exits_3_and_resume_finishes_it(
    write_preset, tmp_path
):
    """`--jobs 2` on a 1 MiB file system: both runs write epoch 1's row, neither's checkpoint
    fits. The driver stops the study as the in-process trainer does (one line naming the path,
    exit 3, no traceback); `runs` reads each 1/2, not the 0/2 of a status that may not have
    been written; on a disk with room, `resume` finishes both."""
    runs_dir, out = tmp_path / "runs", tmp_path / "out"
    runs_dir.mkdir()
    out.mkdir()
    preset = write_preset(TINY_PRESET + '\n[sweep]\n"optim.lr" = [0.05, 0.1]\n')
    result = in_tmpfs(
        "size=1m",
        runs_dir,
        out,
        *(sys.executable, "-m", "tui_trainer", "run", str(preset), "--plain", "--jobs", "2"),
        *("--runs-dir", str(runs_dir)),
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [text for text in result.stderr.splitlines() if text.startswith("error:")]
    assert line.startswith(f"error: cannot write {runs_dir}/")
    assert "/checkpoints/" in line and line.endswith(": No space left on device")
    (study,) = study_dirs(out)
    for run in ("lr=0.05", "lr=0.1"):
        assert [row["epoch"] for row in read_rows(study / run / "metrics.csv")] == [1]
    assert read_toml(study / "study.toml")["launch"]["exit_code"] == 3
    listed = run_cli("runs", "--runs-dir", str(out))
    assert [line.split()[:3] for line in listed.output.splitlines() if "lr=" in line] == [
        ["lr=0.05", "failed", "1/2"], ["lr=0.1", "failed", "1/2"]
    ]  # fmt: skip

    resumed = run_cli("resume", "latest", "--runs-dir", str(out), "--plain")
    assert resumed.exit_code == 0, resumed.output
    for run in ("lr=0.05", "lr=0.1"):
        assert [row["epoch"] for row in read_rows(study / run / "metrics.csv")] == [1, 2]
