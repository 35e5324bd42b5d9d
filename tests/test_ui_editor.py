"""The preset editor (Pilot): each field validated as you type, save as a new preset (through linked
folders too), launch, and always room for another sweep axis."""

from __future__ import annotations

import re

import pytest
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


@pytest.mark.process
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


@pytest.mark.process
def test_editor_validates_each_field_saves_as_and_launches(write_preset, runs_dir, tmp_path):
    from textual.widgets import Input as TextInput

    from tui_trainer.ui.screens.editor import EditorScreen
    from tui_trainer.ui.widgets.preset_form import field_id

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
            assert saved.read_text().startswith(f"# Edited from mine ({mine}) in tui-trainer's")
            assert "# my own study" not in saved.read_text()
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
        assert launched.id.endswith("-my-lr")  # launched as the preset it was saved as

    run(scenario())


def read_launch_lr(study):
    from tui_trainer.store.atomic import read_toml

    return read_toml(study.paths.study)["optim"]["lr"]


@pytest.mark.process
def test_editor_always_has_room_for_another_axis(runs_dir, write_preset):
    from textual.widgets import Input as TextInput

    from tui_trainer.ui.screens.editor import EditorScreen

    mine = write_preset()

    async def scenario():
        app = create_app(runs_dir)
        async with app.run_test(size=SIZE) as pilot:
            editor = EditorScreen(mine, app.user_presets_dir, app.runs_dir)
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


# -- the editor keeps your work ------------------------------------------------------------------


def no_counts(monkeypatch) -> None:
    """Parameter counts answered at once, without starting `tui-trainer params`."""
    from rich.text import Text

    monkeypatch.setattr(
        "tui_trainer.ui.screens.editor.count_parameters", lambda text, cancelled: Text("counted")
    )


async def open_editor(app, pilot, preset):
    """The editor of `preset`, pushed and settled."""
    from tui_trainer.ui.screens.editor import EditorScreen

    editor = EditorScreen(preset, app.user_presets_dir, app.runs_dir)
    await app.push_screen(editor)
    await pilot.pause()
    return editor


def field(editor, key: str):
    from tui_trainer.ui.widgets.preset_form import field_id

    spec = next(spec for spec in editor.specs if spec.key == key)
    return editor.query_one(f"#{field_id(spec)}")


def test_escape_with_unsaved_edits_asks_before_leaving(write_preset, runs_dir, monkeypatch):
    from tui_trainer.ui.screens.editor import EditorScreen
    from tui_trainer.ui.screens.presets import PresetsScreen
    from tui_trainer.ui.widgets.confirm import Confirm

    no_counts(monkeypatch)
    mine = write_preset(TINY_PRESET, name="mine.toml")

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(EditorScreen(mine, app.user_presets_dir, app.runs_dir))
            await pilot.pause()
            await pilot.press("escape")  # nothing edited: straight back
            assert isinstance(app.screen, PresetsScreen)
            editor = EditorScreen(mine, app.user_presets_dir, app.runs_dir)
            await app.push_screen(editor)
            field(editor, "optim.lr").value = "0.02"
            await pilot.pause()
            await pilot.press("escape")
            assert isinstance(app.screen, Confirm)
            assert "your edits are not saved" in app.screen.question.lower()
            await pilot.press("n")  # stay, edits kept
            assert app.screen is editor and field(editor, "optim.lr").value == "0.02"
            await pilot.press("escape", "y")  # drop the edits
            assert isinstance(app.screen, PresetsScreen)

    run(scenario())


