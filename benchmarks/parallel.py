"""What parallel runs gain: one study trained one run after another (the default, in one
process) against the same study with several runs at once, in the same run of this script.

    .venv/bin/python -m benchmarks.parallel                 # CPU: 4 runs, serial vs --jobs 2
    .venv/bin/python -m benchmarks.parallel --device cuda   # 8 runs, serial vs --runs-per-gpu 4

The study is the quickstart (half-width MobileNet v1 on the bundled digits, batch 64) with a
learning-rate sweep, `--epochs` epochs per run. The two ways alternate for `--rounds` rounds, and
the medians are compared. Printed per way: the study's wall time (from the command's start to its
exit: process starts, dataset loads and the test evaluation included), the training images per
second summed over all runs (every run's epochs x its training images / the wall time), the sum
of each run's own mean img/s, and the memory: the peak RSS of the trainer (serial) or of the
driver, and the largest worker's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks.common import REPO, machine_line, median
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import read_rows
from tui_trainer.store.schema import read_status


@dataclass
class Measured:
    wall_s: float
    images_per_s: float  # over the study: every run's trained images / wall time
    summed_run_rate: float  # the sum of each run's mean img/s
    top_rss_mb: float  # the trainer, or the driver
    worker_rss_mb: float  # the largest child: a worker, or the driver's worker-check


class PeakMemory:
    """Samples the RSS of a process and of its children until stopped."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.top = 0.0
        self.child = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            try:
                self.top = max(self.top, self.process.memory_info().rss / 2**20)
                for child in self.process.children():
                    self.child = max(self.child, child.memory_info().rss / 2**20)
            except psutil.Error:
                continue

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def measure(preset: Path, runs_dir: Path, extra: list[str]) -> Measured:
    command = [sys.executable, "-m", "tui_trainer", "run", str(preset), "--plain"]
    command += ["--runs-dir", str(runs_dir), *extra]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    memory = PeakMemory(process.pid)
    _, errors = process.communicate()
    wall = time.perf_counter() - started
    memory.stop()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{errors.decode()}")
    (study,) = [p for p in runs_dir.iterdir() if (p / "study.toml").exists()]
    images, rates = 0.0, []
    for run in sorted(p for p in study.iterdir() if p.is_dir()):
        rows = read_rows(run / "metrics.csv")
        status = read_status(run / "status.toml")
        per_epoch = (status.steps_per_epoch or 0) if status else 0
        batch = (read_toml(run / "config.toml") or {}).get("data", {}).get("batch_size", 0)
        images += len(rows) * per_epoch * batch
        run_rates = [r["images_per_s"] for r in rows if isinstance(r.get("images_per_s"), float)]
        rates.append(sum(run_rates) / len(run_rates) if run_rates else 0.0)
    return Measured(wall, images / wall, sum(rates), memory.top, memory.child)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    print(machine_line())
    if args.device == "cpu":
        runs, parallel, label = 4, ["--jobs", "2"], "--jobs 2"
    else:
        runs, parallel, label = 8, ["--runs-per-gpu", "4", "--gpus", "0"], "--runs-per-gpu 4"
    rates = ", ".join(f"{0.02 * (i + 1):g}" for i in range(runs))
    overrides = [
        "--set", f"sweep.optim.lr=[{rates}]", "--set", f"train.epochs={args.epochs}",
        "--device", args.device,
    ]  # fmt: skip
    preset = REPO / "presets" / "quickstart.toml"
    results: dict[str, list[Measured]] = {"serial": [], label: []}
    with tempfile.TemporaryDirectory(prefix="tui-trainer-parallel-") as scratch:
        for round_ in range(args.rounds):
            for name, extra in (("serial", []), (label, parallel)):
                runs_dir = Path(scratch) / f"{round_}-{name.replace(' ', '')}"
                measured = measure(preset, runs_dir, [*overrides, *extra])
                results[name].append(measured)
                print(
                    f"round {round_ + 1} {name:>18}: {measured.wall_s:6.1f} s, "
                    f"{measured.images_per_s:7.0f} img/s over the study, "
                    f"{measured.summed_run_rate:7.0f} summed run img/s",
                    flush=True,
                )
    print(f"\n{runs} runs x {args.epochs} epochs on {args.device}, medians of {args.rounds}:")
    for name, measured in results.items():
        wall = median([m.wall_s for m in measured])
        rate = median([m.images_per_s for m in measured])
        summed = median([m.summed_run_rate for m in measured])
        top = max(m.top_rss_mb for m in measured)
        worker = max(m.worker_rss_mb for m in measured)
        memory = (
            f"trainer {top:.0f} MB"
            if not worker
            else f"driver {top:.0f} MB, worker {worker:.0f} MB"
        )
        print(
            f"  {name:>18}: {wall:6.1f} s  {rate:7.0f} img/s  (runs' own: {summed:7.0f})  "
            f"peak RSS: {memory}"
        )
    serial = median([m.wall_s for m in results["serial"]])
    ours = median([m.wall_s for m in results[label]])
    print(f"  wall time serial / {label}: {serial / ours:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
