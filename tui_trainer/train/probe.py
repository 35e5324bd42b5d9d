"""`tui-trainer worker-check`: what a parallel study's driver (which never imports torch) asks a
child process before it writes anything: that the study can train (the checks `run` and `resume`
make before they create or change a file: datasets, weights, devices, each resumed run's history
and checkpoint), and which devices there are. It prints one JSON line; its errors are the
ordinary one-line errors with their exit codes, which the driver passes on as its own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from tui_trainer import __version__
from tui_trainer.config.load import LoadedStudy
from tui_trainer.errors import UsageError
from tui_trainer.store import resumable
from tui_trainer.store import status as st
from tui_trainer.store.reader import read_study
from tui_trainer.study.lifecycle import resume_specs
from tui_trainer.train.data import DatasetCache
from tui_trainer.train.device import device_name, resolve_device
from tui_trainer.train.in_process import preflight
from tui_trainer.train.resume_preflight import check_resume


def devices(device: torch.device) -> dict[str, Any]:
    """The device kind, its name, the GPUs this process sees (their names, in CUDA's order)
    and its CPU cores."""
    gpus = []
    if device.type == "cuda":
        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return {
        "device": device.type,
        "device_name": device_name(device),
        "gpus": gpus,
        "cores": cores,
        "version": __version__,
    }


def check_new_study(loaded: LoadedStudy, device_spec: str | None) -> dict[str, Any]:
    """`run`'s preflight of `loaded` on its device; the devices."""
    device = resolve_device(_study_device(device_spec or loaded.preset.train.device))
    preflight(loaded, device, DatasetCache())
    return devices(device)


def check_resumed_study(
    study_dir: Path, names: list[str], device_spec: str | None, data_dir: Path | None
) -> dict[str, Any]:
    """`resume`'s checks of the runs `names` (those the driver has judged resumable and holds
    the locks of: they are not judged again here), writing nothing; the devices."""
    study = read_study(study_dir)
    runs = {run.name: run for run in study.runs}
    missing = [name for name in names if name not in runs]
    if missing or not names:
        raise UsageError(f"{study.id}: no run {', '.join(missing) or '(none named)'}")
    targets = [resumable.ResumeTarget(runs[n], runs[n].state != st.QUEUED) for n in names]
    resumable.check_inside(study, targets)
    specs = resume_specs(targets, data_dir)
    device = resolve_device(_study_device(device_spec or specs[0].config.train.device))
    check_resume(targets, specs, device, DatasetCache())
    return devices(device)


def _study_device(spec: str) -> str:
    """A study's workers each see their own GPU: 'cuda:1' names which (the driver gives each
    worker one), and the check needs only that CUDA is there."""
    return "cuda" if spec.startswith("cuda") else spec


__all__ = ["check_new_study", "check_resumed_study", "devices"]