def test_a_saved_preset_is_edited_and_launched_under_its_new_name(
    write_preset, runs_dir, tmp_path, monkeypatch
):
    """Saved as my-lr: the editor now edits my-lr (name field, header, `esc` without asking),
    and ctrl+l launches a study named my-lr, not tiny."""
    from textual.widgets import Input as TextInput

    from tui_trainer.launch import Launched
    from tui_trainer.ui.screens.editor import EditorScreen
    from tui_trainer.ui.screens.presets import PresetsScreen

    no_counts(monkeypatch)
    launches = []

    class Finished:
        pid = 0

        def poll(self):
            return 0

    def launch(preset, overrides, runs_dir, name):
        launches.append((load_preset(preset).preset.study.name, name))
        return Launched(runs_dir / f"20260101-000000-{name}", Finished())

    monkeypatch.setattr("tui_trainer.ui.app.launcher.launch", launch)
    monkeypatch.setattr(
        "tui_trainer.ui.app.MonitorScreen", lambda study_dir, launched: PresetsScreen([], runs_dir)
    )
    mine = write_preset("# tiny: 0.98 test accuracy in 5 s\n\n" + TINY_PRESET, name="mine.toml")
    user_dir = tmp_path / "user-presets"

    async def scenario():
        app = create_app(runs_dir, [mine], user_presets_dir=user_dir)
        async with app.run_test(size=SIZE) as pilot:
            editor = EditorScreen(mine, app.user_presets_dir, app.runs_dir)
            await app.push_screen(editor)
            field(editor, "optim.lr").value = "0.02"
            await pilot.pause()
            await pilot.press("ctrl+s")
            app.screen.query_one("#name", TextInput).value = "quickstart"
            await pilot.press("enter")  # a built-in's name: refused, nothing written
            assert app.screen is editor and not (user_dir / "quickstart.toml").exists()
            await pilot.press("ctrl+s")
            app.screen.query_one("#name", TextInput).value = "my-lr"
            await pilot.press("enter")
            await pilot.pause()
            assert field(editor, "study.name").value == "my-lr"
            assert editor.sub_title == f"editing {user_dir / 'my-lr.toml'}"
            assert not editor.unsaved
            await pilot.press("ctrl+l")
            await pilot.pause()

    run(scenario())
    assert launches == [("my-lr", "my-lr")]
    text = (user_dir / "my-lr.toml").read_text()
    first, second = text.splitlines()[:2]
    assert re.fullmatch(
        rf"# Edited from mine \({re.escape(str(mine))}\) in tui-trainer's editor on "
        r"\d{4}-\d\d-\d\d \d\d:\d\d\.",
        first,
    )
    assert second == (
        "# The original's notes and figures were left out: they were measured on the original."
    )
    assert "0.98 test accuracy" not in text


def test_switches_say_on_and_off_and_the_lr_preview_shows_the_warm_up_step_by_step(
    write_preset, runs_dir, monkeypatch
):
    from textual.widgets import Switch

    from tui_trainer.ui.widgets.charts import MetricChart

    no_counts(monkeypatch)
    warm_up = TINY_PRESET.replace('name = "cosine"', 'name = "cosine"\nwarmup_epochs = 1')
    mine = write_preset(warm_up)

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(app, pilot, mine)
            (name, xs, lrs, _, _) = editor.query_one("#lr-preview", MetricChart).series[0]
            assert name == "run" and len(xs) == 100  # 2 epochs of 50 steps
            # a step where it ends: epoch 1 ends at x = 1, as the monitor draws epoch 1's row
            assert xs[:2] == [0.02, 0.04] and xs[49] == 1.0 and xs[99] == 2.0
            assert [round(lr, 6) for lr in lrs[:3]] == [0.002, 0.004, 0.006]  # warm-up, per step
            assert round(lrs[49], 6) == 0.1 and round(lrs[50], 6) == 0.05  # cosine, per epoch
            nesterov = field(editor, "optim.nesterov")
            state = editor.query_one(f"#{nesterov.id}-state", Static)
            assert isinstance(nesterov, Switch) and str(state.render()) == "on"
            nesterov.toggle()
            await pilot.pause()
            assert str(state.render()) == "off"

    run(scenario())


# -- the parameter count's worker --------------------------------------------------------------


def test_a_slow_old_count_never_overwrites_a_newer_one(write_preset, runs_dir, monkeypatch):
    import threading

    from rich.text import Text

    from tui_trainer.ui.screens.editor import EditorScreen

    release, old_done = threading.Event(), threading.Event()

    def count(text, cancelled):  # the first form's count is slow and ignores cancellation
        if "width_mult = 0.25" in text:
            release.wait(30)
            old_done.set()
            return Text("old count")
        return Text("new count")

    monkeypatch.setattr("tui_trainer.ui.screens.editor.count_parameters", count)
    mine = write_preset(TINY_PRESET, name="mine.toml")

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            editor = EditorScreen(mine, app.user_presets_dir, app.runs_dir)
            await app.push_screen(editor)
            params = editor.query_one("#params", Static)
            assert str(params.render()) == "parameters: counting…"
            field(editor, "model.width_mult").value = "0.5"
            await wait_for(pilot, lambda: str(params.render()) == "new count", 10)
            release.set()  # the old count comes back now, after the new one
            await wait_for(pilot, old_done.is_set, 10)
            await pilot.pause(0.3)
            assert str(params.render()) == "new count"

    run(scenario())


