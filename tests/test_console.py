"""The live Rich display and the plain log lines, driven with the events a study sends."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from tui_trainer.console.live import LiveDisplay
from tui_trainer.console.plain import PlainLog, epoch_line
from tui_trainer.store.schema import RunSummary

ROW = {
    "epoch": 1,
    "train_loss": 0.5,
    "train_acc": 0.8,
    "val_loss": 0.4,
    "val_acc": 0.85,
    "lr": 0.1,
    "epoch_time_s": 2.0,
    "images_per_s": 600.0,
}


def drive(listener, study_dir: Path, after_steps=lambda: None) -> None:
    listener.study_started("20260101-000000-x", study_dir, [("lr=0.1", 2), ("lr=0.2", 2)])
    listener.run_started("lr=0.1", 2, 4, "cpu")
    for step in range(1, 5):
        logged = step % 2 == 0
        listener.step("lr=0.1", 1, step, 0.75 if logged else None, 512.0 if logged else None)
    after_steps()
    listener.epoch_ended("lr=0.1", ROW)
    listener.run_finished("lr=0.1", "completed", RunSummary(test_acc=0.9123, best_val_acc=0.85), "")
    listener.run_started("lr=0.2", 2, 4, "cpu")
    listener.run_finished("lr=0.2", "diverged", None, "loss became nan in epoch 1 by step 3")
    listener.study_finished({"lr=0.1": "completed", "lr=0.2": "diverged"})


def test_live_display_shows_runs_progress_and_outcomes(tmp_path):
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160, color_system=None)
    display = LiveDisplay(console)
    drive(display, tmp_path, after_steps=display.progress.refresh)
    screen = buffer.getvalue()
    final = screen[screen.rfind("study 2/2") :]
    assert "20260101-000000-x  2 run(s)" in screen
    assert re.search(r"lr=0\.1 .* 50\.0% .*epoch 1/2 step 4/4  loss 0\.7500  512 img/s", screen)
    assert re.search(r"lr=0\.1 .*100\.0%.*completed  test acc 0\.9123  best val 0\.8500", final)
    assert re.search(r"lr=0\.2 .*diverged  loss became nan in epoch 1 by step 3", final)


def test_plain_log_writes_stream_and_trainer_log(tmp_path):
    stream = io.StringIO()
    log = PlainLog([stream], to_study_log=True)
    drive(log, tmp_path)
    lines = stream.getvalue().splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line) for line in lines)
    assert any(line.endswith(epoch_line("lr=0.1", 2, ROW)) for line in lines)
    assert lines[-1].endswith("study finished: 1 completed, 1 diverged")
    assert (tmp_path / "trainer.log").read_text() == stream.getvalue()


def test_the_study_end_line_says_stopped_and_not_started_for_a_stopped_study():
    from tui_trainer.console.plain import study_end_line

    assert study_end_line({"a": "completed", "b": "diverged"}, "x") == (
        "study finished: 1 completed, 1 diverged"
    )
    assert study_end_line({"a": "completed", "b": "interrupted", "c": "queued"}, "x") == (
        "study stopped: 1 completed, 1 interrupted, 1 not started; `tui-trainer resume x` goes on"
    )


def test_plain_mode_prints_a_progress_line_at_a_steady_interval_within_an_epoch():
    """10 steps an epoch, 3 epochs, a step a second for 30 s: a line every 10 s after the
    first step (none more often), with the step, the latest logged loss and images/s, and the
    run's ETA at its pace."""
    stream = io.StringIO()
    now = [100.0]
    log = PlainLog([stream], to_study_log=False, progress_every=10, clock=lambda: now[0])
    log.run_started("lr=0.1", 3, 10, "cpu")
    for global_step in range(1, 31):
        epoch, step = divmod(global_step - 1, 10)
        loss = 2.0 / global_step if global_step % 4 == 0 else None  # once a logging window
        log.step("lr=0.1", epoch + 1, step + 1, loss, 512.0 if loss else None)
        now[0] += 1.0
    lines = [line.split(" ", 2)[2] for line in stream.getvalue().splitlines()]
    assert lines == [  # the first step at 100 s; at 110 s step 11 of 30: 19 left, 1 a second
        "lr=0.1 started: 3 epochs x 10 steps on cpu",
        "lr=0.1 epoch 2/3 step 1/10  loss 0.2500  512 img/s  ETA 0:19",
        "lr=0.1 epoch 3/3 step 1/10  loss 0.1000  512 img/s  ETA 0:09",
    ]


def test_plain_mode_without_an_interval_prints_no_progress_lines():
    stream = io.StringIO()
    now = [0.0]
    log = PlainLog([stream], to_study_log=False, clock=lambda: now[0])
    log.run_started("run", 1, 100, "cpu")
    for step in range(1, 101):
        log.step("run", 1, step, 1.0, 512.0)
        now[0] += 60.0
    assert len(stream.getvalue().splitlines()) == 1


def test_epoch_line():
    assert epoch_line("run", 20, ROW) == (
        "run epoch 1/20  train_loss 0.5000  train_acc 0.8000  val_loss 0.4000  val_acc 0.8500"
        "  lr 0.1  2.0s  600 img/s"
    )
