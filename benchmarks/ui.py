"""What the app costs: start-up, training speed with the monitor open, redraw rate and CPU of
the monitor on a big study, and how fast the viewer and the runs browser open.

    .venv/bin/python -m benchmarks.ui [--skip-training]

- start-up: `tui-trainer --help` (and `runs`, `show`) wall time over 5 runs, whether torch was
  imported (python -X importtime), and the real app's first screen in tmux (time until the
  presets table is on the terminal);
- UI cost: the quickstart at 8 epochs headless (`tui-trainer run --plain`) against the same study
  launched from the real app in tmux with the monitor open, alternated (--rounds, 3); median epoch
  images/s (epochs 2 on) of each, and the ratio of the medians;
- monitor: a generated study of 12 runs x 300 epochs, opened in the app (Textual's Pilot):
  the time until its charts are painted, then 10 s of replay at x2 and 5 s at x4 (every chart
  redrawn for each replayed epoch),
  5 s idle, and 10 s with one run live (a step row every 0.25 s, an epoch row every 2 s, a
  heartbeat every second), counting frames and this process's CPU time;
- runs browser: 500 generated studies, the time until the table lists them all, once the app's
  start-up workers are done and with `r` pressed the moment the first screen shows;
- confusion heatmap: a 100-class matrix, the time from handing it to the inspect screen's
  heatmap until the frame that shows it is written, and from `c` (counts) to its frame, against
  the same cells in a Textual DataTable (what the heatmap was before) in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from functools import partial
from pathlib import Path

from benchmarks.common import REPO, machine_line

PYTHON = sys.executable
SIZE = (120, 40)


# -- start-up ----------------------------------------------------------------------------------


def command_seconds(args: list[str], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([PYTHON, "-m", "tui_trainer", *args], capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def imports_torch(args: list[str]) -> bool:
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "tui_trainer", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    return any(line.rstrip().endswith("| torch") for line in done.stderr.splitlines())


class Tmux:
    def __init__(self) -> None:
        self.socket = f"tui-trainer-bench-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True
        ).stdout

    def start(self, command: str) -> None:
        self("new-session", "-d", "-s", "app", "-x", str(SIZE[0]), "-y", str(SIZE[1]), command)

    def wait_for(self, text: str, timeout: float = 60.0, poll: float = 0.02) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if text in self("capture-pane", "-p", "-t", "app"):
                return time.perf_counter() - started
            time.sleep(poll)
        raise RuntimeError(f"{text!r} never appeared")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self("send-keys", "-t", "app", *(["-l"] if literal else []), *keys)

    def kill(self) -> None:
        self("kill-server")


def first_screen_seconds(runs_dir: Path, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        tmux = Tmux()
        try:
            started = time.perf_counter()
            tmux.start(f"cd {REPO} && exec {PYTHON} -m tui_trainer --runs-dir {runs_dir}")
            tmux.wait_for("quickstart")
            times.append(time.perf_counter() - started)
        finally:
            tmux.kill()
    return statistics.median(times)


# -- the UI's cost to training -----------------------------------------------------------------

EPOCHS = 8


def epoch_rate(runs_dir: Path) -> float:
    """Median images/s of epochs 2.. of the only run of the newest study in `runs_dir`."""
    from tui_trainer.store.csvlog import read_rows
    from tui_trainer.store.reader import list_studies

    study = list_studies(runs_dir)[0]
    rows = read_rows(study.runs[0].paths.metrics)
    return statistics.median(float(r["images_per_s"]) for r in rows if r["epoch"] >= 2)


def train_headless(runs_dir: Path) -> float:
    subprocess.run(
        [
            *(PYTHON, "-m", "tui_trainer", "run", "presets/quickstart.toml", "--plain"),
            *("--set", f"train.epochs={EPOCHS}", "--runs-dir", str(runs_dir)),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return epoch_rate(runs_dir)


def train_from_the_app(runs_dir: Path) -> float:
    from tui_trainer.store.reader import list_studies

    tmux = Tmux()
    try:
        tmux.start(f"cd {REPO} && exec {PYTHON} -m tui_trainer --runs-dir {runs_dir}")
        tmux.wait_for("quickstart")
        tmux.keys("Enter")  # the first preset: the quickstart
        tmux.wait_for("Overrides")
        tmux.keys(f"train.epochs={EPOCHS}", literal=True)
        tmux.wait_for(f"{EPOCHS} run-epochs")
        tmux.keys("Enter")
        tmux.wait_for("running")
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            studies = list_studies(runs_dir)
            if studies and studies[0].state not in ("running", "queued"):
                break
            time.sleep(0.5)
        tmux.wait_for("completed", timeout=10)  # the monitor was live to the end
    finally:
        tmux.kill()
    return epoch_rate(runs_dir)


# -- the monitor, the viewer and the runs browser ----------------------------------------------


def write_big_study(runs_dir: Path) -> Path:
    from tui_trainer.store.synthetic import write_synthetic_study

    rates = tuple(round(0.005 * (i + 1), 3) for i in range(12))
    return write_synthetic_study(
        runs_dir, "20261122-120000-big", learning_rates=rates, epochs=300, steps_per_epoch=20
    )


class LiveRun(threading.Thread):
    """Makes a run of the big study live, as its trainer would: status.toml says running with a
    heartbeat every second, a steps.csv row every 0.25 s, a metrics.csv row (an epoch) every 2 s."""

    def __init__(self, run_dir: Path, first_epoch: int):
        super().__init__(daemon=True)
        self.run_dir, self.epoch = run_dir, first_epoch
        self.halt = threading.Event()

    def status(self) -> None:
        from datetime import datetime, timezone

        from tui_trainer.store import status as st
        from tui_trainer.store.atomic import write_toml_atomic

        write_toml_atomic(
            self.run_dir / "status.toml",
            {
                "state": st.RUNNING,
                **st.process_identity(),
                "heartbeat": datetime.now(timezone.utc),
                "epoch": self.epoch - 1,
                "epochs": 400,
                "steps_per_epoch": 8,
                "eta_s": 100.0,
            },
        )

    def run(self) -> None:
        tick = 0
        while not self.halt.wait(0.25):
            tick += 1
            step = (self.epoch - 1) * 8 + tick % 8 + 1
            with open(self.run_dir / "steps.csv", "a") as handle:
                handle.write(f"{self.epoch},{step},1.5,,0.01,4210.0,97.0,{step * 1.25}\n")
            if tick % 4 == 0:
                self.status()
            if tick % 8 == 0:
                with open(self.run_dir / "metrics.csv", "a") as handle:
                    handle.write(
                        f"{self.epoch},1.5,0.6,1.9,0.55,0.8,0.01,9.5,4210.0,{10.0 * self.epoch}\n"
                    )
                self.epoch += 1


async def monitor_figures(runs_dir: Path) -> dict[str, tuple[float, float, float]]:
    """Frames (updates written to the terminal) and chart builds (plotext figures built) per second,
    and this process's CPU, counted outside the monitor's own code so that any rebuild of the
    screen is measured the same way."""
    from textual.app import App
    from textual_plotext.plot import Plot

    from tui_trainer.ui.app import create_app
    from tui_trainer.ui.screens.monitor import MonitorScreen
    from tui_trainer.ui.widgets.charts import MetricChart

    study = write_big_study(runs_dir)
    counts = {"frames": 0, "charts": 0}
    built: set[int] = set()  # the charts painted at least once
    originals = (App._display, Plot.build)

    def counted_display(self, screen, renderable):
        if renderable is not None:
            counts["frames"] += 1
        return originals[0](self, screen, renderable)

    def counted_build(self):  # every chart, whatever its widget's render does, builds its figure
        counts["charts"] += 1
        built.add(id(self))
        return originals[1](self)

    App._display, Plot.build = counted_display, counted_build
    figures: dict = {}
    try:
        app = create_app(runs_dir, [])
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            started = time.perf_counter()
            app.push_screen(MonitorScreen(study))
            monitor = app.screen
            deadline = started + 60
            while not (charts := list(monitor.query(MetricChart))) or not all(
                id(chart.plt) in built for chart in charts
            ):  # until every chart is painted
                if time.perf_counter() > deadline:
                    raise RuntimeError("the monitor's charts were not all drawn within 60 s")
                await pilot.pause(0.005)
            figures["viewer_open_s"] = time.perf_counter() - started

            async def window(name: str, seconds: float) -> None:
                counts.update(frames=0, charts=0)
                wall, cpu = time.perf_counter(), time.process_time()
                await pilot.pause(seconds)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                figures[name] = (counts["frames"] / wall, counts["charts"] / wall, 100 * cpu / wall)

            await pilot.press("p")  # replay at x2: every chart redrawn for each replayed epoch
            await window("replay", 10)
            await pilot.press("plus")  # x4: an epoch a tick, a frame a tick
            await window("replay_x4", 5)
            await pilot.press(*["plus"] * 4)  # the fastest replay, then wait for its end
            deadline = time.perf_counter() + 120
            while "replay" in str(monitor.query_one("#study-title").render()):
                if time.perf_counter() > deadline:
                    raise RuntimeError("the replay did not end within 120 s")
                await pilot.pause(0.25)
            await pilot.pause(0.5)
            await window("idle", 5)
            live = LiveRun(study / "lr=0.06", 301)
            live.status()
            live.start()
            await pilot.pause(1.0)
            await window("live", 10)
            live.halt.set()
            live.join()
    finally:
        App._display, Plot.build = originals
    return figures


async def browser_seconds(runs_dir: Path, count: int = 500, settled: bool = False) -> float:
    """Seconds from `r` until the browser lists `count` studies: pressed as soon as the first
    screen shows, while the app's start-up workers (the presets' estimates, the search for a
    running study) still read the same studies, or once they are done (`settled`)."""
    from textual.widgets import DataTable

    from tui_trainer.store.synthetic import write_synthetic_study
    from tui_trainer.ui.app import create_app

    for i in range(count):
        write_synthetic_study(runs_dir, f"20261122-{i:06d}-study{i}", epochs=15)
    app = create_app(runs_dir, [])
    async with app.run_test(size=SIZE) as pilot:
        if settled:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
        # else `r` the moment the app runs (a first pause would let the workers read first)
        started = time.perf_counter()
        await pilot.press("r")
        while True:
            tables = app.screen.query("#studies")
            if tables and tables.first(DataTable).row_count == count:
                break
            await pilot.pause(0.005)
        return time.perf_counter() - started


async def heatmap_seconds(repeats: int = 3) -> dict[str, tuple[float, float]]:
    """(open, toggle) seconds, the median of `repeats`, of the Line API heatmap and of a
    DataTable holding the same 100 x 100 cells, each until its frame is written."""
    from rich.text import Text
    from textual.app import App
    from textual.widgets import DataTable

    from tui_trainer.store.per_class import ConfusionMatrix
    from tui_trainer.store.synthetic_test_split import synthetic_confusion
    from tui_trainer.ui.widgets.confusion_heatmap import ConfusionHeatmap, cell_style, cell_words

    size = 100
    matrix = ConfusionMatrix(
        tuple(f"class{i}" for i in range(size)),
        tuple(tuple(row) for row in synthetic_confusion(size)),
    )

    def fill(table: DataTable, counts: bool) -> None:
        table.clear(columns=True)
        for column in range(size):
            table.add_column(str(column), width=(4 if counts else 3) + 3)
        for true, row in enumerate(matrix.counts):
            support = sum(row)
            table.add_row(
                *(
                    Text(
                        cell_words(value, value / support, true == p, counts),
                        style=cell_style(value, value / support, true == p),
                        justify="right",
                    )
                    for p, value in enumerate(row)
                ),
                label=f"{true:>2} {matrix.classes[true]}",
            )

    frames = {"count": 0}
    original = App._display

    def counted_display(self, screen, renderable):
        if renderable is not None:
            frames["count"] += 1
        return original(self, screen, renderable)

    class Bench(App):
        def compose(self):
            yield ConfusionHeatmap(id="heatmap")
            yield DataTable(id="table", cursor_type="cell", cell_padding=0)

    async def until_frame(pilot, change) -> float:
        seen = frames["count"]
        started = time.perf_counter()
        change()
        while frames["count"] == seen:
            await pilot.pause(0.001)
        return time.perf_counter() - started

    App._display = counted_display
    timings: dict[str, list[tuple[float, float]]] = {"heatmap": [], "datatable": []}
    try:
        for _ in range(repeats):
            for name in timings:
                app = Bench()
                async with app.run_test(size=SIZE) as pilot:
                    heatmap, table = app.query_one(ConfusionHeatmap), app.query_one(DataTable)
                    (table if name == "heatmap" else heatmap).display = False
                    await pilot.pause(0.2)
                    if name == "heatmap":
                        show, switch = (
                            partial(setattr, heatmap, "matrix", matrix),
                            partial(setattr, heatmap, "counts", True),
                        )
                    else:
                        show, switch = partial(fill, table, False), partial(fill, table, True)
                    opened = await until_frame(pilot, show)
                    await pilot.pause(0.2)
                    toggled = await until_frame(pilot, switch)
                    timings[name].append((opened, toggled))
    finally:
        App._display = original
    return {
        name: (
            statistics.median(open_ for open_, _ in runs),
            statistics.median(toggle for _, toggle in runs),
        )
        for name, runs in timings.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-training", action="store_true", help="no UI-cost training runs")
    parser.add_argument("--rounds", type=int, default=3, help="headless/app alternations")
    args = parser.parse_args(argv)
    print(machine_line())
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        write_big_study(scratch / "one")
        help_s = command_seconds(["--help"])
        runs_s = command_seconds(["runs", "--runs-dir", str(scratch / "one")])
        show_s = command_seconds(["show", "latest", "--runs-dir", str(scratch / "one")])
        torch_in = [a for a in ("--help", "runs", "show") if imports_torch(_args(a, scratch))]
        print(
            f"start-up: --help {help_s:.2f} s (target <= 0.5), runs {runs_s:.2f} s, "
            f"show {show_s:.2f} s; torch imported by: {', '.join(torch_in) or 'none'}"
        )
        if shutil.which("tmux"):
            first = first_screen_seconds(scratch / "empty")
            print(f"TUI first screen (real binary in tmux): {first:.2f} s (target <= 1.5)")

        figures = asyncio.run(monitor_figures(scratch / "monitor"))
        print(
            f"viewer opens 12 runs x 300 epochs: {figures['viewer_open_s']:.2f} s (target <= 0.5)"
        )
        for mode, what in (
            ("replay", "replay at x2 (the default), every chart redrawn each replayed epoch"),
            ("replay_x4", "replay at x4, an epoch each tick"),
            ("live", "live, a step row each 0.25 s, an epoch each 2 s, a heartbeat each 1 s"),
            ("idle", "idle, a finished study"),
        ):
            frames, charts, cpu = figures[mode]
            print(
                f"monitor {what}: {frames:.1f} frames/s ({charts:.1f} chart builds/s)"
                f", {cpu:.1f}% of one core (target <= 15%; a frame for each change shown)"
            )
        browser = asyncio.run(browser_seconds(scratch / "browser"))
        settled = asyncio.run(browser_seconds(scratch / "browser-settled", settled=True))
        print(
            f"runs browser lists 500 studies: {settled:.2f} s (target <= 1); {browser:.2f} s "
            "when r is pressed the moment the first screen shows (the start-up workers read too)"
        )
        heat = asyncio.run(heatmap_seconds())
        (h_open, h_toggle), (t_open, t_toggle) = heat["heatmap"], heat["datatable"]
        print(
            f"confusion heatmap, 100 classes: opens in {h_open:.3f} s, counts/% in "
            f"{h_toggle:.3f} s; the same cells in a DataTable {t_open:.3f} s and {t_toggle:.3f} s"
            f" (ratios {t_open / h_open:.1f}x, {t_toggle / h_toggle:.1f}x; target <= 0.25 s)"
        )

        if not args.skip_training and shutil.which("tmux"):
            headless, tui = [], []
            for round_ in range(args.rounds):
                headless.append(train_headless(scratch / f"headless{round_}"))
                tui.append(train_from_the_app(scratch / f"tui{round_}"))
            h, t = statistics.median(headless), statistics.median(tui)
            print(
                f"training, quickstart {EPOCHS} epochs: headless "
                f"{' '.join(f'{x:.0f}' for x in headless)} img/s, from the app with the "
                f"monitor open {' '.join(f'{x:.0f}' for x in tui)} img/s; ratio {t / h:.3f} "
                "(target >= 0.97)"
            )
    return 0


def _args(command: str, scratch: Path) -> list[str]:
    if command == "--help":
        return ["--help"]
    if command == "runs":
        return ["runs", "--runs-dir", str(scratch / "one")]
    return ["show", "latest", "--runs-dir", str(scratch / "one")]


if __name__ == "__main__":
    os.environ.setdefault("TERM", "xterm-256color")
    raise SystemExit(main())
