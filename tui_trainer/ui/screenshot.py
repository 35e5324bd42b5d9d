"""Save what the monitor (or the inspect screen) looks like as SVG, on a synthetic finished
study:

    python -m tui_trainer.ui.screenshot docs/monitor.svg
    python -m tui_trainer.ui.screenshot docs/inspect.svg inspect

README.md shows the results; rerun these after changing either screen.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from tui_trainer.store.synthetic import write_synthetic_study
from tui_trainer.store.synthetic_test_split import write_synthetic_test_split
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.inspect import InspectScreen
from tui_trainer.ui.screens.monitor import MonitorScreen

SIZE = (120, 40)
INSPECTED_RUN = "lr=0.05"  # the runs table's second row
INSPECT_KEYS = ("down", "i", "down", "down", "down", *["right"] * 5)  # the cat → dog cell


async def save_screen(out: Path, screen: str = "monitor") -> None:
    with tempfile.TemporaryDirectory() as scratch:
        study = write_synthetic_study(Path(scratch) / "runs")
        write_synthetic_test_split(study / INSPECTED_RUN)
        app = create_app(Path(scratch) / "runs")
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.5)
            if screen == "inspect":
                await pilot.press(*INSPECT_KEYS[:2])
                for _ in range(100):  # the screen reads the run's files in workers
                    if isinstance(app.screen, InspectScreen) and not app.screen.busy:
                        break
                    await pilot.pause(0.1)
                await pilot.press(*INSPECT_KEYS[2:])
                await pilot.pause(0.5)
            out.parent.mkdir(parents=True, exist_ok=True)
            app.save_screenshot(filename=out.name, path=str(out.parent))


def main(argv: list[str]) -> None:
    out = Path(argv[0] if argv else "docs/monitor.svg")
    asyncio.run(save_screen(out, argv[1] if len(argv) > 1 else "monitor"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
