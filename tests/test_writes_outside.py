"""Nothing a study's files (or the runs directory) say makes tui-trainer write outside them: the
compare export never writes through a symlinked `exports`, and says so when it is a file; a
trainer.log or metrics.csv hard-linked to a file elsewhere is refused, never appended to. (A
data_dir named by a run's config.toml: tests/test_resume_history.py.)"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.helpers import make_unfinished, record_notes
from tui_trainer import launch
from tui_trainer.console.plain import PlainLog
from tui_trainer.errors import UsageError
from tui_trainer.store import resumable
from tui_trainer.store.reader import read_study
from tui_trainer.store.synthetic import write_synthetic_study
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.compare import CompareScreen


def export_from_the_app(runs_dir: Path, tmp_path: Path) -> list[tuple[str, str]]:
    """Open the runs browser, compare the highlighted study and press x; the notifications."""
    notes: list[tuple[str, str]] = []

    async def scenario():
        app = create_app(runs_dir, user_presets_dir=tmp_path / "no-presets")
        async with app.run_test(size=(120, 40)) as pilot:
            recorded = record_notes(app)
            await pilot.press("r")
            await pilot.pause()
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(app.screen, CompareScreen)
            await pilot.press("x")
            await pilot.pause()
            notes.extend(recorded)
        assert app.return_code in (None, 0)

    asyncio.run(scenario())
    return notes


def test_the_compare_export_never_writes_through_a_symlinked_exports(tmp_path):
    runs_dir = tmp_path / "runs"
    write_synthetic_study(runs_dir)
    elsewhere = tmp_path / "someone-elses"
    elsewhere.mkdir()
    (runs_dir / "exports").symlink_to(elsewhere)
    notes = export_from_the_app(runs_dir, tmp_path)
    assert notes[-1] == (
        f"cannot write {runs_dir / 'exports'}: is a symlink; not followed",
        "error",
    )
    assert list(elsewhere.iterdir()) == []


def test_an_exports_that_is_a_file_is_an_error_not_a_crash(tmp_path):
    runs_dir = tmp_path / "runs"
    write_synthetic_study(runs_dir)
    (runs_dir / "exports").write_text("not a directory")
    notes = export_from_the_app(runs_dir, tmp_path)
    assert notes[-1] == (
        f"cannot write {runs_dir / 'exports'}: is a regular file, not a directory",
        "error",
    )
    assert (runs_dir / "exports").read_text() == "not a directory"


def test_the_compare_export_writes_a_new_file_in_its_own_directory(tmp_path):
    runs_dir = tmp_path / "runs"
    write_synthetic_study(runs_dir)
    notes = export_from_the_app(runs_dir, tmp_path)
    (written,) = (runs_dir / "exports").iterdir()
    assert notes[-1] == (f"wrote {written}", "information")
    assert written.read_text().startswith("| study | run |")  # then the keys that differ


@pytest.fixture
def interrupted_synthetic(tmp_path) -> Path:
    study = write_synthetic_study(tmp_path / "runs")
    make_unfinished(study, "lr=0.5", "interrupted")
    return study


@pytest.mark.parametrize("name", ["trainer.log", "lr=0.5/metrics.csv", "lr=0.5/steps.csv"])
def test_a_log_hard_linked_elsewhere_is_refused_before_resuming(interrupted_synthetic, name):
    study = interrupted_synthetic
    outside = study.parent.parent / "outside.txt"
    outside.write_text("someone else's\n")
    (study / name).unlink()
    os.link(outside, study / name)
    with pytest.raises(UsageError) as refused:
        resumable.plan(read_study(study))
    where = study if name == "trainer.log" else study / "lr=0.5"
    assert str(refused.value) == (
        f"refusing to resume {where}: {Path(name).name} has 2 hard links (appending to it "
        "would write elsewhere too)"
    )
    assert outside.read_text() == "someone else's\n"


def test_the_apps_launcher_never_appends_to_a_hard_linked_trainer_log(interrupted_synthetic):
    study = interrupted_synthetic
    outside = study.parent.parent / "outside.txt"
    outside.write_text("someone else's\n")
    (study / "trainer.log").unlink()
    os.link(outside, study / "trainer.log")
    with pytest.raises(OSError, match="has 2 hard links; refusing to write through them"):
        launch.resume(study, study.parent)
    assert outside.read_text() == "someone else's\n"


def test_a_trainer_never_appends_to_a_hard_linked_trainer_log(tmp_path, capsys):
    study = tmp_path / "study"
    study.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("someone else's\n")
    os.link(outside, study / "trainer.log")
    log = PlainLog([sys.stdout], to_study_log=True)
    log.study_started("x", study, [("run", 1)])
    log.note("a line")
    log.close()
    assert outside.read_text() == "someone else's\n"
    assert "has 2 hard links; refusing to write through them; not logging there" in (
        capsys.readouterr().out
    )
