"""Text read from a study's files never reaches the terminal raw: escape sequences in a
description, a directory name, a status message, a config value or trainer.log are shown as
inert escapes (`\\x1b`) by `show`, `runs` and the app, so they cannot retitle the terminal, clear
it or write the clipboard. Checked on the strings, through the CLI, in the app (Pilot), and in
a real terminal (tmux: the pane's title stays as it was)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from textual.widgets import DataTable, Log
from typer.testing import CliRunner

from tui_trainer.cli import app
from tui_trainer.printable import printable, printable_value
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.follow import StudyFollower
from tui_trainer.store.reader import list_studies
from tui_trainer.store.synthetic import write_synthetic_study

runner = CliRunner()
TITLE = "\x1b]0;owned\x07"  # OSC 0: sets the terminal's title
CLEAR = "\x1b[2J\x1b[H"
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"  # OSC 52: writes the clipboard
CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")
MARKUP = "[/x]"  # parsed as Rich markup, an unmatched closing tag raises MarkupError
# a directory name cannot hold "/": markup that would restyle it, shown as written instead
NAMED_ID = "20261122-130000-x[red]\\x1b]0;owned\\x07"  # the second study's id, as shown


def no_controls(text: str) -> bool:
    return not any(char in text for char in CONTROLS)


def hostile_study(runs_dir: Path) -> tuple[Path, Path]:
    """A synthetic study whose description, status message, config and log carry escape
    sequences, and a second study whose very directory name does."""
    study = write_synthetic_study(runs_dir, epochs=3)
    data = read_toml(study / "study.toml")
    data["study"]["description"] = f"lr sweep{TITLE}{CLEAR}{CLIPBOARD}"
    data["sweep"] = {MARKUP: [1]}  # Rich markup where a sweep key belongs
    write_toml_atomic(study / "study.toml", data)
    status = read_toml(study / "lr=0.05" / "status.toml")
    status["state"], status["message"] = "failed", f"boom{TITLE}\u202e"
    status["swept"] = {MARKUP: "[/bold]"}
    write_toml_atomic(study / "lr=0.05" / "status.toml", status)
    config = read_toml(study / "lr=0.05" / "config.toml")
    config["optim"]["note"] = "\x9b31m red"
    write_toml_atomic(study / "lr=0.05" / "config.toml", config)
    with open(study / "trainer.log", "a", encoding="utf-8") as log:
        log.write(f"a log line{TITLE}{CLEAR}\n")
    named = runs_dir / f"20261122-130000-x[red]{TITLE}"
    shutil.copytree(study, named)
    return study, named


def test_printable_shows_controls_as_inert_escapes_and_leaves_plain_text_alone():
    assert printable(f"a{TITLE}b") == "a\\x1b]0;owned\\x07b"
    assert printable("\u202egnp.exe") == "\\u202egnp.exe"
    assert printable("tab\tand\nnewline") == "tab and\\x0anewline"
    assert printable("tab\tand\nnewline", multiline=True) == "tab and\nnewline"
    assert printable("x\x9by") == "x\\x9by"
    assert printable(os.fsdecode(b"caf\xe9")) == "caf\\xe9"  # an undecodable file-name byte
    assert printable("lr=0.05,wd=0.0005 — ok ✓") == "lr=0.05,wd=0.0005 — ok ✓"
    assert printable("x" * 10, limit=5) == "xxxx…"
    assert printable_value({"k\x1b": ["v\x07", 1]}) == {"k\\x1b": ["v\\x07", 1]}


def test_every_string_a_reader_hands_out_is_printable(tmp_path):
    study, named = hostile_study(tmp_path / "runs")
    records = list_studies(tmp_path / "runs")
    assert {record.id for record in records} == {study.name, NAMED_ID}
    for record in records:
        assert no_controls(record.description) and no_controls(record.id)
        failed = next(run for run in record.runs if run.name == "lr=0.05")
        assert failed.status.message == "boom\\x1b]0;owned\\x07\\u202e"
    follower = StudyFollower(named)
    follower.poll()
    lines = follower.new_log_lines()
    assert lines[-1] == "a log line\\x1b]0;owned\\x07\\x1b[2J\\x1b[H"
    assert all(no_controls(line) for line in lines)


def test_runs_and_show_print_no_escape_sequence_from_the_files(tmp_path):
    study, named = hostile_study(tmp_path / "runs")
    runs_dir = str(tmp_path / "runs")
    for args in (
        ["runs"],
        ["show", study.name],
        ["show", f"{study.name}/lr=0.05"],
        ["show", str(named)],
        ["show", f"{named}/lr=0.05"],
    ):
        result = runner.invoke(app, [*args, "--runs-dir", runs_dir])
        assert result.exit_code == 0, result.output
        assert no_controls(result.output), (args, result.output)
    shown = runner.invoke(app, ["show", f"{study.name}/lr=0.05", "--runs-dir", runs_dir]).output
    assert "boom\\x1b]0;owned\\x07\\u202e" in shown and "\\x9b31m red" in shown


def test_an_error_quoting_a_hostile_name_prints_it_escaped(tmp_path):
    result = runner.invoke(app, ["show", f"nothing{TITLE}", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2 and no_controls(result.output)


def test_the_app_shows_hostile_text_escaped(tmp_path):
    from tui_trainer.ui.app import create_app
    from tui_trainer.ui.screens.compare import CompareScreen
    from tui_trainer.ui.screens.monitor import MonitorScreen

    _, named = hostile_study(tmp_path / "runs")

    async def scenario():
        app_ = create_app(tmp_path / "runs", user_presets_dir=tmp_path / "none")
        async with app_.run_test(size=(120, 40)) as pilot:
            await pilot.press("r")
            await pilot.pause()
            table = app_.screen.query_one("#studies", DataTable)
            cells = [str(cell) for row in range(table.row_count) for cell in table.get_row_at(row)]
            assert NAMED_ID in cells
            assert all(no_controls(cell) for cell in cells)
            await pilot.press("space", "down", "space", "c")  # compare both studies
            await pilot.pause(0.5)
            assert isinstance(app_.screen, CompareScreen)
            compared = app_.screen.query_one("#compare", DataTable)
            headers = [str(column.label) for column in compared.columns.values()]

            def column(name: str) -> set[str]:
                index = headers.index(name)
                return {str(compared.get_row_at(row)[index]) for row in range(compared.row_count)}

            assert "[/bold]" in column(MARKUP)  # a swept key and value, shown as text
            assert "\\x9b31m red" in column("optim.note")  # a config value that differs
            await pilot.press("escape")
            app_.push_screen(MonitorScreen(named))
            await pilot.pause(0.5)
            log = app_.screen.query_one("#log", Log)
            assert "a log line\\x1b]0;owned\\x07\\x1b[2J\\x1b[H" in log.lines
            assert all(no_controls(line) for line in log.lines)
        assert app_.return_code in (None, 0)

    asyncio.run(scenario())


@pytest.mark.process
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_a_real_terminal_the_title_stays_as_it_was(tmp_path):
    """What the finding saw: the terminal retitled by `runs`, `show` and the app's runs browser
    and monitor. tmux keeps the title a program sets (OSC 0) as the pane's title."""
    _, named = hostile_study(tmp_path / "runs")
    socket = f"tui-trainer-test-{uuid.uuid4().hex[:8]}"

    def tmux(*args: str) -> str:
        done = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True)
        return done.stdout

    python, runs_dir = Path(sys.executable), tmp_path / "runs"
    show = f"{python} -m tui_trainer show '{named}' --runs-dir {runs_dir}"
    script = tmp_path / "commands.sh"
    script.write_text(
        f"cd {os.getcwd()}\n{python} -m tui_trainer runs --runs-dir {runs_dir}\n{show}\n"
        f"{show}/lr=0.05\nexec {python} -m tui_trainer --runs-dir {runs_dir}\n"
    )
    try:
        tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "40", f"bash {script}")
        deadline = time.monotonic() + 120
        while "quickstart" not in tmux("capture-pane", "-p", "-t", "t"):
            assert time.monotonic() < deadline, tmux("capture-pane", "-p", "-t", "t")
            time.sleep(0.3)
        tmux("send-keys", "-t", "t", "r")  # the runs browser, listing both studies
        time.sleep(2)
        tmux("send-keys", "-t", "t", "Enter")  # the monitor of the newest: the hostile name
        time.sleep(3)
        assert "owned" not in tmux("display-message", "-p", "-t", "t", "#{pane_title}")
        assert "\\x1b]0;owned" in tmux("capture-pane", "-p", "-t", "t")
    finally:
        tmux("kill-server")
