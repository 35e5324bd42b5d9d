"""The app as a whole, driven like a person uses it (Textual's Pilot): it never imports torch, `?`
lists the keys, every screen fits 80×24 without colour, and a runs directory it cannot write is
an error, not a crash."""

from __future__ import annotations

import subprocess
import sys

import pytest
from textual.widgets import DataTable

from tests.helpers import TINY_PRESET, record_notes
from tests.ui_pilot import SIZE, run, wait_for
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.launch import LaunchScreen
from tui_trainer.ui.screens.monitor import MonitorScreen
from tui_trainer.ui.screens.runs import RunsScreen


@pytest.mark.process
@pytest.mark.parametrize("screen", ["presets", "runs"])
def test_the_tui_process_never_imports_torch(runs_dir, screen):
    code = f"""
import asyncio, sys
from pathlib import Path
from tui_trainer.ui.app import create_app

async def main():
    app = create_app(Path({str(runs_dir)!r}))
    async with app.run_test(size=(100, 30)) as pilot:
        if {screen!r} == "runs":
            await pilot.press("r")
        await pilot.pause()
asyncio.run(main())
print(sorted(m for m in ("torch", "torchvision") if m in sys.modules))
"""
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip().splitlines()[-1] == "[]"


def test_help_opens_at_the_current_screens_section(write_preset, runs_dir):
    from rich.table import Table
    from textual.widgets import Static

    from tui_trainer.ui.screens.help import HelpScreen

    mine = write_preset(TINY_PRESET, name="mine.toml")

    def first_rows(app) -> list[str]:
        table = app.screen.query_one("#help-keys", Static).content
        assert isinstance(table, Table)
        return [str(cell) for cell in table.columns[0]._cells[:2]]

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen) and app.screen.section == "Presets"
            assert first_rows(app) == ["[u]Presets[/u] (this screen)", "  up/down"]
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
            await app.push_screen(LaunchScreen(mine, app.runs_dir))
            await pilot.press("f1")  # where `?` would be typed into the overrides
            assert isinstance(app.screen, HelpScreen) and app.screen.section == "Launch"
            assert first_rows(app) == ["[u]Launch[/u] (this screen)", "  type"]

    run(scenario())


def test_the_command_palette_offers_the_apps_own_actions(runs_dir):
    from textual.command import CommandPalette

    from tui_trainer.store.synthetic import write_synthetic_study

    write_synthetic_study(runs_dir)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            titles = [command.title for command in app.get_system_commands(app.screen)]
            assert titles[:6] == [
                "Presets",
                "Runs browser",
                "Help: keys",
                "Launch…",
                "Edit…",
                "Runs",
            ]
            await pilot.press("ctrl+p")
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*"Runs browser")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, RunsScreen)
            commands = [command.title for command in app.get_system_commands(app.screen)]
            assert {"Open", "Resume", "Mark", "Compare", "Filter", "Back"} <= set(commands)
            await pilot.press("enter")  # the monitor: keys the footer leaves out are here too
            await pilot.pause()
            commands = [command.title for command in app.get_system_commands(app.screen)]
            assert {"Focus", "Hide", "Inspect", "Log y", "Worker log", "Bell"} <= set(commands)

    run(scenario())


def test_the_command_palette_finds_a_preset_by_name_and_lists_quit_once(runs_dir):
    from textual.command import CommandPalette

    from tui_trainer.config.presets import builtin_presets_dir

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            titles = [command.title for command in app.get_system_commands(app.screen)]
            assert titles.count("Quit") == 1
            assert "Preset r000-cifar100-lr" in titles
            await pilot.press("ctrl+p")
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*"r000-cifar100-lr")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, LaunchScreen)
            assert app.screen.preset == builtin_presets_dir().resolve() / "r000-cifar100-lr.toml"

    run(scenario())


def test_every_screen_works_at_80_by_24_and_without_colour(runs_dir, monkeypatch):
    from tui_trainer.store.synthetic import write_synthetic_study

    monkeypatch.setenv("NO_COLOR", "1")
    study = write_synthetic_study(runs_dir)

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.no_color
            await pilot.press("enter")  # launch screen of the first preset
            assert isinstance(app.screen, LaunchScreen)
            await pilot.press("escape", "r")
            assert isinstance(app.screen, RunsScreen)
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.3)
            assert app.screen.query_one("#runs", DataTable).row_count == 3
            await pilot.press("question_mark")
            await pilot.pause(0.1)

    run(scenario())


