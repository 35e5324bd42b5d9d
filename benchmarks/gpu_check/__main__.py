"""`python -m benchmarks.gpu_check`: find or install what is missing, then run each step in a
process of its own under its time limit, and write the report. See the package's docstring."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.gpu_check import deps

DEFAULT_BUDGET_S = {"gpu": 360.0, "dry": 1200.0}
MIN_STEP_S = 10.0  # a step with less time than this left is skipped, not started


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu_check",
        description="Check every CUDA path of tui-trainer on this machine, in one report.",
    )
    parser.add_argument("--out", type=Path, help="report and raw runs (default: gpu-check-TIME)")
    parser.add_argument("--budget-s", type=float, help="total seconds (GPU 360, dry run 1200)")
    parser.add_argument("--wheels", type=Path, help="a folder of wheels for missing packages")
    parser.add_argument("--cpu-dry-run", action="store_true", help="tiny, on the CPU, no CUDA")
    parser.add_argument("--steps", help="comma-separated step names (default: all)")
    parser.add_argument("--step", help=argparse.SUPPRESS)  # child: run this one step
    parser.add_argument("--limit-s", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_step_here(args: argparse.Namespace) -> int:
    """The child: one step, its result written to OUT/STEP/result.json whatever happens."""
    from benchmarks.gpu_check.harness import Context, StepResult
    from benchmarks.gpu_check.steps import STEPS

    (step,) = [s for s in STEPS if s.name == args.step]
    deadline = time.monotonic() + (args.limit_s or 60.0)
    ctx = Context(args.out, args.cpu_dry_run, deadline, args.scratch or args.out / "data")
    result = StepResult(step.name)
    started = time.monotonic()
    try:
        step.run(ctx, result)
    except Exception:
        result.fail(traceback.format_exc(limit=8).strip())
    result.seconds = time.monotonic() - started
    result.write(ctx.step_dir(step.name) / "result.json")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    mode = "dry" if args.cpu_dry_run else "gpu"
    if args.out is None:
        args.out = Path(f"gpu-check-{datetime.now():%Y%m%d-%H%M%S}")
    args.out = args.out.resolve()
    args.wheels = args.wheels.resolve() if args.wheels else None
    args.out.mkdir(parents=True, exist_ok=True)
    if args.step:
        return run_step_here(args)

    try:
        found = deps.ensure(args.wheels, args.out / "_packages")
    except RuntimeError as problem:
        print(f"gpu_check: {problem}", file=sys.stderr)
        return 1
    if found.installed_into:
        print(f"installed from {args.wheels} into {found.installed_into}")
    if not found.ready:
        print(f"gpu_check: {found.problem()}", file=sys.stderr)
        return 1
    return run_all(args, mode)


def run_all(args: argparse.Namespace, mode: str) -> int:
    from benchmarks.common import cpu_name
    from benchmarks.gpu_check import report
    from benchmarks.gpu_check.harness import FAILED, SKIPPED, StepResult, start, wait
    from benchmarks.gpu_check.steps import STEPS

    budget = args.budget_s or DEFAULT_BUDGET_S[mode]
    if mode == "dry":
        # one thread per trainer: the dry run proves the steps work, not how fast, and on a
        # shared CI machine two spinning threads per process slowed it several times over
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    chosen = set(args.steps.split(",")) if args.steps else {s.name for s in STEPS}
    unknown = chosen - {s.name for s in STEPS}
    if unknown:
        print(f"gpu_check: unknown steps {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    began = time.monotonic()
    results: list[StepResult] = []
    # the generated datasets (over 100 MB on a GPU) stay out of DIR, which comes back from a slot
    scratch = Path(tempfile.mkdtemp(prefix="gpu-check-data-"))
    no_cuda = ""
    for step in STEPS:
        if step.name not in chosen:
            continue
        left = budget - (time.monotonic() - began)
        limit = min(step.dry_limit_s if mode == "dry" else step.gpu_limit_s, left)
        if no_cuda or limit < MIN_STEP_S:
            reason = no_cuda or f"the budget of {budget:.0f} s (--budget-s) was spent"
            results.append(StepResult(step.name, SKIPPED, reason))
            print(f"{step.name:18} skipped: {reason}", flush=True)
            continue
        folder = args.out / step.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "result.json").unlink(missing_ok=True)
        command = [sys.executable, "-m", "benchmarks.gpu_check", "--step", step.name,
                   "--out", str(args.out), "--limit-s", str(limit),
                   "--scratch", str(scratch)]  # fmt: skip
        command += ["--cpu-dry-run"] if mode == "dry" else []
        started = time.monotonic()
        # its own process group: at the limit the step and every trainer it started are killed
        code = wait(start(command, folder / "step.log", new_session=True), limit + 5, group=True)
        seconds = time.monotonic() - started
        try:
            result = StepResult.read(folder / "result.json")
        except (OSError, ValueError):
            why = f"killed at its limit of {limit:.0f} s" if code is None else f"exit {code}"
            tail = (folder / "step.log").read_text(errors="replace").splitlines()[-15:]
            result = StepResult(step.name, FAILED, f"{why}, no result:\n" + "\n".join(tail))
        result.seconds = seconds
        results.append(result)
        print(f"{step.name:18} {result.outcome:7} {seconds:6.1f} s  "
              f"{result.reason.splitlines()[0] if result.reason else ''}", flush=True)  # fmt: skip
        if step.name == "device" and mode == "gpu" and result.outcome == FAILED:
            no_cuda = "the device step found no usable CUDA device"
    shutil.rmtree(scratch, ignore_errors=True)
    total = time.monotonic() - began
    device = next((r.figures for r in results if r.name == "device"), {})
    header = [
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, host {socket.gethostname()}",
        f"- mode: {'CPU dry run (tiny sizes)' if mode == 'dry' else 'GPU'}; "
        f"total {total:.0f} s of a {budget:.0f} s budget",
        f"- GPU: {device.get('name', 'none')}, {device.get('memory_gib', '-')} GiB, "
        f"capability {device.get('capability', '-')}, CUDA {device.get('cuda_build', '-')}",
        f"- CPU: {cpu_name()}, {os.cpu_count()} threads; Python {platform.python_version()}; "
        f"torch {device.get('torch', '?')}",
    ]
    titles = {s.name: s.title for s in STEPS}
    path = report.write(args.out, header, results, titles)
    failed = [r.name for r in results if r.outcome == FAILED]
    print(f"report: {path} ({total:.0f} s; {'failed: ' + ', '.join(failed) if failed else 'ok'})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
