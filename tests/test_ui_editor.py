"""The preset editor (Pilot): each field validated as you type, save as a new preset (through linked
folders too), launch, and always room for another sweep axis."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from tests.helpers import TINY_PRESET
from tests.ui_pilot import SIZE, cell, run, wait_for
from tui_trainer.config import load_preset
from tui_trainer.store.reader import list_studies
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.monitor import MonitorScreen


async def edit_the_last_preset(app, pilot) -> None:
    """Open the editor on the last preset of the list (the one given with --preset)."""
    table = app.screen.query_one("#presets", DataTable)
    table.move_cursor(row=table.row_count - 1)
    await pilot.press("e")


def test_editor_saves_into_a_linked_presets_folder_through_a_linked_preset(
    write_preset, runs_dir, tmp_path
):
    """The user's presets folder, and a preset in it, kept in a dotfiles repository by links:
    save-as writes through both, leaving the links as they were."""
    from textual.widgets import Input as TextInput

    mine = write_preset(TINY_PRESET, name="mine.toml")
    dotfiles = tmp_path / "dotfiles"
    (dotfiles / "presets").mkdir(parents=True)
    (dotfiles / "real.toml").write_text("# an older version\n" + TINY_PRESET)
    (dotfiles / "presets" / "my-lr.toml").symlink_to(dotfiles / "real.toml")
    user_dir = tmp_path / "user-presets"
    user_dir.symlink_to(dotfiles / "presets")

    async def scenario():
        app = create_app(runs_dir, [mine], user_presets_dir=user_dir)
        async with app.run_test(size=SIZE) as pilot:
            await edit_the_last_preset(app, pilot)
            await pilot.pause()
            await pilot.press("ctrl+s")
            app.screen.query_one("#name", TextInput).value = "my-lr"
            await pilot.press("enter")
            await pilot.pause()

    run(scenario())
    assert user_dir.is_symlink() and (user_dir / "my-lr.toml").is_symlink()
    assert load_preset(dotfiles / "real.toml").preset.study.name == "my-lr"


def test_editor_validates_each_field_saves_as_and_launches(write_preset, runs_dir, tmp_path):
    from textual.widgets import Input as TextInput

    from tui_trainer.ui.screens.editor import EditorScreen, field_id

    mine = write_preset("# my own study\n" + TINY_PRESET, name="mine.toml")
    user_dir = tmp_path / "user-presets"

    async def scenario():
        app = create_app(runs_dir, [mine], user_presets_dir=user_dir)
        async with app.run_test(size=SIZE) as pilot:
            await edit_the_last_preset(app, pilot)
            editor = app.screen
            assert isinstance(editor, EditorScreen)
            specs = {spec.key: spec for spec in editor.specs}
            lr = editor.query_one(f"#{field_id(specs['optim.lr'])}", TextInput)
            lr.value = "-1"
            await pilot.pause()
            error = editor.query_one(f"#{field_id(specs['optim.lr'])}-error", Static)
            assert error.display and "must be > 0 (got -1)" in str(error.render())
            assert "1 problem(s)" in str(editor.query_one("#summary", Static).render())
            await pilot.press("ctrl+s")  # refused while there is a problem
            assert editor is app.screen
            lr.value = "0.02"
            editor.query_one("#axis-key-0", TextInput).value = "train.seed"
            editor.query_one("#axis-values-0", TextInput).value = "[0, 1]"
            await pilot.pause()
            assert not error.display
            summary = str(editor.query_one("#summary", Static).render())
            assert "valid: 2 run(s), 4 run-epochs" in summary and "seed=1" in summary
            await wait_for(
                pilot, lambda: "trainable" in str(editor.query_one("#params", Static).render()), 60
            )
            await pilot.press("ctrl+s")
            name = app.screen.query_one("#name", TextInput)
            name.value = "my-lr"
            await pilot.press("enter")
            saved = user_dir / "my-lr.toml"
            assert saved.read_text().startswith("# my own study")
            study = load_preset(saved)
            assert study.preset.study.name == "my-lr" and study.preset.optim.lr == 0.02
            assert [r.name for r in study.runs] == ["seed=0", "seed=1"]
            await pilot.press("ctrl+l")
            assert isinstance(app.screen, MonitorScreen)
            runs = app.screen.query_one("#runs", DataTable)
            await wait_for(
                pilot,
                lambda: (
                    runs.row_count == 2 and all(cell(runs, i, 1) == "completed" for i in range(2))
                ),
            )
            await pilot.press("escape")
            presets = app.screen.query_one("#presets", DataTable)
            assert "my-lr" in [cell(presets, i, 0) for i in range(presets.row_count)]
        (launched,) = list_studies(runs_dir)
        assert read_launch_lr(launched) == 0.02

    run(scenario())


def read_launch_lr(study):
    from tui_trainer.store.atomic import read_toml

    return read_toml(study.paths.study)["optim"]["lr"]


def test_editor_always_has_room_for_another_axis(runs_dir, write_preset):
    from textual.widgets import Input as TextInput

    from tui_trainer.ui.screens.editor import EditorScreen

    mine = write_preset()

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            editor = EditorScreen(mine)
            editor.count_parameters = lambda text: None
            await app.push_screen(editor)
            rows = len(editor.query(".axis-key"))
            for index, (key, values) in enumerate(
                [
                    ("optim.lr", "[0.1, 0.2]"),
                    ("train.seed", "[0, 1]"),
                    ("optim.momentum", "[0.9]"),
                    ("data.batch_size", "[32, 64]"),
                    ("train.epochs", "[1, 2]"),
                ]
            ):
                editor.query_one(f"#axis-key-{index}", TextInput).value = key
                await pilot.pause()
                editor.query_one(f"#axis-values-{index}", TextInput).value = values
                await pilot.pause()
            assert len(editor.query(".axis-key")) == max(rows, 6)
            assert len(editor.checked.runs) == 2 * 2 * 1 * 2 * 2

    run(scenario())
