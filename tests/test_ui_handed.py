"""Screens are handed what they need when the app makes them, and the command palette opens the
app's places by messages: each runs on a bare Textual App, which has none of TrainerApp's state
(runs_dir, presets, launched) for them to read."""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen

from tests.helpers import TINY_PRESET
from tests.ui_pilot import SIZE, run, wait_for
from tui_trainer.launch import Launched
from tui_trainer.store.reader import read_study
from tui_trainer.store.synthetic import write_synthetic_study
from tui_trainer.ui.navigation import Open, Trainer


class Bare(App):
    """A plain App that keeps the messages the screens post to it."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[object] = []

    def on_open_launch(self, message: Open.Launch) -> None:
        self.posted.append(message)

    def on_trainer_launch(self, message: Trainer.Launch) -> None:
        self.posted.append(message)


def test_the_palettes_places_are_messages_posted_to_the_app_whatever_its_class(tmp_path):
    from tui_trainer.ui.commands import app_commands

    posted = []

    class Recording(App):
        def post_message(self, message) -> bool:
            posted.append(message)
            return True

    preset = tmp_path / "mine.toml"
    commands = {c.title: c for c in app_commands(Recording(), Screen(), [preset])}
    for title in ("Presets", "Runs browser", "Help: keys", "Preset mine"):
        commands[title].callback()
    assert posted == [Open.Presets(), Open.Runs(), Open.Help(None), Open.Launch(preset)]


def test_the_monitor_reads_starting_for_a_study_whose_handed_trainer_is_alive(tmp_path):
    from tui_trainer.ui.screens.monitor import MonitorScreen

    study = tmp_path / "20260101-000000-loading"
    study.mkdir()  # the trainer has written nothing yet

    class Alive:
        pid = 4242

        def poll(self):
            return None

    async def scenario():
        app = Bare()
        async with app.run_test(size=SIZE) as pilot:
            alone, handed = MonitorScreen(study), MonitorScreen(study, [Launched(study, Alive())])
            await app.push_screen(alone)
            await pilot.pause()
            assert alone.current_state() == "unknown"
            await app.push_screen(handed)
            await pilot.pause()
            assert handed.current_state() == "starting"

    run(scenario())


def test_the_presets_and_launch_screens_time_their_estimates_from_the_handed_runs_dir(
    write_preset, runs_dir
):
    from tui_trainer.ui.screens.launch import LaunchScreen
    from tui_trainer.ui.screens.presets import PresetsScreen

    mine = write_preset(TINY_PRESET, name="mine.toml")

    async def scenario():
        app = Bare()
        async with app.run_test(size=SIZE) as pilot:
            presets = PresetsScreen([mine], runs_dir)
            await app.push_screen(presets)
            await wait_for(pilot, lambda: presets.timings is not None, 30)
            assert presets.timings == {} and presets.paths == [mine]
            await pilot.press("enter")
            assert app.posted == [Open.Launch(mine)]
            launch = LaunchScreen(mine, runs_dir)
            await app.push_screen(launch)
            assert launch.timings == {} and launch.loaded is not None

    run(scenario())


def test_compare_exports_into_the_handed_runs_dir(runs_dir):
    from tui_trainer.ui.screens.compare import CompareScreen

    study = write_synthetic_study(runs_dir)

    async def scenario():
        app = Bare()
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(CompareScreen([read_study(study)], runs_dir))
            await pilot.press("x")
            await pilot.pause()

    run(scenario())
    (export,) = (runs_dir / "exports").iterdir()
    assert export.name.startswith("compare-") and export.read_text().startswith("|")


def test_the_editor_saves_into_and_launches_from_the_handed_folders(
    write_preset, runs_dir, tmp_path, monkeypatch
):
    from rich.text import Text
    from textual.widgets import Input

    from tui_trainer.ui.screens.editor import EditorScreen

    monkeypatch.setattr(
        "tui_trainer.ui.screens.editor.count_parameters", lambda text, cancelled: Text("counted")
    )
    mine = write_preset(TINY_PRESET, name="mine.toml")
    user_dir = tmp_path / "user-presets"

    app = Bare()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(EditorScreen(mine, user_dir, runs_dir))
            await pilot.pause()
            await pilot.press("ctrl+s")
            app.screen.query_one("#name", Input).value = "my-lr"
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press("ctrl+l")
            await pilot.pause()

    run(scenario())
    assert sorted(path.name for path in user_dir.iterdir()) == ["my-lr.toml"]
    (edited,) = (runs_dir / ".edited").iterdir()
    assert edited.name.startswith("my-lr-")
    assert app.posted == [Trainer.Launch(edited, [], "my-lr")]
