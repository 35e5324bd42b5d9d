"""`tui-trainer resume`: a run killed or stopped part-way goes on from its last checkpoint and
writes exactly the rows an uninterrupted run writes; a study resumes its unfinished and
never-started runs; a live run is never resumed twice; checkpoints load without running code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import FOUR_EPOCHS, TIMING_COLUMNS, TINY_PRESET, Recorder, resume_study, train
from tui_trainer.errors import ExitCode, UnavailableError, UsageError
from tui_trainer.store import resumable
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.clock import utc_now
from tui_trainer.store.csvlog import read_rows
from tui_trainer.store.lock import RunLocks, is_locked
from tui_trainer.store.reader import read_study
from tui_trainer.train import checkpoint, random_state

STEP_LEARNED = ["epoch", "step", "loss", "acc", "lr"]


def learned(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]


def steps_learned(rows: list[dict]) -> list[dict]:
    return [{k: row[k] for k in STEP_LEARNED} for row in rows]


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_trainer(preset: Path, runs_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui_trainer",
            "run",
            str(preset),
            "--plain",
            "--runs-dir",
            runs_dir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_rows(runs_dir: Path, count: int, process: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(runs_dir.glob("*/run/metrics.csv"))
        if found and len(read_rows(found[0])) >= count:
            return found[0].parent
        assert process.poll() is None, "the trainer ended early"
        time.sleep(0.05)
    raise AssertionError("the trainer wrote no epoch in time")


@pytest.fixture
def reference(four_epoch_reference) -> dict:
    return four_epoch_reference


@pytest.mark.process
def test_kill_9_then_resume_writes_the_same_metrics_as_an_uninterrupted_run(
    write_preset, runs_dir, reference
):
    trainer = start_trainer(write_preset(FOUR_EPOCHS), runs_dir)
    try:
        run = wait_for_rows(runs_dir, 2, trainer)
    finally:
        trainer.send_signal(signal.SIGKILL)
        trainer.wait()
    assert read_study(run.parent).runs[0].state == st.CRASHED
    assert not is_locked(run), "the kernel dropped the killed trainer's lock"

    resumed = cli("resume", "latest", "--runs-dir", str(runs_dir), "--plain")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "run: resuming from last.pt at epoch" in resumed.stdout

    assert learned(read_rows(run / "metrics.csv")) == learned(reference["metrics"])
    assert steps_learned(read_rows(run / "steps.csv")) == steps_learned(reference["steps"])
    status = read_toml(run / "status.toml")
    assert status["state"] == st.COMPLETED and status["resumes"] == 1
    summary = read_toml(run / "summary.toml")
    assert summary["test_acc"] == reference["summary"]["test_acc"]
    assert read_toml(run.parent / "study.toml")["resumes"][0]["runs"] == ["run"]
    # a resumed study's study.toml still runs again as a preset
    from tui_trainer.config import load_preset

    assert [r.name for r in load_preset(run.parent / "study.toml").runs] == ["run"]


def test_sigterm_inside_an_epoch_checkpoints_there_and_resume_continues_exactly(
    write_preset, runs_dir, reference
):
    def stop_at_step(name, epoch, step, loss, images_per_s):
        if epoch == 2 and step == 7:
            os.kill(os.getpid(), signal.SIGTERM)

    events = Recorder()
    events.step = stop_at_step
    _, result = train(write_preset, runs_dir, FOUR_EPOCHS, events=events)
    assert result.exit_code == ExitCode.TERMINATED
    run = result.study_dir / "run"
    status = read_toml(run / "status.toml")
    assert status["state"] == st.INTERRUPTED
    assert status["message"] == "stopped by request in epoch 2 at step 7"
    saved = checkpoint.load(run / "checkpoints" / "last.pt")
    assert saved["epoch"] == 1 and saved["partial"]["step"] == 7
    assert [row["epoch"] for row in read_rows(run / "metrics.csv")] == [1]

    again = resume_study(read_study(result.study_dir), None, Recorder())
    assert again.exit_code == ExitCode.OK and again.states == {"run": st.COMPLETED}
    assert learned(read_rows(run / "metrics.csv")) == learned(reference["metrics"])
    assert steps_learned(read_rows(run / "steps.csv")) == steps_learned(reference["steps"])


def test_resume_cuts_rows_written_after_the_checkpoint(write_preset, runs_dir, reference):
    """A kill between an epoch's row and its checkpoint: the row is cut, the epoch redone."""
    saved = runs_dir.parent / "last-after-epoch-1.pt"

    def on_epoch(name, row):
        (last,) = runs_dir.glob("*/run/checkpoints/last.pt")
        if row["epoch"] == 1:
            saved.write_bytes(last.read_bytes())
        if row["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    _, result = train(write_preset, runs_dir, FOUR_EPOCHS, events=Recorder(on_epoch=on_epoch))
    run = result.study_dir / "run"
    # As a kill after epoch 2's row and before its checkpoint leaves it: last.pt of epoch 1,
    # status running with a dead trainer, a torn last line.
    (run / "checkpoints" / "last.pt").write_bytes(saved.read_bytes())
    status = read_toml(run / "status.toml")
    write_toml_atomic(run / "status.toml", {**status, "state": "running", "pid": 2**22 + 1})
    with open(run / "steps.csv", "a") as handle:
        handle.write("2,36,0.5,0.8")
    assert [row["epoch"] for row in read_rows(run / "metrics.csv")] == [1, 2]
    assert read_study(result.study_dir).runs[0].state == st.CRASHED

    again = resume_study(read_study(result.study_dir), "run", Recorder())
    assert again.states == {"run": st.COMPLETED}
    rows = read_rows(run / "metrics.csv")
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4]  # epoch 2 once, not twice
    assert learned(rows) == learned(reference["metrics"])
    assert steps_learned(read_rows(run / "steps.csv")) == steps_learned(reference["steps"])


