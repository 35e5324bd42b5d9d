"""What the test modules share: tiny presets, training a study in-process, studies written by hand,
and studies left unfinished for `resume` (synthetic ones with a run crashed or interrupted halfway,
and a real one stopped by SIGTERM after its first epoch). Fixtures live in conftest.py."""

from __future__ import annotations

import os
import signal
import socket
from datetime import datetime, timezone
from pathlib import Path

from tui_trainer.config import load_preset
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.csvlog import cut_rows_after, read_rows

# -- presets ---------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent

# A real study small enough for tests: quarter-width MobileNet v1 on digits, CPU, a few epochs.
TINY_PRESET = """\
[study]
name = "tiny"
description = "tiny test study"

[data]
dataset = "digits"
augment = ["crop"]
batch_size = 64

[model]
arch = "mobilenet_v1"
width_mult = 0.25

[optim]
name = "sgd"
lr = 0.1
momentum = 0.9
nesterov = true
weight_decay = 5e-4

[schedule]
name = "cosine"

[train]
epochs = 2
seed = 0
device = "cpu"
log_every_steps = 5
"""

FOUR_EPOCHS = TINY_PRESET.replace("epochs = 2", "epochs = 4")


# -- training in this process ----------------------------------------------------------------------

DIGITS_PER_CLASS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # sklearn's digits
TIMING_COLUMNS = {"epoch_time_s", "images_per_s", "elapsed_s"}


class Recorder:
    """TrainingEvents that remembers what it was told; optionally acts on an epoch's end."""

    def __init__(self, on_epoch=None):
        self.events: list[tuple] = []
        self.on_epoch = on_epoch

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.events.append((name, *args))
            if name == "epoch_ended" and self.on_epoch:
                self.on_epoch(*args)

        return record


def train(write_preset, runs_dir, text=TINY_PRESET, overrides=(), events=None):
    """Load `text` as a preset (written by the write_preset fixture) and train it here."""

    loaded = load_preset(write_preset(text), list(overrides))
    result = run_study(loaded, runs_dir, events or Recorder(), argv=["test"])
    return loaded, result


# -- studies without training ----------------------------------------------------------------------


def fake_study(runs_dir, study_id, runs, launch_runs=None, state="completed"):
    """A study directory written by hand, no training: `runs` each in `state` at epoch 2/2."""
    root = runs_dir / study_id
    root.mkdir(parents=True)
    launch = {"time": datetime(2026, 1, 1, tzinfo=timezone.utc), "runs": launch_runs or runs}
    write_toml_atomic(root / "study.toml", {"study": {"name": "x"}, "launch": launch})
    for name in runs:
        (root / name).mkdir()
        write_toml_atomic(
            root / name / "status.toml",
            {"state": state, "epoch": 2, "epochs": 2, "best_val_acc": 0.5},
        )
    return root


# -- unfinished studies, for resume ----------------------------------------------------------------


