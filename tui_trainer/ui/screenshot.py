"""The docs' pictures of the app, as SVG, made from real short studies:

    python -m tui_trainer.ui.screenshot docs/pictures                   # trains, then draws
    python -m tui_trainer.ui.screenshot docs/pictures --runs-dir DIR    # studies trained before

It trains the two small digits studies of `docs/pictures/*.toml` with `tui-trainer run` (a few
minutes on two CPU cores; a child process, as the app launches a trainer, so this module never
imports torch), then opens the app on them and saves what a person sees: the monitor and the
inspect screen on the first study, the editor on its preset, and the runs browser's compare of
both. Real runs rather than a synthetic study because the pictures are there to show what
training looks like: curves that rise at different rates, a confusion matrix with real mistakes.
Rerun it after changing any of those screens.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from tui_trainer.store.per_class import worst_confused
from tui_trainer.store.reader import study_dirs
from tui_trainer.ui.app import TrainerApp, create_app
from tui_trainer.ui.screens.compare import CompareScreen
from tui_trainer.ui.screens.editor import EditorScreen
from tui_trainer.ui.screens.inspect import InspectScreen
from tui_trainer.ui.screens.monitor import MonitorScreen

SIZE = (120, 40)
STUDIES = Path(__file__).resolve().parents[2] / "docs" / "pictures"
PICTURES = ("monitor", "inspect", "editor", "compare")
INSPECTED_ROW = 1  # the runs table's second row: the middle learning rate
SETTLE_S = 1.0  # what a screen is given to draw its charts before it is saved


def train_studies(presets: list[Path], runs_dir: Path) -> None:
    """Train each preset headless on the CPU, as `tui-trainer run` does for a user."""
    for preset in presets:
        command = [sys.executable, "-m", "tui_trainer", "run", str(preset)]
        options = ["--runs-dir", str(runs_dir), "--device", "cpu", "--plain"]
        subprocess.run([*command, *options], check=True)


async def _until(pilot: Pilot, condition: Callable[[], bool], timeout_s: float = 120.0) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if condition():
            return
        await pilot.pause(0.1)
    raise TimeoutError("the screen did not settle in time")


async def _monitor(app: TrainerApp, pilot: Pilot, study: Path) -> None:
    await app.push_screen(MonitorScreen(study))
    await pilot.pause(SETTLE_S)


async def _inspect(app: TrainerApp, pilot: Pilot, study: Path) -> None:
    await _monitor(app, pilot, study)
    await pilot.press(*["down"] * INSPECTED_ROW, "i")
    await _until(pilot, lambda: isinstance(app.screen, InspectScreen) and not app.screen.busy)
    matrix = app.screen.matrix  # the cursor onto the most confused cell, said in words below
    pairs = worst_confused(matrix, limit=1) if matrix is not None else []
    if pairs:
        classes = matrix.classes  # type: ignore[union-attr]
        true, predicted = classes.index(pairs[0].true), classes.index(pairs[0].predicted)
        await pilot.press(*["down"] * true, *["right"] * predicted)
    await pilot.pause(SETTLE_S / 2)


async def _editor(app: TrainerApp, pilot: Pilot, preset: Path) -> None:
    editor = EditorScreen(preset, app.user_presets_dir, app.runs_dir)
    await app.push_screen(editor)

    def counted() -> bool:  # the count runs `tui-trainer params`: empty, then counting…, then it
        line = str(editor.query_one("#params").render())
        return line.startswith("parameters:") and "counting" not in line

    await _until(pilot, counted)
    await pilot.pause(SETTLE_S / 2)


async def _compare(app: TrainerApp, pilot: Pilot) -> None:
    await pilot.press("r", "space", "down", "space", "c")  # the two newest studies
    await _until(pilot, lambda: isinstance(app.screen, CompareScreen))
    await pilot.pause(SETTLE_S)


async def save_picture(
    out: Path, runs_dir: Path, show: Callable[[TrainerApp, Pilot], Awaitable[None]]
) -> None:
    """Open the app on runs_dir, let `show` bring up a screen, save it as out."""
    app = create_app(runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(SETTLE_S / 2)
        await show(app, pilot)
        out.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename=out.name, path=str(out.parent))


def save_pictures(out_dir: Path, runs_dir: Path, presets: list[Path]) -> list[Path]:
    """The four pictures from the studies of runs_dir (the first preset's study is the oldest)."""
    studies = sorted(study_dirs(runs_dir), key=lambda path: path.name)  # <stamp>-<name>
    first = studies[0]
    shows: dict[str, Callable[[TrainerApp, Pilot], Awaitable[None]]] = {
        "monitor": lambda app, pilot: _monitor(app, pilot, first),
        "inspect": lambda app, pilot: _inspect(app, pilot, first),
        "editor": lambda app, pilot: _editor(app, pilot, presets[0]),
        "compare": _compare,
    }
    written = []
    for name in PICTURES:
        out = out_dir / f"{name}.svg"
        asyncio.run(save_picture(out, runs_dir, shows[name]))
        written.append(out)
    return written


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tui_trainer.ui.screenshot")
    parser.add_argument("out_dir", type=Path, help="where the SVGs go (docs/pictures)")
    parser.add_argument("--runs-dir", type=Path, help="studies already trained: skip training")
    args = parser.parse_args(argv)
    presets = sorted(STUDIES.glob("*.toml"))
    with tempfile.TemporaryDirectory() as scratch:
        runs_dir = args.runs_dir
        if runs_dir is None:
            runs_dir = Path(scratch) / "runs"
            train_studies(presets, runs_dir)
        for out in save_pictures(args.out_dir, runs_dir, presets):
            print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