def test_a_study_resumes_its_interrupted_and_never_started_runs(write_preset, runs_dir):
    text = TINY_PRESET + '\n[sweep]\n"train.seed" = [0, 1, 2]\n'
    events = Recorder(
        on_epoch=lambda name, row: name == "seed=1" and os.kill(os.getpid(), signal.SIGINT)
    )
    _, result = train(write_preset, runs_dir, text, events=events)
    assert result.states == {"seed=0": "completed", "seed=1": "interrupted", "seed=2": "queued"}
    before = (result.study_dir / "seed=0" / "metrics.csv").read_bytes()

    recorder = Recorder()
    again = resume_study(read_study(result.study_dir), None, recorder)
    assert again.states == {"seed=1": "completed", "seed=2": "completed"}
    assert again.exit_code == ExitCode.OK
    assert (result.study_dir / "seed=0" / "metrics.csv").read_bytes() == before  # untouched
    started = [event[1] for event in recorder.events if event[0] == "run_started"]
    assert started == ["seed=1", "seed=2"]
    assert read_study(result.study_dir).state == st.COMPLETED
    for name in ("seed=1", "seed=2"):
        assert [r["epoch"] for r in read_rows(result.study_dir / name / "metrics.csv")] == [1, 2]

    with pytest.raises(UsageError, match="nothing to resume"):
        resume_study(read_study(result.study_dir), None, Recorder())
    with pytest.raises(UsageError, match="seed=0 is completed: nothing to resume"):
        resume_study(read_study(result.study_dir), "seed=0", Recorder())


def test_a_run_without_a_checkpoint_starts_over(write_preset, runs_dir):
    text = TINY_PRESET + "save_checkpoints = false\n"
    events = Recorder(
        on_epoch=lambda name, row: row["epoch"] == 1 and os.kill(os.getpid(), signal.SIGINT)
    )
    _, result = train(write_preset, runs_dir, text, events=events)
    recorder = Recorder()
    again = resume_study(read_study(result.study_dir), "run", recorder)
    assert again.states == {"run": "completed"}
    notes = [event[1] for event in recorder.events if event[0] == "note"]
    assert "run: no checkpoint to resume from; starting at epoch 1" in notes
    assert [r["epoch"] for r in read_rows(result.study_dir / "run" / "metrics.csv")] == [1, 2]