def dead_trainer() -> dict:
    """A process identity that reads as gone: this process's pid with another start time (the
    pid taken over by a later process), so no pid has to be guessed free."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "pid_started": 1.0}


def make_unfinished(study: Path, run: str = "lr=0.5", state: str = "crashed", epoch: int = 7):
    """Turn a completed run of a synthetic study into one stopped after `epoch`: `interrupted`
    as a trainer writes it on SIGTERM, or `crashed` (written as running, its trainer gone)."""
    run_dir = Path(study) / run
    cut_rows_after(run_dir / "metrics.csv", "epoch", epoch)
    cut_rows_after(run_dir / "steps.csv", "epoch", epoch)
    (run_dir / "summary.toml").unlink()
    best = max(read_rows(run_dir / "metrics.csv"), key=lambda row: row["val_acc"])
    status = read_toml(run_dir / "status.toml")
    status.pop("test_acc", None)
    status.update(epoch=epoch, best_val_acc=best["val_acc"], best_epoch=best["epoch"])
    if state == "crashed":
        status.update(state="running", heartbeat=datetime(2026, 11, 22, 12, 5, tzinfo=timezone.utc))
        status.update(dead_trainer())
    else:
        status["state"] = state
    write_toml_atomic(run_dir / "status.toml", status)
    log = Path(study) / "trainer.log"  # the run's last line: its stop, or nothing (a crash)
    last = f" {run} interrupted: stopped by request in epoch {epoch + 1}\n"
    ended = f" {run} completed\n"
    lines = log.read_text().splitlines(keepends=True)
    lines = [
        line[: -len(ended)] + last if line.endswith(ended) else line
        for line in lines
        if state == "interrupted" or not line.endswith(ended)
    ]
    log.write_text("".join(lines))
    return run_dir


def resumed_before_first_epoch(study: Path, run: str = "lr=0.5") -> Path:
    """Turn a completed run of a synthetic study into one that `resume` restarted from scratch
    and that has not finished its first epoch, its status.toml as an older trainer wrote it:
    running (this process stands for the trainer), with the placeholder best of -1."""
    from tui_trainer.store.status import process_identity

    run_dir = Path(study) / run
    for name in ("metrics.csv", "steps.csv", "summary.toml"):
        (run_dir / name).unlink()
    status = read_toml(run_dir / "status.toml")
    for key in ("test_acc", "test_loss"):
        status.pop(key, None)
    status.update(
        state="running",
        epoch=0,
        step=3,
        resumes=1,
        best_val_acc=-1.0,
        best_epoch=0,
        heartbeat=datetime.now(timezone.utc),
        **process_identity(),
    )
    write_toml_atomic(run_dir / "status.toml", status)
    return run_dir


def interrupted_study(preset: Path, runs_dir: Path) -> Path:
    """Train `preset` (the tiny two-epoch study) in this process and stop it with SIGTERM as its
    first epoch ends: the run is left interrupted with one epoch and its checkpoint, as
    `tui-trainer run` leaves it on SIGTERM."""

    class StopAfterEpochOne:
        def __getattr__(self, name):
            def event(*args, **kwargs):
                if name == "epoch_ended" and args[1]["epoch"] == 1:
                    os.kill(os.getpid(), signal.SIGTERM)

            return event

    result = run_study(load_preset(preset), runs_dir, StopAfterEpochOne(), argv=["test"])
    assert set(result.states.values()) == {"interrupted"}, result.states
    # The trainer was this process, which goes on: record it as gone, as a trainer process is
    # once it has exited (else the study reads as still running and is not resumed).
    study_file = result.study_dir / "study.toml"
    study = read_toml(study_file)
    study["launch"].update(dead_trainer())
    write_toml_atomic(study_file, study)
    return result.study_dir


# -- hostile files ---------------------------------------------------------------------------------


def within(seconds: float, function, *args, **kwargs):
    """`function(*args)`'s result, or its exception; fails the test (instead of hanging it) when
    it has not returned after `seconds`: what a reader blocked on a FIFO would do."""
    import threading

    outcome: dict = {}

    def target():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{getattr(function, '__name__', function)} blocked"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def make_fifo(path: Path) -> Path:
    """A FIFO at `path` (a file there is replaced): opening it for reading blocks until a
    writer comes, and none ever does."""
    if path.exists() or path.is_symlink():
        path.unlink()
    os.mkfifo(path)
    return path


# -- images and the app ----------------------------------------------------------------------------


def make_folder(root, classes=("cat", "dog", "fox"), per_class=12, size=20):
    """An image folder: one sub-folder of PNGs per class (and a file that is not an image)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((size, size + 4, 3), index * 80, dtype=np.uint8) + rng.integers(
                0, 30, (size, size + 4, 3), dtype=np.uint8
            )
            Image.fromarray(pixels).save(root / name / f"{i}.png")
        (root / name / "notes.txt").write_text("not an image")


def record_notes(app) -> list[tuple[str, str]]:
    """(message, severity) of every notification the app shows from now on."""
    notes = []
    notify = app.notify

    def record(message, **kwargs):
        notes.append((str(message), kwargs.get("severity", "information")))
        return notify(message, **kwargs)

    app.notify = record
    return notes


# -- a parallel study, written by hand -------------------------------------------------------------

WAITING = "waiting for a free job: 3 of 3 are training (--jobs 3)"
REMOTE_HOST = "gpu-b"


