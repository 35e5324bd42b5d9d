"""Where the runs of a parallel study go on one machine: a slot is a place for one run at a
time (a GPU, or a share of one, and a share of the CPU cores). Pure functions of what the
machine has, so that packing is tested with any number of GPUs on a machine with none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tui_trainer.errors import UnavailableError


@dataclass(frozen=True)
class Slot:
    """One run at a time: `gpu` is the CUDA_VISIBLE_DEVICES entry its worker gets (None on the
    CPU or MPS), `share` how many slots share that GPU, `threads` its CPU threads."""

    index: int
    gpu: str | None
    share: int | None
    threads: int

    def describe(self) -> str:
        if self.gpu is None:
            return f"{self.threads} CPU thread{'s' if self.threads != 1 else ''}"
        shared = f", shared by {self.share}" if self.share and self.share > 1 else ""
        return f"GPU {self.gpu}{shared}"


@dataclass
class SlotPlan:
    slots: list[Slot]
    device: str  # what each worker is told: cuda, cpu or mps
    warnings: list[str] = field(default_factory=list)


def visible_gpus(count: int, cuda_visible: str | None) -> list[str]:
    """The machine's names of the `count` GPUs CUDA shows this process, in CUDA's order: the
    entries of CUDA_VISIBLE_DEVICES when it is set, else 0..count-1."""
    if cuda_visible is None:
        return [str(i) for i in range(count)]
    entries = [entry.strip() for entry in cuda_visible.split(",") if entry.strip()]
    return entries[:count]


def pack_gpus(gpus: Sequence[str], runs_per_gpu: int) -> list[str]:
    """A slot per run that may train at once, filling each GPU before the next: 2 runs per
    GPU over GPUs 0 and 1 gives 0, 0, 1, 1."""
    return [gpu for gpu in gpus for _ in range(runs_per_gpu)]


def plan_slots(
    device: str,
    visible: Sequence[str],
    chosen: Sequence[int],
    runs_per_gpu: int,
    jobs: int,
    cores: int,
    runs: int | None = None,
) -> SlotPlan:
    """The slots of a study on this machine. `device`: the kind the workers train on (cuda,
    cpu, mps); `visible`: the GPUs (visible_gpus); `chosen`: --gpus (CUDA numbers; empty: all);
    `jobs`: --jobs (0: one run per slot); `runs`: how many runs the study has (no more slots
    than that). The CPU cores are split between the runs at once."""
    warnings: list[str] = []
    if device == "cuda":
        if not visible:
            raise UnavailableError("parallel: no CUDA GPU is visible to this process")
        unknown = [g for g in chosen if g >= len(visible)]
        if unknown:
            raise UnavailableError(
                f"--gpus {','.join(map(str, chosen))}: this machine shows {len(visible)} "
                f"GPU(s), numbered 0 to {len(visible) - 1}"
            )
        gpus = [visible[g] for g in chosen] if chosen else list(visible)
        places: list[str | None] = list(pack_gpus(gpus, runs_per_gpu))
        if jobs > len(places):
            warnings.append(
                f"--jobs {jobs}: {len(gpus)} GPU(s) x {runs_per_gpu} run(s) each give "
                f"{len(places)} slots, so at most {len(places)} runs train at once "
                "(--runs-per-gpu puts more on each GPU)"
            )
        elif jobs:
            places = places[:jobs]
        share: int | None = runs_per_gpu
    else:
        if chosen:
            raise UnavailableError(
                f"--gpus {','.join(map(str, chosen))}: the study trains on the {device.upper()}, "
                "not on CUDA GPUs"
            )
        if runs_per_gpu > 1:
            warnings.append(f"--runs-per-gpu {runs_per_gpu}: no CUDA GPU here; --jobs counts")
        places = [None] * max(jobs, 1)
        share = None
    if runs is not None:
        places = places[: max(1, runs)]
    threads = max(1, cores // len(places))
    if device == "cpu" and len(places) > cores:
        warnings.append(
            f"--jobs {len(places)} is more than this machine's {cores} CPU cores: each run "
            "gets one thread, and together they run slower than fewer jobs would"
        )
    slots = [
        Slot(i, gpu, share if gpu is not None else None, threads) for i, gpu in enumerate(places)
    ]
    return SlotPlan(slots, device, warnings)


__all__ = ["Slot", "SlotPlan", "pack_gpus", "plan_slots", "visible_gpus"]
