"""Save what the monitor looks like as SVG, on a synthetic finished study:

    python -m tui_trainer.ui.screenshot docs/monitor.svg

README.md shows the result; rerun this after changing the monitor.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from tui_trainer.store.synthetic import write_synthetic_study
from tui_trainer.ui.app import create_app
from tui_trainer.ui.screens.monitor import MonitorScreen

SIZE = (120, 40)


async def save_monitor(out: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        study = write_synthetic_study(Path(scratch) / "runs")
        app = create_app(Path(scratch) / "runs")
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(MonitorScreen(study))
            await pilot.pause(0.5)
            out.parent.mkdir(parents=True, exist_ok=True)
            app.save_screenshot(filename=out.name, path=str(out.parent))


def main(argv: list[str]) -> None:
    out = Path(argv[0] if argv else "docs/monitor.svg")
    asyncio.run(save_monitor(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