def test_a_live_run_is_never_resumed_twice(write_preset, runs_dir):
    _, result = train(write_preset, runs_dir, TINY_PRESET.replace("epochs = 2", "epochs = 1"))
    run = result.study_dir / "run"
    status = read_toml(run / "status.toml")
    write_toml_atomic(run / "status.toml", {**status, "state": "interrupted"})
    metrics = (run / "metrics.csv").read_bytes()

    # Another trainer holds the run's lock (its status may say anything).
    with RunLocks() as other:
        other.acquire(run)
        assert is_locked(run)
        with pytest.raises(UnavailableError, match="another trainer is writing it"):
            resume_study(read_study(result.study_dir), None, Recorder())
    assert (run / "metrics.csv").read_bytes() == metrics

    # Its status says running and its pid is alive (this process).
    write_toml_atomic(
        run / "status.toml",
        {**status, "state": "running", **st.process_identity(), "heartbeat": utc_now()},
    )
    with pytest.raises(UnavailableError, match="a trainer is still writing run"):
        resume_study(read_study(result.study_dir), "run", Recorder())


@pytest.mark.process
def test_resume_of_a_live_trainer_is_refused_from_the_command_line(write_preset, runs_dir):
    trainer = start_trainer(
        write_preset(TINY_PRESET.replace("epochs = 2", "epochs = 50")), runs_dir
    )
    try:
        run = wait_for_rows(runs_dir, 1, trainer)
        assert is_locked(run)
        refused = cli("resume", "latest", "--runs-dir", str(runs_dir))
        assert refused.returncode == ExitCode.UNAVAILABLE, refused.stderr
        assert "a trainer is still writing run (pid" in refused.stderr
        assert "Traceback" not in refused.stderr
        status = read_toml(run / "status.toml")
        assert trainer.poll() is None
    finally:
        trainer.send_signal(signal.SIGTERM)
        trainer.wait(timeout=60)
    assert trainer.returncode == ExitCode.TERMINATED
    assert status["pid"] == trainer.pid


def test_a_diverged_run_is_not_resumed(write_preset, runs_dir):
    _, result = train(write_preset, runs_dir, TINY_PRESET.replace("epochs = 2", "epochs = 1"))
    run = result.study_dir / "run"
    status = read_toml(run / "status.toml")
    write_toml_atomic(run / "status.toml", {**status, "state": "diverged"})
    with pytest.raises(UsageError, match="diverged; resuming would diverge again"):
        resumable.plan(read_study(result.study_dir), "run")


