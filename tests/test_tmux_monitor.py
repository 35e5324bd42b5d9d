"""Issue 28's monitor bugs in the real binary, in a real terminal (tmux, 120x40): the studies are
written on disk (the synthetic one, as tests/test_ui_monitor_live.py changes it) and a live run's
trainer is a stub, a real process that rewrites the run's heartbeat every second. No training:
each test takes seconds. Each failed on the code before its fix (bug 1: eac117e^, 2: fc41d1e^,
3: 9a7a2f9^, 4: 49d2fd6^, 6: 4412e7f^).

Bug 1 needs the runs table to fit the terminal: the table has focus, and a DataTable whose
columns fit gives left/right up to the screen (it scrolls sideways only when it overflows), so
they reach the monitor's own keys; a study whose table is wider than the terminal, or a focused
chart, keeps them."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_tmux import Tmux
from tests.test_ui_monitor_live import live_study, partial_batch_study
from tui_trainer.store.atomic import read_toml

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

# The stub trainer: the run's status.toml as it is, with this process's identity and a fresh
# heartbeat, every second (a trainer rewrites it about once a second).
HEARTBEATS = """\
import sys, time
from pathlib import Path
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.clock import utc_now
path = Path(sys.argv[1])
while True:
    write_toml_atomic(path, {**read_toml(path), **st.process_identity(), "heartbeat": utc_now()})
    time.sleep(1.0)
"""


@contextlib.contextmanager
def stub_trainer(run_dir: Path) -> Iterator[subprocess.Popen]:
    """A real process that takes `run_dir` over as its trainer (its pid in status.toml, which
    says running) and keeps its heartbeat fresh until the test ends."""
    status = run_dir / "status.toml"
    process = subprocess.Popen([sys.executable, "-c", HEARTBEATS, str(status)], cwd=os.getcwd())
    try:
        deadline = time.monotonic() + 30
        while read_toml(status).get("pid") != process.pid:
            assert time.monotonic() < deadline and process.poll() is None, "no heartbeat"
            time.sleep(0.1)
        yield process
    finally:
        process.kill()
        process.wait()


@contextlib.contextmanager
def app_in_tmux(runs_dir: Path) -> Iterator[Tmux]:
    """`python -m tui_trainer` of this checkout on `runs_dir`, in a tmux terminal of 120x40.

    Under pytest the environment says COLUMNS=80 and LINES=24 (readline, imported by pytest,
    exports them), and the app would believe them over the terminal: they are unset."""
    tmux = Tmux(f"tui-trainer-test-{uuid.uuid4().hex[:8]}")
    app = f"{sys.executable} -m tui_trainer --runs-dir {runs_dir}"
    try:
        tmux.start(f"cd {os.getcwd()} && exec env -u COLUMNS -u LINES {app}")
        yield tmux
    finally:
        tmux("kill-server")


def wait_for_any(tmux: Tmux, texts: tuple[str, ...], timeout: float = 60.0) -> str:
    """The screen once one of `texts` is on it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = tmux.screen()
        if any(text in screen for text in texts):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"none of {texts!r} appeared; the screen was:\n{tmux.screen()}")


def row_of(screen: str, run: str) -> str:
    """The runs table's row of `run` (' x   lr=0.5   running …')."""
    return next(line for line in screen.splitlines() if line.split()[1:2] == [run])


def title_line(screen: str) -> str:
    """The study bar: the line under the header."""
    return screen.splitlines()[1]


def test_left_and_right_on_a_live_study_never_turn_it_into_a_replay_in_a_real_terminal(
    tmp_path,
):
    """Bug 1: it read 'replay epoch 6/8 x2  paused' on a running study, and p and space left
    it so. Now left/right only say that they scrub a replay, and it stays live."""
    study = live_study(tmp_path / "runs")
    with (
        stub_trainer(study / "lr=0.5"),
        app_in_tmux(tmp_path / "runs") as tmux,
    ):
        tmux.wait_for("  running")  # the live study's monitor opens by itself
        tmux.wait_for("Inspect")
        tmux("send-keys", "-t", "app", "Left", "Left", "Right")
        screen = wait_for_any(tmux, ("replay epoch", "left/right scrub a replay"))
        title = title_line(screen)
        assert "replay" not in title, title
        tmux("send-keys", "-t", "app", "p", "Space", "Left")
        tmux.wait_for("the study is still running", timeout=30)
        time.sleep(0.5)  # four refreshes of the monitor
        title = title_line(tmux.screen())
        assert title.split()[:2] == [study.name, "running"] and title.endswith("ETA 1:00"), title
        assert "replay" not in title


def test_the_pace_and_loss_shown_fold_an_epochs_partial_last_batch_in_a_real_terminal(tmp_path):
    """Bug 2: the window of epoch 1's last, partial batch (12 images in 6 s, loss 1.195) showed
    as the run's pace and loss (2 img/s, 1.195) in the table and the run's line; folded into
    the window before it, they are 21 img/s and 0.5086."""
    study = partial_batch_study(tmp_path / "runs")
    with (
        stub_trainer(study / "lr=0.5"),
        app_in_tmux(tmp_path / "runs") as tmux,
    ):
        tmux.wait_for("  running")
        tmux.wait_for("Inspect")
        tmux("send-keys", "-t", "app", "Down", "Down")  # the running run's line
        screen = tmux.wait_for(" step 21/21 ", timeout=30)
        header = next(line for line in screen.splitlines() if " img/s " in line)
        start = header.index("img/s")
        assert row_of(screen, "lr=0.5")[start : start + 5].strip() == "21"
        line = next(line.strip() for line in screen.splitlines() if " step 21/21 " in line)
        assert line.startswith("step 21/21 21 img/s · train loss 0.5086 acc "), line


