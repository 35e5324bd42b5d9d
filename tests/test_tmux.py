"""The real `tui-trainer` in a real terminal (tmux): launch the quickstart, kill the terminal,
and check that training finished anyway and that a fresh `tui-trainer` lists the study; resume an
interrupted study from the monitor."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers import TINY_PRESET
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.reader import list_studies, read_study

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    def __init__(self, socket: str):
        self.socket = socket

    def __call__(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True)
        return result.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 180.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")

    def start(self, command: str) -> None:
        # pytest's readline exports COLUMNS=80 and LINES=24, which the app would trust over the
        # 120x40 terminal it is in: unset, so that the test sees what a person at 120x40 does
        command = f"unset COLUMNS LINES; {command}"
        self("new-session", "-d", "-s", "app", "-x", "120", "-y", "40", command)

    def launch_the_last_preset(self) -> None:
        """On the presets screen: the last preset (the test's own, after the built-in ones),
        its launch line, and `enter` there: its study starts."""
        from tui_trainer.config.presets import builtin_presets

        self.wait_for("quickstart")
        self("send-keys", "-t", "app", *["Down"] * len(builtin_presets()))
        self.wait_for("tiny test study")
        self("send-keys", "-t", "app", "Enter")
        self.wait_for("Overrides")
        self("send-keys", "-t", "app", "Enter")


def test_training_survives_the_terminal_and_is_listed_again(tmp_path):
    runs_dir = tmp_path / "runs"
    tmux = Tmux(f"tui-trainer-test-{uuid.uuid4().hex[:8]}")
    python = Path(sys.executable)
    command = f"cd {os.getcwd()} && exec {python} -m tui_trainer --runs-dir {runs_dir}"
    try:
        tmux.start(command)
        tmux.wait_for("quickstart")
        tmux("send-keys", "-t", "app", "Enter")  # the first preset: quickstart
        tmux.wait_for("Overrides")
        tmux("send-keys", "-t", "app", "-l", "train.epochs=3")
        tmux.wait_for("valid: 1 run(s), 3 run-epochs")
        tmux("send-keys", "-t", "app", "Enter")
        tmux.wait_for("running")
        tmux("kill-server")  # the terminal goes away, as with a dropped SSH link

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            studies = list_studies(runs_dir)
            if studies and studies[0].state == "completed":
                break
            time.sleep(0.5)
        (study,) = list_studies(runs_dir)
        assert study.state == "completed" and study.runs[0].epoch == 3

        tmux.start(command)
        tmux.wait_for("quickstart")
        tmux("send-keys", "-t", "app", "r")
        screen = tmux.wait_for(study.id)
        row = next(line for line in screen.splitlines() if study.id in line)
        assert "completed" in row and "1/1" in row
    finally:
        tmux("kill-server")


def test_an_interrupted_study_is_resumed_from_the_monitor(tmp_path, write_preset):
    from tests.helpers import interrupted_study

    runs_dir = tmp_path / "runs"
    study = interrupted_study(write_preset(TINY_PRESET), runs_dir)
    tmux = Tmux(f"tui-trainer-test-{uuid.uuid4().hex[:8]}")
    python = Path(sys.executable)
    try:
        tmux.start(f"cd {os.getcwd()} && exec {python} -m tui_trainer --runs-dir {runs_dir}")
        tmux.wait_for("quickstart")
        tmux("send-keys", "-t", "app", "r")  # the runs browser
        tmux.wait_for(study.name)
        tmux("send-keys", "-t", "app", "Enter")  # its monitor
        tmux.wait_for("interrupted  r resumes")
        tmux("send-keys", "-t", "app", "r")
        tmux.wait_for("Resume 1 run(s)")
        tmux("send-keys", "-t", "app", "y")
        tmux.wait_for("resuming")
        tmux.wait_for("completed", timeout=300)
        (run,) = read_study(study).runs
        assert run.state == "completed" and run.epoch == 2
        (resumed,) = read_toml(study / "study.toml")["resumes"]
        assert resumed["runs"] == ["run"] and resumed["command"][1] == "resume"
    finally:
        tmux("kill-server")


def test_the_launch_line_the_editors_guard_and_the_palette_in_a_real_terminal(tmp_path):
    """No training: a TOML list typed unquoted on the launch line, `esc` in the editor asking
    about an unsaved edit, and the command palette opening the runs browser by name."""
    tmux = Tmux(f"tui-trainer-test-{uuid.uuid4().hex[:8]}")
    command = f"cd {os.getcwd()} && exec {sys.executable} -m tui_trainer --runs-dir {tmp_path}"
    try:
        tmux.start(f"XDG_CONFIG_HOME={tmp_path / 'config'} {command}")
        tmux.wait_for("quickstart")
        tmux("send-keys", "-t", "app", "Enter")  # the first preset: quickstart
        tmux.wait_for("Overrides")
        tmux("send-keys", "-t", "app", "-l", "sweep.optim.lr=[0.05, 0.1] train.epochs=2")
        screen = tmux.wait_for("valid: 2 run(s), 4 run-epochs")
        assert "  lr=0.05\n" in screen and "  lr=0.1\n" in screen
        assert "time: no estimate yet: no run of this setup has finished here" in screen
        tmux("send-keys", "-t", "app", "Escape")
        tmux.wait_for("r Runs")
        tmux("send-keys", "-t", "app", "e")
        tmux.wait_for("editing presets/quickstart.toml")
        tmux("send-keys", "-t", "app", "-l", "2")  # into the first field: the study's name
        tmux("send-keys", "-t", "app", "Escape")
        tmux.wait_for("Your edits are not saved", timeout=30)
        tmux("send-keys", "-t", "app", "y")
        tmux.wait_for("r Runs")
        tmux("send-keys", "-t", "app", "C-p")
        tmux.wait_for("Search for commands")
        tmux("send-keys", "-t", "app", "-l", "Runs browser")
        tmux.wait_for("Every study in the runs directory", timeout=30)
        tmux("send-keys", "-t", "app", "Enter")
        tmux.wait_for("filter: part of a study id", timeout=30)
    finally:
        tmux("kill-server")


def test_run_names_are_whole_in_the_monitor_after_a_launch(tmp_path, write_preset):
    """Bug 1 of issue 14 in the real binary: the monitor opens as the trainer starts (before
    it wrote any run), and its runs table shows 'lr=0.05', never 'lr='."""
    from tui_trainer.launch import stop

    runs_dir = tmp_path / "runs"
    sweep = (
        TINY_PRESET.replace("epochs = 2", "epochs = 50") + '\n[sweep]\n"optim.lr" = [0.05, 0.1]\n'
    )
    preset = write_preset(sweep, name="sweep.toml")
    tmux = Tmux(f"tui-trainer-test-{uuid.uuid4().hex[:8]}")
    python = Path(sys.executable)
    command = f"cd {os.getcwd()} && exec {python} -m tui_trainer --runs-dir {runs_dir}"
    try:
        tmux.start(f"{command} --preset {preset}")
        tmux.launch_the_last_preset()
        screen = tmux.wait_for(" lr=0.1 ", timeout=120)
        names = [line.split()[1] for line in screen.splitlines() if line.startswith((" • ", " + "))]
        assert names == ["lr=0.05", "lr=0.1"], screen
    finally:
        for study in list_studies(runs_dir):
            with contextlib.suppress(Exception):  # already gone: nothing to stop
                stop(study.paths.root)
        tmux("kill-server")


def test_i_in_the_monitor_opens_a_runs_test_split_in_a_real_terminal(tmp_path):
    """The real binary: runs browser, a finished study's monitor, `i` on its second run, and
    there the matrix, the worst pairs, the sample tiles and their activation maps."""
    from tui_trainer.store.synthetic import write_synthetic_study
    from tui_trainer.store.synthetic_test_split import write_synthetic_test_split

    runs_dir = tmp_path / "runs"
    study = write_synthetic_study(runs_dir)
    write_synthetic_test_split(study / "lr=0.05")
    tmux = Tmux(f"tui-trainer-test-{uuid.uuid4().hex[:8]}")
    command = f"cd {os.getcwd()} && exec {sys.executable} -m tui_trainer --runs-dir {runs_dir}"
    try:
        tmux.start(f"XDG_CONFIG_HOME={tmp_path / 'config'} {command}")
        tmux.wait_for("quickstart")
        tmux("send-keys", "-t", "app", "r")  # the runs browser
        tmux.wait_for(study.name)
        tmux("send-keys", "-t", "app", "Enter")  # its monitor
        tmux.wait_for("i Inspect")
        tmux("send-keys", "-t", "app", "Down", "i")
        screen = tmux.wait_for("most confused: cat→dog 16% (160)", timeout=60)
        assert "lr=0.05  10 classes, 10000 test images, 9275" in screen
        row = next(line for line in screen.splitlines() if line.startswith(" 3 cat "))
        assert row.split()[2:8] == ["1", "·", "<1", "[81]", "<1", "16"]
        tmux("send-keys", "-t", "app", "3")
        screen = tmux.wait_for("12 mistakes, then 4 right", timeout=30)
        assert "cat→dog ✗" in screen and "p 0.55 #100" in screen
        tmux("send-keys", "-t", "app", "a")
        tmux.wait_for("their activation maps (a: the images)", timeout=30)
    finally:
        tmux("kill-server")


def test_a_study_quit_right_after_its_launch_is_reopened_at_once_in_a_real_terminal(
    tmp_path, write_preset
):
    """Issue 28, monitor bug 5 in the real binary: quit a moment after a launch (its trainer
    still loading, no study.toml yet) and start again: the study opens at once, `starting`,
    and goes on to `running` there."""
    from tui_trainer.launch import stop

    runs_dir = tmp_path / "runs"
    preset = write_preset(TINY_PRESET.replace("epochs = 2", "epochs = 200"), name="long.toml")
    tmux = Tmux(f"tui-trainer-test-{uuid.uuid4().hex[:8]}")
    # the second start gets its own terminal: a server started on a socket just killed may not
    again = Tmux(f"tui-trainer-test-{uuid.uuid4().hex[:8]}")
    command = f"cd {os.getcwd()} && exec {sys.executable} -m tui_trainer --runs-dir {runs_dir}"
    try:
        tmux.start(f"XDG_CONFIG_HOME={tmp_path / 'config'} {command} --preset {preset}")
        tmux.launch_the_last_preset()
        tmux.wait_for("  starting")
        tmux("send-keys", "-t", "app", "q")
        (study,) = [path for path in runs_dir.iterdir() if path.is_dir()]
        loading = not (study / "study.toml").exists()
        tmux("kill-server")

        again.start(f"XDG_CONFIG_HOME={tmp_path / 'config'} {command}")
        screen = again.wait_for(f"{study.name}  ", timeout=30)
        assert loading and "Overrides" not in screen  # it was loading, and its monitor shows
        again.wait_for(f"{study.name}  running", timeout=300)
    finally:
        for found in list_studies(runs_dir):
            with contextlib.suppress(Exception):  # already gone: nothing to stop
                stop(found.paths.root)
        tmux("kill-server")
        again("kill-server")
