"""The backend of one machine: each worker a child process of the driver, in its process group
(a Ctrl-C on the terminal reaches them all), on a slot of its own (parallel/slots.py): its GPU
through CUDA_VISIBLE_DEVICES, its share of the cores through `--threads` (a run that started
before keeps its own count; OMP_NUM_THREADS, when the user sets it, passes through and wins).
A worker's output goes to its run's worker.log.
"""

from __future__ import annotations

import contextlib
import os
import subprocess

from tui_trainer.parallel.backend import Exit, Job, Started, worker_command
from tui_trainer.parallel.slots import Slot, SlotPlan
from tui_trainer.store.files import open_for_append
from tui_trainer.store.layout import RunPaths


class LocalBackend:
    def __init__(self, plan: SlotPlan):
        self.plan = plan
        self._busy: dict[int, Started] = {}

    def _free(self) -> Slot | None:
        return next((s for s in self.plan.slots if s.index not in self._busy), None)

    def waiting(self) -> str | None:
        if self._free() is not None:
            return None
        count = len(self.plan.slots)
        if self.plan.device == "cuda":
            gpus = sorted({s.gpu for s in self.plan.slots if s.gpu is not None})
            return (
                f"waiting for a GPU slot: all {count} are training (GPU {', '.join(gpus)}, "
                f"{self.plan.slots[0].share} run(s) each)"
            )
        return f"waiting for a free job: {count} of {count} are training (--jobs {count})"

    def start(self, job: Job) -> Started:
        slot = self._free()
        if slot is None:
            raise RuntimeError("no free slot: ask waiting() first")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if slot.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = slot.gpu
        command = worker_command(
            job, self.plan.device, slot.threads, os.getpid(), gpu_share=slot.share
        )
        with open_for_append(RunPaths(job.run_dir).worker_log, binary=True) as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                close_fds=True,
                env=env,
            )
        started = Started(job, (slot, process), f"{slot.describe()}, pid {process.pid}")
        self._busy[slot.index] = started
        return started

    def poll(self, started: Started) -> Exit | None:
        slot, process = started.handle
        code = process.poll()
        if code is None:
            return None
        self._busy.pop(slot.index, None)
        return Exit(code)

    def send(self, started: Started, signum: int) -> None:
        _, process = started.handle
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    def close(self) -> None:
        for started in list(self._busy.values()):
            _, process = started.handle
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=60)


__all__ = ["LocalBackend"]
