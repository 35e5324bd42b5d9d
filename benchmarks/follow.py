"""What a damaged file costs the monitor: the follower's idle poll (what the monitor does 4 times
a second) of a study whose metrics.csv ends in a 50 MB line without a newline (a writer killed
mid-row on a damaged disk, or a hostile file), against the same study without it.

    .venv/bin/python -m benchmarks.follow [--seconds 5]

Each case polls for `--seconds` after a first poll; the CPU time per poll (this process's user
and system time) of each is printed, and the ratio torn / clean. A follower that re-read the
unfinished line on every poll made the torn case cost a 50 MB read per poll.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.common import machine_line
from tui_trainer.store.follow import StudyFollower
from tui_trainer.store.synthetic import write_synthetic_study

TORN_BYTES = 50 << 20


def poll_cost(study: Path, seconds: float) -> tuple[float, int]:
    """(CPU seconds per poll, polls) of idle polls of `study` after the first one."""
    follower = StudyFollower(study)
    follower.poll()
    follower.new_log_lines()
    process = psutil.Process()
    cpu = process.cpu_times()
    started, polls = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        follower.poll()
        follower.new_log_lines()
        polls += 1
        time.sleep(0.01)
    after = process.cpu_times()
    used = (after.user - cpu.user) + (after.system - cpu.system)
    return used / polls, polls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    print(machine_line())
    scratch = Path(tempfile.mkdtemp(prefix="tui-trainer-follow-"))
    try:
        clean = write_synthetic_study(scratch / "clean", epochs=300)
        torn = write_synthetic_study(scratch / "torn", epochs=300)
        with open(torn / "lr=0.5" / "metrics.csv", "ab") as handle:
            handle.write(b"7" * TORN_BYTES)
        clean_cost, clean_polls = poll_cost(clean, args.seconds)
        torn_cost, torn_polls = poll_cost(torn, args.seconds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"idle poll, clean study:          {clean_cost * 1e3:8.3f} ms CPU ({clean_polls} polls)")
    print(f"idle poll, 50 MB torn last line: {torn_cost * 1e3:8.3f} ms CPU ({torn_polls} polls)")
    print(f"ratio torn / clean:              {torn_cost / clean_cost:8.2f}x")
    print(f"4 polls/s (the monitor) of the torn study: {torn_cost * 4 * 100:.2f}% of a core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