@pytest.mark.process
def test_a_failed_count_is_shown_not_left_counting(write_preset, runs_dir, monkeypatch):
    import sys

    from tests.helpers import record_notes
    from tui_trainer.ui.screens.editor import EditorScreen

    monkeypatch.setattr(
        "tui_trainer.ui.param_count.PARAMS_COMMAND", [sys.executable, "-c", "print('{oops')"]
    )
    mine = write_preset(TINY_PRESET, name="mine.toml")

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notes(app)
            editor = EditorScreen(mine, app.user_presets_dir, app.runs_dir)
            await app.push_screen(editor)
            params = editor.query_one("#params", Static)
            await wait_for(pilot, lambda: "counting" not in str(params.render()), 30)
            assert str(params.render()) == (
                "parameters: not counted: `tui-trainer params` did not answer with its JSON"
            )

            def broken(text, cancelled):
                raise RuntimeError("no such interpreter")

            monkeypatch.setattr("tui_trainer.ui.screens.editor.count_parameters", broken)
            field(editor, "model.width_mult").value = "0.5"
            await wait_for(pilot, lambda: "interpreter" in str(params.render()), 10)
            assert str(params.render()) == "parameters: not counted: no such interpreter"
            await wait_for(pilot, lambda: notes, 10)
            assert notes == [("parameter count failed: no such interpreter", "error")]

    run(scenario())


@pytest.mark.process
def test_a_count_that_takes_too_long_says_so():
    import sys

    from tui_trainer.ui import param_count

    command = [sys.executable, "-c", "import time; time.sleep(30)"]
    param_count.PARAMS_COMMAND, saved = command, param_count.PARAMS_COMMAND
    try:
        text = param_count.count_parameters(TINY_PRESET, lambda: False, timeout=0.5)
        assert str(text) == "parameters: not counted: `tui-trainer params` took over 0.5 s"
        assert param_count.count_parameters(TINY_PRESET, lambda: True, timeout=5) is None
    finally:
        param_count.PARAMS_COMMAND = saved


def test_ctrl_f_jumps_to_a_key_by_part_of_its_name(write_preset, runs_dir, monkeypatch):
    """optim.lr is the 35th field: typing `lr` gets there, a typo finds its key, esc stays."""
    from textual.widgets import Input as TextInput

    from tui_trainer.ui.screens.find_key import FindKey

    no_counts(monkeypatch)
    mine = write_preset()

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(app, pilot, mine)
            for typed, key in (("lr", "optim.lr"), ("mometum", "optim.momentum")):
                await pilot.press("ctrl+f")
                assert isinstance(app.screen, FindKey)
                await pilot.press(*typed)
                found = str(app.screen.query_one("#found", Static).render())
                assert found.splitlines()[0] == key
                await pilot.press("enter")
                await pilot.pause()
                assert app.screen is editor and app.focused is field(editor, key)
            assert isinstance(app.focused, TextInput) and app.focused.value == "0.9"
            await pilot.press("ctrl+f", "z", "z", "z")
            found = str(app.screen.query_one("#found", Static).render())
            assert found == "no key holds that: try part of a name, e.g. lr, mom, seed"
            await pilot.press("enter", "escape")  # nothing to jump to; esc goes back
            await pilot.pause()
            assert app.screen is editor and app.focused is field(editor, "optim.momentum")

    run(scenario())


def test_only_the_spare_sweep_row_shows_hints_and_the_rows_of_axes_none(
    write_preset, runs_dir, monkeypatch
):
    from textual.widgets import Input as TextInput

    no_counts(monkeypatch)
    mine = write_preset(TINY_PRESET + '\n[sweep]\n"optim.lr" = [0.05, 0.1]\n')

    def rows(editor) -> list[tuple[str, str, str, str]]:
        keys = list(editor.query(".axis-key").results(TextInput))
        values = [editor.query_one(f"#axis-values-{i}", TextInput) for i in range(len(keys))]
        return [
            (k.value, k.placeholder, v.value, v.placeholder)
            for k, v in zip(keys, values, strict=True)
        ]

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(app, pilot, mine)
            spare = ("", "add an axis: e.g. optim.lr", "", "its values: e.g. [0.01, 0.1]")
            assert rows(editor) == [("optim.lr", "", "[0.05, 0.1]", ""), spare]
            editor.query_one("#axis-key-1", TextInput).value = "train.seed"
            await pilot.pause()
            assert rows(editor) == [
                ("optim.lr", "", "[0.05, 0.1]", ""),
                ("train.seed", "", "", ""),
                spare,
            ]

    run(scenario())