def test_a_run_in_epoch_1_has_an_eta_from_its_first_step_row_in_a_real_terminal(tmp_path):
    """Bug 3: before its first epoch ended a run had no ETA (so a 1-epoch study never had
    one). One row, 10 steps in 5 s: the 150 steps left of 8 epochs x 20 take 1:15."""
    from tui_trainer.store.schema import STEP_COLUMNS

    study = live_study(tmp_path / "runs", epoch=0, step=10, steps_per_epoch=20, eta_s=None)
    run_dir = study / "lr=0.5"
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    (run_dir / "metrics.csv").write_text(header + "\n")
    (run_dir / "steps.csv").write_text(
        ",".join(STEP_COLUMNS) + "\n" + "1,10,2.0,0.1,0.1,128.0,90.0,5.0\n"
    )
    with stub_trainer(run_dir), app_in_tmux(tmp_path / "runs") as tmux:
        tmux.wait_for("  running")
        screen = tmux.wait_for("Inspect")
        time.sleep(0.5)  # four refreshes of the monitor
        screen = tmux.screen()
        assert row_of(screen, "lr=0.5").split()[1:4] == ["lr=0.5", "running", "0/8"]
        assert " 1:15 " in row_of(screen, "lr=0.5")
        assert title_line(screen).endswith("ETA 1:15"), title_line(screen)


def first_epochs_study(runs_dir: Path) -> Path:
    """A finished one-run study as the quickstart's first epochs leave it: losses of 0.78 to
    2.57, the learning rate cosine from a peak of 0.1, steps logged through epoch 4."""
    from tui_trainer.store.csvlog import read_rows
    from tui_trainer.store.schema import metric_columns
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir, learning_rates=(0.1,), epochs=4)
    metrics = study / "lr=0.1" / "metrics.csv"
    columns = metric_columns(100)
    rows = read_rows(metrics)
    # (train loss, validation loss, learning rate) of epochs 1 to 4
    figures = [(2.57, 2.3, 0.1), (1.8, 1.5, 0.0993), (1.2, 1.1, 0.0973), (0.78, 0.85, 0.094)]
    for row, (train, val, lr) in zip(rows, figures, strict=True):
        row.update(train_loss=train, val_loss=val, lr=lr)
    text = ",".join(columns) + "\n"
    for row in rows:
        text += ",".join("" if row.get(c) is None else str(row[c]) for c in columns) + "\n"
    metrics.write_text(text)
    return study


def drawn_rows(lines: list[str]) -> int:
    """How many of `lines` a curve crosses: a braille dot (a line) or a '•' (a marker)."""
    return sum(any(0x2800 < ord(char) <= 0x28FF or char == "•" for char in line) for line in lines)


def test_a_finished_studys_charts_use_their_height_and_show_its_last_steps_in_a_real_terminal(
    tmp_path,
):
    """Bug 4: losses of 0.78-2.57 sat on a 0-4 axis, drawn in 4 of its 7 rows, the peak
    learning rate 0.1 was 'off scale ▲0.1', and the step-loss chart of a finished study was an
    empty box. Now the loss curves cross all 7 rows of their chart (ticks 2 and 1 on an axis of
    0.67-2.67), nothing is off scale, and the step chart has the last windows."""
    study = first_epochs_study(tmp_path / "runs")
    with app_in_tmux(tmp_path / "runs") as tmux:
        tmux.wait_for("quickstart")
        tmux("send-keys", "-t", "app", "r")  # the runs browser
        tmux.wait_for(study.name)
        tmux("send-keys", "-t", "app", "Enter")  # its monitor
        tmux.wait_for("Inspect")
        time.sleep(0.5)  # four refreshes of the monitor
        lines = tmux.screen().splitlines()
    assert "off scale" not in "\n".join(lines)
    top = next(i for i, line in enumerate(lines) if "loss: train line" in line) + 2
    bottom = next(i for i in range(top, len(lines)) if "└" in lines[i][:4])
    loss_rows = [line[:60] for line in lines[top:bottom]]
    assert [row.split("┤")[0].strip() for row in loss_rows if "┤" in row[:4]] == ["2", "1"]
    assert drawn_rows(loss_rows) == len(loss_rows) == 7, "\n".join(lines)
    top = next(i for i, line in enumerate(lines) if "step loss" in line) + 2
    bottom = next(i for i in range(top, len(lines)) if "└" in lines[i][60:])
    assert drawn_rows([line[60:] for line in lines[top:bottom]]) == 7, "\n".join(lines)


def test_the_highlighted_runs_line_is_cut_between_figures_at_120_columns_in_a_real_terminal(
    tmp_path,
):
    """Bug 6: it ended '… best 0.4844 @ 5 · elapsed' with no value; now at '@ 5'."""
    study = live_study(tmp_path / "runs", step=10)
    with (
        stub_trainer(study / "lr=0.5"),
        app_in_tmux(tmp_path / "runs") as tmux,
    ):
        tmux.wait_for("  running")
        tmux.wait_for("Inspect")
        tmux("send-keys", "-t", "app", "Down", "Down")
        screen = tmux.wait_for(" step 10/20 ", timeout=30)
        line = next(line.strip() for line in screen.splitlines() if " step 10/20 " in line)
        assert line == (
            "step 10/20 4210 img/s · train loss 1.1984 acc 0.5716 · "
            "val loss 2.1984 acc 0.4716 · lr 0.5 · best 0.4844 @ 5"
        )