class _Payload:
    """Pickles to a call of os.system: what a crafted checkpoint would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_pickle_checkpoint_is_refused_and_nothing_runs(write_preset, runs_dir, tmp_path):
    events = Recorder(
        on_epoch=lambda name, row: row["epoch"] == 1 and os.kill(os.getpid(), signal.SIGINT)
    )
    _, result = train(write_preset, runs_dir, events=events)
    run = result.study_dir / "run"
    marker = tmp_path / "pwned"
    torch.save({"model": _Payload(marker)}, run / "checkpoints" / "last.pt")
    metrics = (run / "metrics.csv").read_bytes()

    with pytest.raises(checkpoint.CheckpointError, match="refused: it holds Python objects"):
        checkpoint.load(run / "checkpoints" / "last.pt")
    status = (run / "status.toml").read_bytes()
    # resume checks last.pt before it changes anything: refused, the run left as it was
    with pytest.raises(UsageError) as refused:
        resume_study(read_study(result.study_dir), "run", Recorder())
    assert "last.pt: refused: it holds Python objects other than tensors" in str(refused.value)
    assert not marker.exists(), "the pickled call ran"
    assert (run / "status.toml").read_bytes() == status
    assert (run / "metrics.csv").read_bytes() == metrics


def test_a_damaged_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(checkpoint.CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(path)
    with pytest.raises(checkpoint.CheckpointError, match="no such checkpoint"):
        checkpoint.load(tmp_path / "missing.pt")
    path.write_bytes(b"")  # a kill before a single byte was written, by hand or by a tool
    with pytest.raises(checkpoint.CheckpointError) as empty:
        checkpoint.load(path)
    assert str(empty.value) == f"{path}: not a readable checkpoint (the file is empty)"
    path.write_bytes(b"garbage")  # not a pickle at all: damaged, not code refused
    with pytest.raises(checkpoint.CheckpointError, match=r"not a readable checkpoint \(.+\)$"):
        checkpoint.load(path)


@pytest.mark.parametrize("link", ["checkpoints", "metrics.csv", "status.toml"])
def test_resume_refuses_run_files_that_are_symlinks(write_preset, runs_dir, tmp_path, link):
    events = Recorder(
        on_epoch=lambda name, row: row["epoch"] == 1 and os.kill(os.getpid(), signal.SIGINT)
    )
    _, result = train(write_preset, runs_dir, events=events)
    run = result.study_dir / "run"
    outside = tmp_path / "outside"
    outside.mkdir()
    target = run / link
    os.replace(target, outside / link)
    target.symlink_to(outside / link)
    with pytest.raises(UsageError, match=f"refusing to resume .*: {link} is a symlink"):
        resume_study(read_study(result.study_dir), None, Recorder())


def test_run_names_from_files_cannot_leave_the_study(write_preset, runs_dir, tmp_path):
    _, result = train(write_preset, runs_dir, TINY_PRESET.replace("epochs = 2", "epochs = 1"))
    study_file = result.study_dir / "study.toml"
    study = read_toml(study_file)
    # a hand-edited study.toml naming runs outside the study
    study["launch"]["runs"] = ["../../victim", "/etc", "run"]
    write_toml_atomic(study_file, study)
    (tmp_path / "victim").mkdir()
    record = read_study(result.study_dir)
    assert [run.name for run in record.runs] == ["run"]
    # a run directory that is a symlink to another place is not a run of the study
    (result.study_dir / "escape").symlink_to(tmp_path / "victim", target_is_directory=True)
    study["launch"]["runs"] = ["run", "escape"]
    write_toml_atomic(study_file, study)
    assert [run.name for run in read_study(result.study_dir).runs] == ["run"]
    with pytest.raises(UsageError):
        resume_study(read_study(result.study_dir), "escape", Recorder())


def test_random_states_round_trip_and_cuda_states_are_kept(monkeypatch, tmp_path):
    import random

    import numpy as np

    generator = torch.Generator().manual_seed(3)
    mix = np.random.default_rng(3)
    cuda_states = [torch.arange(8, dtype=torch.uint8), torch.arange(8, 16, dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: cuda_states)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.extend)

    saved = random_state.capture_random_states(generator, mix)
    path = tmp_path / "rng.pt"
    checkpoint.save(path, {"model": {}, "rng": saved})
    loaded = checkpoint.load(path)["rng"]
    draws = (random.random(), np.random.rand(), torch.rand(1), torch.rand(1, generator=generator))
    mixed = mix.beta(0.2, 0.2)

    assert random_state.restore_random_states(loaded, generator, mix) == []
    assert (random.random(), np.random.rand()) == draws[:2]
    assert torch.equal(torch.rand(1), draws[2])
    assert torch.equal(torch.rand(1, generator=generator), draws[3])
    assert mix.beta(0.2, 0.2) == mixed
    assert [t.tolist() for t in restored] == [t.tolist() for t in cuda_states]

    # resumed on a machine with another number of GPUs: said, not silently wrong
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert random_state.restore_random_states(loaded, generator, mix) == ["CUDA"]


def test_a_run_killed_in_its_test_evaluation_resumes_straight_to_it(write_preset, runs_dir):
    _, result = train(write_preset, runs_dir)
    run = result.study_dir / "run"
    summary = read_toml(run / "summary.toml")
    metrics = (run / "metrics.csv").read_bytes()
    (run / "summary.toml").unlink()
    (run / "confusion.csv").unlink()
    status = read_toml(run / "status.toml")
    write_toml_atomic(run / "status.toml", {**status, "state": "running", "pid": 2**22 + 1})

    recorder = Recorder()
    again = resume_study(read_study(result.study_dir), None, recorder)
    assert again.states == {"run": st.COMPLETED}
    assert not [event for event in recorder.events if event[0] == "epoch_ended"]
    assert (run / "metrics.csv").read_bytes() == metrics
    resumed = read_toml(run / "summary.toml")
    for key in ("test_acc", "test_loss", "best_epoch", "best_val_acc", "final_val_acc", "epochs"):
        assert resumed[key] == summary[key], key
    assert (run / "confusion.csv").exists()


def test_resume_records_from_racing_trainers_are_all_kept_and_old_temp_files_swept(
    write_preset, runs_dir
):
    import threading

    from tui_trainer.store.study_files import DeviceRecord
    from tui_trainer.store.study_files import record_resume as _record_resume

    _, result = train(write_preset, runs_dir, TINY_PRESET.replace("epochs = 2", "epochs = 1"))
    paths = read_study(result.study_dir).paths
    stale = result.study_dir / ".tmp-study.toml.abc123"
    stale.write_text("half a study.toml")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    fresh = result.study_dir / ".tmp-study.toml.def456"  # a live writer's, a moment old
    fresh.write_text("being written")

    threads = [
        threading.Thread(
            target=_record_resume, args=(paths, [f"run{i}"], DeviceRecord("cpu", "cpu"), ["test"])
        )
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = read_toml(paths.study)["resumes"]
    assert sorted(r["runs"][0] for r in records) == [f"run{i}" for i in range(8)]
    assert not stale.exists() and fresh.exists()


def _interrupted_after_epoch_1(write_preset, runs_dir, text=FOUR_EPOCHS) -> Path:
    events = Recorder(
        on_epoch=lambda name, row: row["epoch"] == 1 and os.kill(os.getpid(), signal.SIGINT)
    )
    _, result = train(write_preset, runs_dir, text, events=events)
    return result.study_dir


def test_a_kill_between_last_and_best_checkpoint_is_repaired_on_resume(write_preset, runs_dir):
    study_dir = _interrupted_after_epoch_1(write_preset, runs_dir)
    checkpoints = study_dir / "run" / "checkpoints"
    (checkpoints / "best.pt").unlink()  # killed after last.pt of epoch 1, before best.pt
    recorder = Recorder()
    resume_study(read_study(study_dir), None, recorder)
    notes = [event[1] for event in recorder.events if event[0] == "note"]
    assert "run: rewrote best.pt of epoch 1" in notes
    summary = read_toml(study_dir / "run" / "summary.toml")
    best = checkpoint.load(checkpoints / "best.pt")
    assert best["epoch"] == summary["best_epoch"]


def test_a_checkpoint_of_an_older_version_resumes_with_its_best_epoch_from_the_rows(
    write_preset, runs_dir
):
    study_dir = _interrupted_after_epoch_1(write_preset, runs_dir)
    last = study_dir / "run" / "checkpoints" / "last.pt"
    old = checkpoint.load(last)
    old = {key: old[key] for key in ("epoch", "model", "optimizer", "scheduler")}
    torch.save(old, last)  # the format before random states and best figures were saved
    first_val_acc = read_rows(study_dir / "run" / "metrics.csv")[0]["val_acc"]
    recorder = Recorder()
    assert resume_study(read_study(study_dir), None, recorder).states == {"run": "completed"}
    notes = " ".join(event[1] for event in recorder.events if event[0] == "note")
    assert "predates saved random states" in notes
    rows = read_rows(study_dir / "run" / "metrics.csv")
    summary = read_toml(study_dir / "run" / "summary.toml")
    assert summary["best_val_acc"] == max(row["val_acc"] for row in rows) >= first_val_acc


def test_resume_refuses_a_study_whose_log_is_a_symlink(write_preset, runs_dir, tmp_path):
    study_dir = _interrupted_after_epoch_1(write_preset, runs_dir)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (study_dir / "trainer.log").unlink()
    (study_dir / "trainer.log").symlink_to(victim)
    with pytest.raises(UsageError, match=r"trainer\.log is a symlink"):
        resume_study(read_study(study_dir), None, Recorder())
    from tui_trainer.console.plain import PlainLog

    log = PlainLog(to_study_log=True)  # and the log writer never follows it anyway
    log.study_started("x", study_dir, [("run", 1)])
    log.close()
    assert victim.read_text() == "precious\n"


def test_a_file_system_that_cannot_lock_still_trains_and_says_so(
    write_preset, runs_dir, monkeypatch
):
    import errno

    from tui_trainer.store import lock

    def flock(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(lock.fcntl, "flock", flock)
    recorder = Recorder()
    _, result = train(write_preset, runs_dir, TINY_PRESET, events=recorder)
    assert result.states == {"run": "completed"}
    notes = [event[1] for event in recorder.events if event[0] == "note"]
    assert any("this file system cannot lock run directories" in note for note in notes)


def test_a_lock_that_cannot_be_made_is_one_line_not_a_traceback(
    write_preset, runs_dir, monkeypatch
):
    import errno

    from typer.testing import CliRunner

    from tui_trainer.cli import app
    from tui_trainer.store import lock

    def too_many(directory):
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE), str(directory / ".lock"))

    monkeypatch.setattr(lock, "_open_lock_file", too_many)
    result = CliRunner().invoke(app, ["run", str(write_preset()), "--runs-dir", str(runs_dir)])
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert "Too many open files" in result.output and "Traceback" not in result.output
    assert study_dirs_of(runs_dir) == []  # no study.toml: nothing half-made is listed


def study_dirs_of(runs_dir: Path) -> list[Path]:
    from tui_trainer.store.reader import study_dirs

    return study_dirs(runs_dir)


def test_a_stop_during_the_only_runs_last_epoch_exits_0(write_preset, runs_dir):
    events = Recorder(
        on_epoch=lambda name, row: row["epoch"] == 2 and os.kill(os.getpid(), signal.SIGTERM)
    )
    _, result = train(write_preset, runs_dir, TINY_PRESET, events=events)
    assert result.states == {"run": "completed"} and result.exit_code == ExitCode.OK


def test_a_checkpoint_saved_before_the_first_epoch_ended_gives_no_best_not_a_placeholder():
    from tui_trainer.train.progress import BestEpoch

    none = BestEpoch(None, None)
    # an older version saved -1 and 0 from inside epoch 1; this one saves None (torch keeps it)
    assert checkpoint._saved_best({"best_val_acc": -1.0, "best_epoch": 0}) == none
    assert checkpoint._saved_best({"best_val_acc": None, "best_epoch": None}) == none
    assert checkpoint._saved_best({}) == none
    assert checkpoint._saved_best({"best_val_acc": 0.91, "best_epoch": 3}) == BestEpoch(0.91, 3)
    # a checkpoint without a best takes it from metrics.csv's rows, or has none
    rows = [{"epoch": 1, "val_acc": 0.5}, {"epoch": 2, "val_acc": float("nan")}]
    assert checkpoint._best_of(rows) == BestEpoch(0.5, 1)
    assert checkpoint._best_of([{"epoch": 1, "val_acc": None}]) == none
    best = BestEpoch()
    assert best.update(0.0, 1) and best == BestEpoch(0.0, 1)  # the first epoch is the best
    assert not best.update(0.0, 2) and best.update(0.2, 3) and best == BestEpoch(0.2, 3)


def test_an_in_process_resume_trains_on_the_threads_the_run_started_with(
    write_preset, runs_dir, monkeypatch
):
    """A run started on one thread (OMP_NUM_THREADS=1, say) and resumed in a process that
    would take a thread per core: it trains on one thread again, since the thread count orders
    a CPU's sums and another count would write other rows."""
    from tests.helpers import interrupted_study

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    seen: list[int] = []
    try:
        study = interrupted_study(write_preset(), runs_dir)
        status = read_toml(study / "run" / "status.toml")
        assert status["threads"] == torch.get_num_threads()  # recorded as it started
        write_toml_atomic(study / "run" / "status.toml", {**status, "threads": 1})
        events = Recorder(on_epoch=lambda *_: seen.append(torch.get_num_threads()))
        result = resume_study(read_study(study), None, events)
    finally:
        torch.set_num_threads(before)
    assert result.exit_code == 0
    assert seen == [1] and read_toml(study / "run" / "status.toml")["threads"] == 1