def test_a_swept_rate_previews_each_runs_curve_and_the_run_list_is_its_legend(
    write_preset, runs_dir, monkeypatch
):
    from tui_trainer.ui.widgets.charts import MetricChart

    no_counts(monkeypatch)
    sweep = '\n[sweep]\n"optim.lr" = [0.05, 0.2]\n"train.seed" = [0, 1]\n'
    mine = write_preset(TINY_PRESET + sweep)

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(app, pilot, mine)
            series = editor.query_one("#lr-preview", MetricChart).series
            names = [s[0] for s in series]
            assert [round(s[2][0], 6) for s in series] == [0.05, 0.2]  # cosine from each rate
            assert [s[3] for s in series] == ["cyan", "orange"]
            summary = editor.query_one("#summary", Static).render()
            lines = str(summary).splitlines()
            assert lines[0] == "valid: 4 run(s), 8 run-epochs"
            assert [line[3:] for line in lines[1:]] == [run.name for run in editor.checked.runs]
            assert names == [lines[1][3:], lines[3][3:]]  # lr=0.05 first, then lr=0.2
            text = str(summary)
            marks = [
                str(span.style)
                for span in summary.spans
                if text[span.start : span.end].strip() == "──"
            ]
            assert len(marks) == 4 and marks[0] == marks[1] != marks[2] == marks[3]

    run(scenario())


def test_the_editors_footer_lists_its_keys_as_soon_as_the_screen_is_up(
    write_preset, runs_dir, monkeypatch
):
    """Not a frame later: behind sixty fields on a slow machine that frame took seconds."""
    from textual.widgets import Footer

    from tui_trainer.ui.screens.editor import EditorScreen

    no_counts(monkeypatch)
    mine = write_preset()

    async def scenario():
        app = create_app(runs_dir, [mine])
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            editor = EditorScreen(mine, app.user_presets_dir, app.runs_dir)
            await app.push_screen(editor)  # mounted; nothing drawn since
            keys = [key.description for key in editor.query_one(Footer).children]
            assert keys[:4] == ["Go to key", "Save as", "Launch", "Back"]

    run(scenario())


def test_a_save_that_would_not_load_back_is_refused_with_its_message_and_writes_nothing(
    write_preset, runs_dir, tmp_path, monkeypatch
):
    """`my lr` is no preset name: config/edit.save_preset loads what it would write back first,
    and says where that fails; the editor stays, edits kept and still unsaved."""
    from textual.widgets import Input as TextInput

    from tests.helpers import record_notes

    no_counts(monkeypatch)
    mine = write_preset(TINY_PRESET, name="mine.toml")
    user_dir = tmp_path / "user-presets"

    async def scenario():
        app = create_app(runs_dir, [mine], user_presets_dir=user_dir)
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notes(app)
            editor = await open_editor(app, pilot, mine)
            field(editor, "optim.lr").value = "0.02"
            await pilot.pause()
            await pilot.press("ctrl+s")
            app.screen.query_one("#name", TextInput).value = "my lr"
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is editor and editor.unsaved
            assert field(editor, "study.name").value == "tiny"
            return notes

    notes = run(scenario())
    path = user_dir / "my lr.toml"
    assert notes == [
        (
            f"not saved: {path}:5:1: study.name: use only letters, digits, '.', '_' and '-' "
            "(got 'my lr')",
            "error",
        )
    ]
    assert not user_dir.exists()


def test_the_form_tells_its_screen_what_it_says_checked_in_a_typed_message(write_preset):
    """The form alone, in a bare app: each edit comes up as PresetForm.Changed, with the form's
    data and its problems by key."""
    from textual.app import App, ComposeResult

    from tui_trainer.config import edit
    from tui_trainer.ui.widgets.preset_form import PresetForm

    loaded = load_preset(write_preset(TINY_PRESET))
    heard: list[PresetForm.Changed] = []

    class FormApp(App):
        def compose(self) -> ComposeResult:
            yield PresetForm(edit.field_specs(), loaded.preset.model_dump(), id="form")

        def on_preset_form_changed(self, message: PresetForm.Changed) -> None:
            heard.append(message)

    async def scenario():
        app = FormApp()
        async with app.run_test(size=SIZE) as pilot:
            form = app.query_one(PresetForm)
            await pilot.pause()
            heard.clear()  # the fields' first values, as they mount
            form.field("optim.lr").value = "-1"
            await pilot.pause()
            assert len(heard) == 1 and heard[0].form is form
            check = heard[0].check
            assert check.data["optim"]["lr"] == -1 and check.checked.preset is None
            assert check.checked.errors == {"optim.lr": "must be > 0 (got -1)"}
            assert check.problems == 1
            form.query_one("#axis-values-0").value = "[0, 1]"  # values without a key
            await pilot.pause()
            assert heard[-1].check.axis_errors == {0: "the axis needs a key such as optim.lr"}
            assert heard[-1].check.problems == 2

    run(scenario())
