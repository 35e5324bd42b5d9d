"""How start-up grows with the runs directory: `tui-trainer --help`, `runs` and the app's first
screen, on 0, 2,000 and 20,000 studies.

    .venv/bin/python -m benchmarks.startup [--counts 0 2000 20000] [--repeats 5] [--tree DIR]

(--tree: time the tui-trainer of another checkout, e.g. a `git worktree` of an older commit,
on the same generated studies.)

A user's runs directory only grows, so what the first screen and `runs` cost must not grow with
it faster than what they show. Each figure is the median wall time of a fresh process (and its
CPU time, steadier on a shared machine), beside `python -c pass` (the interpreter's own start)
measured in the same run, as a ratio:

- `--help` and `runs` on an empty directory: the CLI's import cost alone (targets <= 0.25 s);
- `runs` on N studies: what listing reads and prints per study (target <= 2 s at 2,000);
- the app's first screen (the real binary in tmux, benchmarks.ui's measurement): the time until
  the preset list is on the terminal, whatever the time estimates, read after it in a worker,
  cost (target <= 1 s whatever N).

The studies are small finished ones of 3 runs x 3 epochs launched on this host, so the presets'
time estimates read them all (store.synthetic.write_many_studies: one written by the real
writers, then copied).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, machine_line
from benchmarks.ui import Tmux

PYTHON = sys.executable
FIRST_SCREEN_LIMIT_S = 120.0


def child_seconds(argv: list[str], repeats: int, tree: Path = REPO) -> tuple[float, float]:
    """The median wall time of `argv` run `repeats` times in `tree`, and its mean CPU time."""
    walls = []
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, cwd=tree, env=env, check=True)
        walls.append(time.perf_counter() - started)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return statistics.median(walls), cpu / repeats


def first_screen_seconds(runs_dir: Path, tree: Path, repeats: int = 3) -> float | None:
    """The median time until the app of `tree`, started in tmux, shows its preset list; None
    when it took more than FIRST_SCREEN_LIMIT_S."""
    times = []
    for _ in range(repeats):
        tmux = Tmux()
        try:
            started = time.perf_counter()
            tmux.start(
                f"cd {tree} && PYTHONPATH={tree} exec {PYTHON} -m tui_trainer --runs-dir {runs_dir}"
            )
            tmux.wait_for("quickstart", timeout=FIRST_SCREEN_LIMIT_S)
            times.append(time.perf_counter() - started)
        except RuntimeError:
            return None
        finally:
            tmux.kill()
    return statistics.median(times)


def cli(*args: str) -> list[str]:
    return [PYTHON, "-m", "tui_trainer", *args]


def line(label: str, figures: tuple[float, float], baseline: float, target: str = "") -> str:
    wall, cpu = figures
    aim = f" (target {target})" if target else ""
    return f"{label}: {wall:.2f} s, {wall / baseline:.1f}x python -c pass; CPU {cpu:.2f} s{aim}"


def main(argv: list[str] | None = None) -> int:
    from tui_trainer.store.synthetic import write_many_studies

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[0, 2000, 20000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout to time")
    args = parser.parse_args(argv)
    tree = args.tree.resolve()
    print(machine_line())
    print(f"timing the tui-trainer of {tree}")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        empty = scratch / "empty"
        empty.mkdir()
        baseline = child_seconds([PYTHON, "-c", "pass"], args.repeats * 2)
        print(f"python -c pass: {baseline[0]:.3f} s (CPU {baseline[1]:.3f} s)")
        help_s = child_seconds(cli("--help"), args.repeats, tree)
        print(line("--help", help_s, baseline[0], "<= 0.25 s"))
        empty_s = child_seconds(cli("runs", "--runs-dir", str(empty)), args.repeats, tree)
        print(line("runs, empty directory", empty_s, baseline[0], "<= 0.25 s"))
        for count in args.counts:
            runs_dir = scratch / f"studies-{count}"
            started = time.perf_counter()
            write_many_studies(runs_dir, count, host=socket.gethostname())
            made = time.perf_counter() - started
            listed = child_seconds(cli("runs", "--runs-dir", str(runs_dir)), args.repeats, tree)
            target = "<= 2 s" if count == 2000 else ""
            print(
                line(
                    f"runs, {count} studies (written in {made:.0f} s)", listed, baseline[0], target
                )
            )
            if shutil.which("tmux"):
                first = first_screen_seconds(runs_dir, tree)
                shown = (
                    f"{first:.2f} s" if first is not None else f"over {FIRST_SCREEN_LIMIT_S:.0f} s"
                )
                print(f"app's first screen, {count} studies: {shown} (target <= 1 s)")
            shutil.rmtree(runs_dir)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TERM", "xterm-256color")
    raise SystemExit(main())