def test_an_unwritable_runs_directory_is_an_error_not_a_crash(write_preset, runs_dir, monkeypatch):
    from tests.helpers import make_unfinished
    from tui_trainer.store.synthetic import write_synthetic_study

    mine = write_preset(TINY_PRESET, name="mine.toml")

    def refuse(directory, name, when=None):
        raise PermissionError(13, "Permission denied", str(directory))

    monkeypatch.setattr("tui_trainer.launch.create_study_dir", refuse)
    study = write_synthetic_study(runs_dir)
    make_unfinished(study, "lr=0.5", "interrupted")
    (study / "trainer.log").unlink()
    (study / "trainer.log").mkdir()  # where the resumed trainer's output would go

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notes(app)
            table = app.screen.query_one("#presets", DataTable)
            table.move_cursor(row=table.row_count - 1)
            await pilot.press("enter", "enter")
            assert isinstance(app.screen, LaunchScreen)  # still there, nothing started
            assert notes[-1] == (f"cannot write {runs_dir}: Permission denied", "error")
            await pilot.press("escape")
            app.resume_study(study)
            await pilot.pause()
            # checked before anything starts: the log the resumed trainer would write to
            assert notes[-1] == (
                f"refusing to resume {study}: trainer.log is a directory, not a regular file",
                "error",
            )
            assert app.launched == [] and not isinstance(app.screen, MonitorScreen)

    run(scenario())


def test_a_running_study_found_after_the_user_left_the_presets_is_told_not_opened(
    runs_dir, monkeypatch
):
    """The studies on disk are read in a worker after the first screen shows. A live study is
    opened in the monitor when the presets are still what the user sees; once they have
    opened the runs browser, the study is only named, and the browser stays."""
    import threading

    from tests.helpers import parallel_study
    from tui_trainer.ui import reopen

    study = parallel_study(runs_dir)
    released = threading.Event()
    read_study = reopen.read_study

    def slow_study(path, summaries=True):
        released.wait(5)
        return read_study(path, summaries=summaries)

    monkeypatch.setattr(reopen, "read_study", slow_study)

    async def scenario(leave_first: bool):
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notes(app)
            if leave_first:
                await pilot.press("r")
            released.set()
            await wait_for(pilot, lambda: notes)
            assert notes == [(f"{study.name} is running", "information")]
            screen = RunsScreen if leave_first else MonitorScreen
            assert isinstance(app.screen, screen) and len(app.screen_stack) == 3

    run(scenario(leave_first=True))
    released.clear()
    run(scenario(leave_first=False))


def test_the_search_for_a_running_study_reads_the_studies_down_to_the_newest_live_one(
    runs_dir, monkeypatch
):
    """Newest first, it stops at the first live study: of five, the two newer ones and the live
    one are read, not the two older (it read all five). A stopped search reads none."""
    from tests.helpers import fake_study
    from tui_trainer.store import status as st
    from tui_trainer.store.atomic import read_toml, write_toml_atomic
    from tui_trainer.store.clock import utc_now
    from tui_trainer.ui import reopen

    roots = [fake_study(runs_dir, f"2026010{day}-000000-s", ["run"]) for day in range(1, 6)]
    live = roots[2] / "run" / "status.toml"
    write_toml_atomic(
        live,
        {**read_toml(live), "state": "running", "heartbeat": utc_now(), **st.process_identity()},
    )
    read: list[str] = []
    read_study = reopen.read_study

    def counted(path, summaries=True):
        read.append(path.name)
        return read_study(path, summaries=summaries)

    monkeypatch.setattr(reopen, "read_study", counted)
    assert reopen.study_to_reopen(runs_dir) == roots[2]
    assert read == ["20260105-000000-s", "20260104-000000-s", "20260103-000000-s"]
    read.clear()
    assert reopen.study_to_reopen(runs_dir, stopped=lambda: True) is None and read == []
