"""Crash safety: SIGKILL at random moments (mid-step, mid-row, mid-checkpoint, mid-start-up) always
leaves a readable run: every finished epoch replays, the state reads crashed, the last checkpoint
loads, and resuming goes on to the very rows an uninterrupted run writes.

The kill times are drawn from a seeded generator; set TUI_TRAINER_CRASH_SEED to try others.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import FOUR_EPOCHS, TIMING_COLUMNS, Recorder, resume_study, train
from tui_trainer.store import status as st
from tui_trainer.store.atomic import TEMP_PREFIX, read_toml, sweep_temp_files
from tui_trainer.store.csvlog import read_rows
from tui_trainer.store.reader import read_study, study_dirs
from tui_trainer.store.schema import read_status
from tui_trainer.train import checkpoint, loop

SEED = int(os.environ.get("TUI_TRAINER_CRASH_SEED", "20261122"))
STEP_LEARNED = ["epoch", "step", "loss", "acc", "lr"]


def learned(rows):
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]


def steps_learned(rows):
    return [{k: row[k] for k in STEP_LEARNED} for row in rows]


def check_after_kill(study_dir: Path, reference: dict, where: str) -> int:
    """Everything a killed trainer must leave; returns the finished epochs on disk."""
    study = read_study(study_dir)
    (run,) = study.runs
    assert run.state in (st.CRASHED, st.QUEUED, st.COMPLETED), where
    assert study.state in (st.CRASHED, st.COMPLETED), where
    rows = read_rows(run.paths.metrics)
    epochs = [row["epoch"] for row in rows]
    assert epochs == list(range(1, len(rows) + 1)), where  # every finished epoch, once
    assert learned(rows) == learned(reference["metrics"][: len(rows)]), where
    steps = read_rows(run.paths.steps)
    assert steps_learned(steps) == steps_learned(reference["steps"][: len(steps)]), where
    last = run.paths.checkpoints / checkpoint.LAST
    if last.exists():
        saved = checkpoint.load(last)
        assert saved["epoch"] in (len(rows) - 1, len(rows)), where
        assert saved["partial"] is None, where
        assert checkpoint.all_finite(saved["model"]), where
    best = run.paths.checkpoints / checkpoint.BEST
    if best.exists():
        assert checkpoint.load(best)["epoch"] <= len(rows), where
    return len(rows)


@pytest.mark.process
def test_sigkill_at_random_points_never_costs_a_finished_epoch(tmp_path, four_epoch_reference):
    """Six kills at random moments of one study, resuming after each; then a last resume runs
    to the end and writes exactly the reference's rows."""
    preset = tmp_path / "preset.toml"
    preset.write_text(FOUR_EPOCHS)
    runs_dir = tmp_path / "runs"
    rng = random.Random(SEED)
    delays = [round(rng.uniform(0.5, 6.0), 2) for _ in range(6)]
    history: list[str] = []
    study_dir: Path | None = None
    for delay in [*delays, None]:
        if study_dir is None:
            command = ["run", str(preset), "--plain"]
        else:
            command = ["resume", str(study_dir), "--plain"]
        process = subprocess.Popen(
            [sys.executable, "-m", "tui_trainer", *command, "--runs-dir", str(runs_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if delay is None:
            _, errors = process.communicate(timeout=300)
            assert process.returncode == 0, errors
            history.append("to the end")
        else:
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
            process.wait()
            history.append(f"killed after {delay}s")
        where = f"seed {SEED}: " + ", ".join(history)
        found = study_dirs(runs_dir)
        if not found:
            continue  # killed before study.toml existed: nothing was written, start again
        study_dir = found[0]
        done = check_after_kill(study_dir, four_epoch_reference, where)
        history[-1] += f" ({done} epochs on disk)"
        if read_study(study_dir).state == st.COMPLETED:
            break
    assert study_dir is not None
    run = study_dir / "run"
    assert read_toml(run / "status.toml")["state"] == st.COMPLETED, where
    assert learned(read_rows(run / "metrics.csv")) == learned(four_epoch_reference["metrics"])
    steps = read_rows(run / "steps.csv")
    assert steps_learned(steps) == steps_learned(four_epoch_reference["steps"]), where
    summary = read_toml(run / "summary.toml")
    assert summary["test_acc"] == four_epoch_reference["summary"]["test_acc"], where
    assert not list(run.rglob(TEMP_PREFIX + "*")), "stale temp files were swept on resume"
    print(where)  # pytest -s shows where the kills landed


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tui_trainer.store.atomic import sweep_temp_files, write_bytes_atomic
    from tui_trainer.store.csvlog import CsvAppender, cut_rows_after

    # as a resumed trainer does: back to the checkpoint, rows after it cut, temp files swept
    directory = Path(sys.argv[1])
    last = directory / "last.bin"
    i = int.from_bytes(last.read_bytes()[:8], "little") if last.exists() else 0
    cut_rows_after(directory / "rows.csv", "i", i)
    sweep_temp_files(directory)
    log = CsvAppender(directory / "rows.csv", ["i", "text"])
    print("ready", flush=True)
    while True:
        i += 1
        log.append({"i": i, "text": "row %d " % i + "x" * 300})
        # a 2 MiB "checkpoint" whose every word is its row number
        blob = i.to_bytes(8, "little") * (1 << 18)
        write_bytes_atomic(directory / "last.bin", blob, durable=True)
    """
)


@pytest.mark.process
def test_sigkill_mid_row_and_mid_checkpoint_leaves_whole_rows_and_a_whole_checkpoint(tmp_path):
    """The writers alone, killed 25 times at random, each restart going back to the checkpoint
    as a resumed run does: rows are whole and numbered 1..n, the checkpoint is the one of row n or
    n-1 (never a mix of two), and temp files are swept."""
    rng = random.Random(SEED)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    data = tmp_path / "data"
    data.mkdir()
    for round_ in range(25):
        process = subprocess.Popen(
            [sys.executable, str(script), str(data)], stdout=subprocess.PIPE, text=True
        )
        assert process.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.15))
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        rows = read_rows(data / "rows.csv")
        assert [row["i"] for row in rows] == list(range(1, len(rows) + 1)), round_
        assert all(row["text"] == f"row {row['i']} " + "x" * 300 for row in rows)
        if (data / "last.bin").exists():
            blob = (data / "last.bin").read_bytes()
            assert len(blob) == 8 << 18, round_
            word = blob[:8]
            assert blob == word * (1 << 18), f"round {round_}: a torn checkpoint"
            assert int.from_bytes(word, "little") in (len(rows), len(rows) - 1), round_
    assert len(read_rows(data / "rows.csv")) > 25  # the writers made progress
    sweep_temp_files(data)
    assert not list(data.glob(TEMP_PREFIX + "*"))


def test_a_healthy_run_in_a_long_step_is_never_shown_crashed(write_preset, runs_dir, monkeypatch):
    """A step that takes 4 s (a huge batch, a slow disk): the heartbeat thread keeps status.toml
    fresh, so a reader with a 2-second staleness limit still sees the run running."""
    monkeypatch.setattr(st, "HEARTBEAT_STALE_S", 2.0)
    real = loop.F.cross_entropy
    calls = {"n": 0}

    def slow(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:  # busy, holding the GIL in short slices
                sum(range(1000))
        return real(*args, **kwargs)

    monkeypatch.setattr(loop.F, "cross_entropy", slow)
    seen: list[str] = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            for path in runs_dir.glob("*/run/status.toml"):
                status = read_status(path)
                if status is not None:
                    seen.append(st.effective_state(status))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        _, result = train(
            write_preset, runs_dir, FOUR_EPOCHS.replace("epochs = 4", "epochs = 1"), events=None
        )
    finally:
        stop.set()
        watcher.join()
    assert result.states == {"run": st.COMPLETED}
    assert calls["n"] > 3
    assert st.RUNNING in seen and st.CRASHED not in seen


def runs_listing(runs_dir: Path) -> str:
    """What `tui-trainer runs` prints."""
    command = [sys.executable, "-m", "tui_trainer", "runs", "--runs-dir", str(runs_dir)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@pytest.mark.process
def test_a_killed_trainer_reads_crashed_at_once_in_runs(write_preset, runs_dir):
    preset = write_preset(FOUR_EPOCHS.replace("epochs = 4", "epochs = 50"))
    process = subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", "run", str(preset), "--runs-dir", str(runs_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = list(runs_dir.glob("*/run/status.toml"))
            if statuses and (read_toml(statuses[0]) or {}).get("state") == "running":
                break
            time.sleep(0.05)
        listing = runs_listing(runs_dir)
        assert "running" in listing and "crashed" not in listing
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed = time.monotonic()
    listing = runs_listing(runs_dir)
    assert time.monotonic() - killed < 5.0
    assert "crashed" in listing and "running" not in listing


@pytest.mark.parametrize("first", ["SIGINT", "SIGTERM"])
def test_a_second_sigint_stops_at_once_and_corrupts_nothing(
    write_preset, runs_dir, first, four_epoch_reference
):
    """A stop request, then Ctrl-C before the step ends: the trainer does not wait to
    checkpoint; the files stay whole, and resuming still gives the uninterrupted rows."""

    def on_step(name, epoch, step, loss, images_per_s):
        if epoch == 2 and step == 3:
            os.kill(os.getpid(), getattr(signal, first))
            os.kill(os.getpid(), signal.SIGINT)

    events = Recorder()
    events.step = on_step
    _, result = train(write_preset, runs_dir, FOUR_EPOCHS, events=events)
    run = result.study_dir / "run"
    status = read_toml(run / "status.toml")
    assert status["state"] == st.INTERRUPTED
    assert status["message"] == "stopped at once (second interrupt)"
    assert result.exit_code == 130 and result.states == {"run": st.INTERRUPTED}
    assert [row["epoch"] for row in read_rows(run / "metrics.csv")] == [1]
    saved = checkpoint.load(run / "checkpoints" / checkpoint.LAST)
    assert saved["epoch"] == 1 and saved["partial"] is None  # no checkpoint taken on the way out

    again = resume_study(read_study(result.study_dir), None, Recorder())
    assert again.states == {"run": st.COMPLETED}
    assert learned(read_rows(run / "metrics.csv")) == learned(four_epoch_reference["metrics"])


@pytest.mark.process
@pytest.mark.parametrize("command", ["launch", "resume"])
def test_a_detached_trainer_ignores_sighup(write_preset, runs_dir, command):
    """What a dropped SSH link sends: the trainers the app starts (`run --detached`, `resume
    --detached`) keep training through it."""
    from tui_trainer import launch

    preset = write_preset(FOUR_EPOCHS.replace("epochs = 4", "epochs = 50"))
    if command == "launch":
        started = launch.launch(preset, [], runs_dir, "tiny")
    else:
        interrupted = runs_dir / "source"
        events = Recorder(
            on_epoch=lambda name, row: row["epoch"] == 1 and os.kill(os.getpid(), signal.SIGINT)
        )
        _, result = train(
            write_preset,
            interrupted,
            FOUR_EPOCHS.replace("epochs = 4", "epochs = 50"),
            events=events,
        )
        _forget_trainer(result.study_dir)
        started = launch.resume(result.study_dir, interrupted)
    process = started.process
    try:
        metrics = started.study_dir / "run" / "metrics.csv"
        deadline = time.monotonic() + 120
        while len(read_rows(metrics)) < 2 and time.monotonic() < deadline:
            assert process.poll() is None, (started.study_dir / "trainer.log").read_text()
            time.sleep(0.05)
        rows = len(read_rows(metrics))
        os.kill(process.pid, signal.SIGHUP)
        while len(read_rows(metrics)) < rows + 1 and time.monotonic() < deadline:
            assert process.poll() is None, "SIGHUP stopped the trainer"
            time.sleep(0.05)
        assert len(read_rows(metrics)) > rows
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 143


def _forget_trainer(study_dir: Path) -> None:
    """The study was trained in this (live) test process: record its trainer as gone."""
    from tui_trainer.store.atomic import write_toml_atomic

    study = read_toml(study_dir / "study.toml")
    study["launch"]["pid"] = 2**22 + 1
    write_toml_atomic(study_dir / "study.toml", study)