def parallel_study(runs_dir: Path, study_id: str = "20261201-090000-parallel") -> Path:
    """A parallel study as its driver and workers leave it mid-way, every pace 10 s/epoch of
    10 epochs: lr=0.01 completed and lr=0.02, lr=0.05 running on this machine's GPU 0 (two runs
    per GPU), lr=0.1 running on GPU 1 of another host (gpu-b), its second attempt; lr=0.2 and
    lr=0.5 queued, waiting. Each started run has its worker.log. The running runs' ETAs are 60,
    70 and 80 s: the study's ETA is 170 s (three lanes), not 260 (one)."""
    from tui_trainer.store import status as st
    from tui_trainer.store.schema import DeviceFigures, RunStatus, write_status

    root = runs_dir / study_id
    root.mkdir(parents=True)
    names = ["lr=0.01", "lr=0.02", "lr=0.05", "lr=0.1", "lr=0.2", "lr=0.5"]
    launch = {"time": datetime(2026, 12, 1, 9, tzinfo=timezone.utc), "runs": names}
    write_toml_atomic(root / "study.toml", {"study": {"name": "parallel"}, "launch": launch})
    here = st.process_identity()  # alive: the runs of this machine read running
    remote = {"host": REMOTE_HOST, "pid": 4242, "pid_started": 1.0}  # judged by heartbeat
    gpu0 = {"gpu_util_percent": 91.0, "gpu_mem_used_mb": 30720.0, "gpu_mem_total_mb": 143771.0}
    machine = {"cpu_percent": 55.0, "ram_percent": 20.0}
    h200, a100 = "NVIDIA H200", "NVIDIA A100-SXM4-80GB"
    shared = {"gpu": "0", "gpu_share": 2, "attempt": 1, "device": "cuda", "device_name": h200}
    runs = {
        "lr=0.01": RunStatus(
            state=st.COMPLETED, epoch=10, elapsed_s=100.0, test_acc=0.61, best_val_acc=0.62,
            **shared, **here, device_figures=DeviceFigures(**gpu0, **machine, rss_mb=2000.0),
        ),
        "lr=0.02": RunStatus(
            state=st.RUNNING, epoch=4, elapsed_s=40.0, eta_s=60.0, **shared, **here,
            device_figures=DeviceFigures(
                **gpu0, **machine, process_cpu_percent=98.0, rss_mb=2100.0
            ),
        ),
        "lr=0.05": RunStatus(
            state=st.RUNNING, epoch=3, elapsed_s=30.0, eta_s=70.0, **shared, **here,
            device_figures=DeviceFigures(
                **gpu0, **machine, process_cpu_percent=97.0, rss_mb=2200.0
            ),
        ),
        "lr=0.1": RunStatus(
            state=st.RUNNING, epoch=2, elapsed_s=20.0, eta_s=80.0, gpu="1", attempt=2,
            device="cuda", device_name=a100, **remote,
            device_figures=DeviceFigures(
                gpu_util_percent=64.0, gpu_mem_used_mb=10240.0, gpu_mem_total_mb=81920.0,
                cpu_percent=30.0, ram_percent=12.0, process_cpu_percent=101.0, rss_mb=2048.0,
            ),
        ),
        "lr=0.2": RunStatus(state=st.QUEUED, waiting=WAITING),
        "lr=0.5": RunStatus(state=st.QUEUED, waiting=WAITING),
    }  # fmt: skip
    for name, status in runs.items():
        (root / name).mkdir()
        status.epochs = 10
        if status.state == st.RUNNING:
            status.heartbeat = datetime.now(timezone.utc)
        write_status(root / name / "status.toml", status)
        if status.state != st.QUEUED:
            (root / name / "worker.log").write_text(
                f"2026-12-01 09:00:05 {name} started: 10 epochs on {status.device_name}\n"
            )
    (root / "trainer.log").write_text(
        "2026-12-01 09:00:00 study parallel: 6 run(s)\n"
        "2026-12-01 09:00:01 lr=0.01 started on GPU 0, shared by 2, pid 1\n"
    )
    return root


def run_study(loaded, runs_dir, events, **options):
    """train.in_process.run_study, told as the CLI tells it: the display and trainer.log."""
    from tui_trainer.console.plain import with_study_log
    from tui_trainer.train import in_process

    return in_process.run_study(loaded, runs_dir, with_study_log(events), **options)


def resume_study(study, run_name, events, **options):
    """train.in_process.resume_study, told as the CLI tells it: the display and trainer.log."""
    from tui_trainer.console.plain import with_study_log
    from tui_trainer.train import in_process

    return in_process.resume_study(study, run_name, with_study_log(events), **options)
