"""States that tell the truth, and signals that reach only the study's trainer: a study stopped
between runs (or in its last test evaluation) reads interrupted, not crashed; a trainer paused
with SIGSTOP reads stalled (it holds its lock), not crashed, and is not resumed; the stop key
signals a process only when its pid, start time and command line prove it is the trainer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import TINY_PRESET, Recorder, fake_study, train
from tui_trainer import launch
from tui_trainer.cli import app
from tui_trainer.errors import ExitCode, UnavailableError, UsageError
from tui_trainer.store import resumable
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.reader import list_studies, read_study

runner = CliRunner()
TWO_RUNS = TINY_PRESET.replace("epochs = 2", "epochs = 1") + '\n[sweep]\n"train.seed" = [0, 1]\n'


def test_a_stop_in_the_last_test_evaluation_with_a_run_queued_reads_interrupted(
    write_preset, runs_dir
):
    """SIGTERM as run 1's last epoch ends: run 1 still evaluates its test set and completes,
    run 2 stays queued, the trainer exits 143 and records how it ended."""
    events = Recorder(
        on_epoch=lambda name, row: name == "seed=0" and os.kill(os.getpid(), signal.SIGTERM)
    )
    _, result = train(write_preset, runs_dir, text=TWO_RUNS, events=events)
    assert result.exit_code == ExitCode.TERMINATED
    assert result.states == {"seed=0": "completed", "seed=1": "queued"}
    launch_record = read_toml(result.study_dir / "study.toml")["launch"]
    assert launch_record["exit_code"] == 143 and "ended" in launch_record
    (study,) = list_studies(runs_dir)
    assert study.state == "interrupted"  # was: crashed
    listed = runner.invoke(app, ["runs", "--runs-dir", str(runs_dir)]).output
    (line,) = [line for line in listed.splitlines() if study.id in line]
    assert line.split()[:2] == [study.id, "interrupted"] and "crashed" not in listed
    assert resumable.plan(study)[0].name == "seed=1"  # r resumes it: the queued run starts


def test_a_trainer_gone_between_runs_without_a_word_reads_crashed(write_preset, runs_dir):
    from tests.helpers import dead_trainer

    events = Recorder(
        on_epoch=lambda name, row: name == "seed=0" and os.kill(os.getpid(), signal.SIGTERM)
    )
    _, result = train(write_preset, runs_dir, text=TWO_RUNS, events=events)
    study = read_toml(result.study_dir / "study.toml")
    for key in ("ended", "exit_code"):  # a kill -9 leaves no end
        del study["launch"][key]
    study["launch"].update(dead_trainer())
    write_toml_atomic(result.study_dir / "study.toml", study)
    assert read_study(result.study_dir).state == "crashed"


def _start(preset: Path, runs_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", "run", str(preset), "--runs-dir", str(runs_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_running(runs_dir: Path, process: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        studies = list_studies(runs_dir)
        if studies and studies[0].runs and studies[0].runs[0].state == "running":
            return studies[0].paths.root
        assert process.poll() is None, "the trainer ended early"
        time.sleep(0.1)
    raise AssertionError("the trainer never started its run")


@pytest.mark.process
def test_a_paused_trainer_reads_stalled_is_not_resumed_and_the_stop_key_reaches_it(
    write_preset, runs_dir
):
    preset = write_preset(TINY_PRESET.replace("epochs = 2", "epochs = 500"))
    process = _start(preset, runs_dir)
    try:
        root = _wait_running(runs_dir, process)
        os.kill(process.pid, signal.SIGSTOP)
        later = datetime.now(timezone.utc) + timedelta(seconds=st.HEARTBEAT_STALE_S + 30)
        study = read_study(root, now=later)  # as a reader sees it once the heartbeat is stale
        assert study.runs[0].state == "stalled" and study.state == "stalled"
        with pytest.raises(UnavailableError, match="has written no heartbeat"):
            resumable.plan(study)

        os.kill(process.pid, signal.SIGCONT)
        assert read_study(root).runs[0].state == "running"
        assert launch.trainer_pid(root) == process.pid  # pid, start time and command match
        assert launch.stop(root) == process.pid
        assert process.wait(timeout=120) == ExitCode.TERMINATED
        assert read_study(root).state == "interrupted"
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
            process.wait()


@pytest.fixture
def bystander():
    """A process of this user whose command line even looks like a trainer's
    (`... tui-trainer run quickstart`): what a hand-made study.toml might name."""
    code = "import time; time.sleep(120)"
    process = subprocess.Popen([sys.executable, "-c", code, "tui-trainer", "run", "quickstart"])
    time.sleep(0.3)  # until its command line is its own
    yield process
    process.kill()
    process.wait()


LOOKS_LIKE_IT = ["/usr/bin/tui-trainer", "run", "quickstart"]


def _name(root: Path, **launch) -> None:
    study = read_toml(root / "study.toml")
    write_toml_atomic(root / "study.toml", {**study, "launch": {**study["launch"], **launch}})


@pytest.mark.process
def test_the_stop_key_would_reach_a_process_that_proves_to_be_the_trainer(runs_dir, bystander):
    """The control for the test below: pid, start time and command all match, so the check
    passes (the process is not signalled here)."""
    root = fake_study(runs_dir, "20260101-000000-x", ["a"], state="running")
    _name(root, **st.process_identity(bystander.pid), command=LOOKS_LIKE_IT)
    assert launch.trainer_pid(root) == bystander.pid


@pytest.mark.process
@pytest.mark.parametrize("record", ["pid only", "start time, other command", "ended"])
def test_the_stop_key_never_signals_a_process_a_study_merely_names(runs_dir, bystander, record):
    root = fake_study(runs_dir, "20260101-000000-x", ["a"], state="running")
    identity = st.process_identity(bystander.pid)
    if record == "pid only":
        _name(root, pid=bystander.pid, command=LOOKS_LIKE_IT)
    elif record == "start time, other command":
        _name(root, **identity, command=["/usr/bin/tui-trainer", "run", "other"])
    else:  # all of it matches, but the trainer recorded its end: that pid is no trainer now
        _name(root, **identity, command=LOOKS_LIKE_IT, ended=datetime.now(timezone.utc))
    assert launch.trainer_pid(root) is None
    with pytest.raises(UsageError, match="no live trainer to stop"):
        launch.stop(root)
    time.sleep(0.2)
    assert bystander.poll() is None, "the bystander was signalled"


SCRIPT = ["/v/bin/python", "/v/bin/tui-trainer"]


@pytest.mark.parametrize(
    ("cmdline", "recorded", "verified"),
    [
        ([*SCRIPT, "run", "p.toml"], ["/v/bin/tui-trainer", "run", "p.toml"], True),
        (
            ["python", "-m", "tui_trainer", "resume", "/r/s", "--plain"],
            ["/x/tui_trainer/__main__.py", "resume", "/r/s", "--plain"],
            True,
        ),
        (
            [*SCRIPT, "--runs-dir", "r", "run", "q"],
            ["tui-trainer", "--runs-dir", "r", "run", "q"],
            True,
        ),
        ([*SCRIPT, "run", "other.toml"], ["tui-trainer", "run", "p.toml"], False),
        (["sleep", "run", "p.toml"], ["sleep", "run", "p.toml"], False),
        ([*SCRIPT, "show", "x"], ["tui-trainer", "show", "x"], False),
        ([*SCRIPT, "run", "p"], ["tui-trainer"], False),
        ([*SCRIPT, "run", "p"], None, False),
        (["/nix/store/x/bin/.tui-trainer-wrapped", "run", "p"], ["tui-trainer", "run", "p"], True),
    ],
)
def test_a_trainer_is_recognised_by_its_command_line(cmdline, recorded, verified):
    assert st._is_trainer_command(cmdline, recorded) is verified
