"""Where a parallel study's workers go, decided before anything is written: the `worker-check`
protocol (a child process, or a Ray task on a node, that makes `run`'s or `resume`'s checks with
torch and prints the devices it found as one JSON line), and the plan of this machine's slots
made from what it found. Both backends import this module and it imports neither of them but
the local one, so no import runs in a circle (the Ray backend's own plan: ray_cluster.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_trainer.config.schema import ParallelSection, RunConfig
from tui_trainer.errors import ExitCode, TuiTrainerError
from tui_trainer.parallel.backend import Backend
from tui_trainer.parallel.slots import plan_slots, visible_gpus
from tui_trainer.store.study_files import DeviceRecord


class CheckFailed(TuiTrainerError):
    """`worker-check` refused the study: its own error lines, and its exit code."""

    def __init__(self, lines: list[str], code: int):
        super().__init__("\n".join(lines))
        self._lines = lines or [f"the study's check failed (exit {code})"]
        self.exit_code = ExitCode(code) if code in ExitCode._value2member_map_ else ExitCode(3)

    def lines(self) -> list[str]:
        return self._lines


def check_command(args: Sequence[str], python: str | None = None) -> list[str]:
    return [python or sys.executable, "-m", "tui_trainer", "worker-check", *args]


def parse_check(code: int, stdout: str, stderr: str) -> dict[str, Any]:
    """The devices `worker-check` found, or CheckFailed with its error lines."""
    if code != 0:
        lines = [line.removeprefix("error: ") for line in stderr.splitlines() if line.strip()]
        raise CheckFailed(lines[-20:], code)
    try:
        found = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise CheckFailed([f"worker-check printed no result: {stdout[-200:]!r}"], 3) from None
    if not isinstance(found, dict):
        raise CheckFailed(["worker-check printed no result"], 3)
    return found


def check_here(args: Sequence[str]) -> dict[str, Any]:
    """Run `worker-check ARGS` as a child process of this machine."""
    result = subprocess.run(
        check_command(args), capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    return parse_check(result.returncode, result.stdout, result.stderr)


@dataclass
class WorkerPlan:
    """Where the study's workers go: the backend, how many at once, and the device as the
    study's records name it."""

    backend: Backend
    jobs: int
    device: DeviceRecord


@dataclass(frozen=True)
class StudyFootprint:
    """What a plan needs to know of the study: where its runs and data are, the device its
    runs' config asks for, and how many runs it has."""

    runs_dir: Path
    data_dirs: list[Path]
    device: str
    run_count: int


def local_plan(
    settings: ParallelSection, found: dict[str, Any], run_count: int, note: Callable[[str], None]
) -> WorkerPlan:
    """The slots of this machine for `settings`, from what worker-check found."""
    from tui_trainer.parallel.local import LocalBackend

    gpus = [str(name) for name in found.get("gpus") or []]
    visible = visible_gpus(len(gpus), os.environ.get("CUDA_VISIBLE_DEVICES"))
    plan = plan_slots(
        str(found.get("device", "cpu")),
        visible,
        settings.gpus,
        settings.runs_per_gpu,
        settings.jobs,
        int(found.get("cores") or os.cpu_count() or 1),
        runs=run_count,
    )
    for warning in plan.warnings:
        note(warning)
    used = sorted({s.gpu for s in plan.slots if s.gpu is not None})
    names = sorted({gpus[visible.index(g)] for g in used if g in visible})
    name = ", ".join(names) if names else str(found.get("device_name", ""))
    spec = f"{plan.device} x{len(plan.slots)}"
    return WorkerPlan(LocalBackend(plan), min(len(plan.slots), run_count), DeviceRecord(spec, name))


def data_dirs(configs: Sequence[RunConfig]) -> list[Path]:
    """The data directories of runs whose dataset is read from files (absolute)."""
    found = {c.data.location().absolute() for c in configs if c.data.dataset != "digits"}
    return sorted(found)


def with_device_gpu(settings: ParallelSection, device: str) -> ParallelSection:
    """train.device = 'cuda:N' with no --gpus: the study's GPU is N."""
    if device.startswith("cuda:") and not settings.gpus:
        return settings.model_copy(update={"gpus": [int(device.split(":", 1)[1])]})
    return settings


__all__ = [
    "CheckFailed",
    "StudyFootprint",
    "WorkerPlan",
    "check_command",
    "check_here",
    "data_dirs",
    "local_plan",
    "parse_check",
    "with_device_gpu",
]
