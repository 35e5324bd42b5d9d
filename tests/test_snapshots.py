"""The look of every screen, pinned as SVG snapshots (pytest-textual-snapshot) on a generated,
fixed study. After an intended change of look: pytest tests/test_snapshots.py --snapshot-update."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tests.helpers import REPO
from tests.ui_pilot import cell, wait_for
from tui_trainer.store.synthetic import write_synthetic_study
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.monitor import MonitorScreen
from tui_trainer.ui.screens.presets import PENDING

SIZE = (120, 40)


@pytest.fixture
def study(runs_dir, monkeypatch):
    monkeypatch.chdir(REPO)  # preset paths show relative to it, the same in every checkout
    monkeypatch.setenv("XDG_CONFIG_HOME", str(runs_dir.parent / "no-config"))  # no user presets
    return write_synthetic_study(runs_dir)


def test_presets_screen(snap_compare, study, runs_dir):
    async def estimates_read(pilot):  # in a worker, after the list is shown
        table = pilot.app.screen.query_one("#presets", DataTable)
        await wait_for(pilot, lambda: cell(table, 0, 4) != PENDING)

    app = create_app(runs_dir)
    assert snap_compare(app, terminal_size=SIZE, press=["down"], run_before=estimates_read)


def test_launch_screen_with_an_error(snap_compare, study, runs_dir):
    assert snap_compare(create_app(runs_dir), terminal_size=SIZE, press=["enter", *"optim.lr=-1"])


def test_runs_browser(snap_compare, study, runs_dir):
    assert snap_compare(create_app(runs_dir), terminal_size=SIZE, press=["r"])


def test_monitor(snap_compare, study, runs_dir):
    async def open_monitor(pilot):
        await pilot.app.push_screen(MonitorScreen(study))
        await pilot.pause(0.3)

    assert snap_compare(create_app(runs_dir), terminal_size=SIZE, run_before=open_monitor)


def test_monitor_replay_paused(snap_compare, study, runs_dir):
    async def replay(pilot):
        await pilot.app.push_screen(MonitorScreen(study))
        await pilot.press("p", "space", *["left"] * 20, *["right"] * 4)  # epoch 5, paused
        await pilot.pause(0.3)

    assert snap_compare(create_app(runs_dir), terminal_size=SIZE, run_before=replay)


def test_help(snap_compare, study, runs_dir):
    assert snap_compare(create_app(runs_dir), terminal_size=SIZE, press=["question_mark"])


def test_editor_with_an_error(snap_compare, study, runs_dir, monkeypatch):
    # no subprocess: the count would race the snapshot (None: as if cancelled, still counting)
    monkeypatch.setattr("tui_trainer.ui.screens.editor.count_parameters", lambda text, stop: None)

    async def edit_lr(pilot):
        from tui_trainer.ui.screens.editor import EditorScreen
        from tui_trainer.ui.widgets.preset_form import field_id

        app = pilot.app
        editor = EditorScreen(REPO / "presets" / "quickstart.toml", app.user_presets_dir, runs_dir)
        await pilot.app.push_screen(editor)
        spec = next(s for s in editor.specs if s.key == "optim.lr")
        field = editor.query_one(f"#{field_id(spec)}")
        field.value = "0"
        # no animation: an animated scroll would land wherever the machine's load leaves it
        editor.query_one("#form").scroll_to_widget(field, animate=False, top=True)
        await pilot.pause(0.5)

    assert snap_compare(create_app(runs_dir), terminal_size=SIZE, run_before=edit_lr)


def test_compare_screen(snap_compare, study, runs_dir):
    write_synthetic_study(
        runs_dir, study_id="20261122-130000-r002-cifar100-lr", learning_rates=(0.05, 0.5)
    )
    assert snap_compare(
        create_app(runs_dir), terminal_size=SIZE, press=["r", "space", "down", "space", "c"]
    )


def test_monitor_of_a_crashed_study_offers_resume(snap_compare, study, runs_dir):
    from tests.helpers import make_unfinished

    make_unfinished(study, "lr=0.5", "crashed", epoch=7)

    async def open_monitor(pilot):
        await pilot.app.push_screen(MonitorScreen(study))
        await pilot.pause(0.3)

    assert snap_compare(create_app(runs_dir), terminal_size=SIZE, run_before=open_monitor)


def test_monitor_of_a_parallel_study(snap_compare, tmp_path):
    """Runs on two hosts and GPUs, a retried one, queued ones waiting, a block per host."""
    from tests.helpers import parallel_study

    runs_dir = tmp_path / "parallel-runs"
    parallel_study(runs_dir)

    async def settle(pilot):  # the app opens the running study by itself (from a worker)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen))
        await pilot.press("down", "down", "down", "down")  # a queued run: what it waits for
        await pilot.pause(0.3)
        pilot.app.clear_notifications()  # "... is running", for 5 s
        await pilot.pause(0.1)

    assert snap_compare(create_app(runs_dir), terminal_size=SIZE, run_before=settle)


def test_a_focused_chart_with_a_spike(snap_compare):
    """The quickstart's validation-loss spike (457 at epoch 2) off the top edge, marked, the
    rest of the curves over the whole height; the cursor at epoch 2 and its values line."""
    from tests.test_charts import LOSS, ChartApp
    from tui_trainer.ui.widgets.charts import MetricChart

    async def show(pilot):
        pilot.app.query_one(MetricChart).show(LOSS)
        await pilot.press("home", "right")
        await pilot.pause()

    assert snap_compare(ChartApp(), terminal_size=(80, 20), run_before=show)


def inspect_keys_on(study, *keys):
    """Open the monitor, then `i` on lr=0.05 (given a made-up test split), then `keys`."""
    from tui_trainer.store.synthetic_test_split import write_synthetic_test_split

    write_synthetic_test_split(study / "lr=0.05")

    async def inspect(pilot):
        from tests.ui_pilot import wait_for
        from tui_trainer.ui.screens.inspect import InspectScreen

        await pilot.app.push_screen(MonitorScreen(study))
        await pilot.pause(0.3)
        await pilot.press("down", "i")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, InspectScreen), 10)
        await wait_for(pilot, lambda: not pilot.app.screen.busy, 10)  # read in workers
        await pilot.press(*keys)
        await pilot.pause(0.3)

    return inspect


def test_inspect_matrix_with_the_cat_to_dog_cell_highlighted(snap_compare, study, runs_dir):
    keys = ("down", "down", "down", *["right"] * 5)
    assert snap_compare(
        create_app(runs_dir), terminal_size=SIZE, run_before=inspect_keys_on(study, *keys)
    )


def test_inspect_samples(snap_compare, study, runs_dir):
    assert snap_compare(
        create_app(runs_dir), terminal_size=SIZE, run_before=inspect_keys_on(study, "3")
    )


def test_inspect_per_class_sorted_by_f1_at_80_by_24(snap_compare, study, runs_dir):
    assert snap_compare(
        create_app(runs_dir), terminal_size=(80, 24), run_before=inspect_keys_on(study, *"sss")
    )


def test_inspect_matrix_in_monochrome_at_80_by_24(snap_compare, study, runs_dir, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")  # the diagonal still reads: [81]
    assert snap_compare(
        create_app(runs_dir), terminal_size=(80, 24), run_before=inspect_keys_on(study)
    )
