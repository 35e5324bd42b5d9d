"""One run, one process: `tui-trainer worker-run RUN_DIR`, the only thing a parallel study's
backends execute (tui_trainer/parallel/).

A worker takes its run directory's lock (waiting a while: a retry may start while the killed
attempt's file system still holds it), then starts the run, or resumes it from last.pt after the
same checks `tui-trainer resume` makes, or exits at once when it is already completed. It writes
only inside its run directory: status.toml (with its attempt, GPU and threads), the logs, the
checkpoints; its own output goes to the run's worker.log (the driver points stdout there). A
run resumed or retried trains with the threads it started with: the thread count orders a
CPU's sums, so another count would change its rows.

A worker started by a driver watches it (`parent`): when the driver is gone (killed with
SIGKILL), the worker stops after its current step, checkpointing there, so that nothing trains
on unobserved and `resume` can go on. SIGTERM and SIGINT stop it the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from tui_trainer.config.run_file import resume_data_config, run_config
from tui_trainer.config.sweep import RunSpec
from tui_trainer.errors import ExitCode, RunBusy, RunUnwritable, StorageError, UsageError
from tui_trainer.signals import StopSignals
from tui_trainer.store import status as st
from tui_trainer.store.layout import RunPaths
from tui_trainer.store.lock import LockHeld, RunLocks
from tui_trainer.store.resumable import run_file_problem
from tui_trainer.store.schema import RunStatus, read_status
from tui_trainer.study.events import TrainingEvents
from tui_trainer.train.acceleration import configure_device, training_threads
from tui_trainer.train.data import DatasetCache
from tui_trainer.train.device import resolve_device
from tui_trainer.train.loop import RunSlot, RunTrainer
from tui_trainer.train.resume_preflight import check_run

# How long a worker waits for its run's lock: a killed attempt's lock goes with its process,
# but on a network file system the server may hold it a while longer.
LOCK_WAIT_S = 30.0
PARENT_POLL_S = 0.5  # how often a worker looks whether its driver is still there


@dataclass(frozen=True)
class WorkerOptions:
    device: str | None = None  # default: the run's train.device
    # CPU threads of a new run (its share of the cores); a run keeps those it started with
    threads: int | None = None
    attempt: int = 1
    parent: int | None = None  # the driver's pid: stop when it is gone
    gpu_share: int | None = None  # runs sharing this worker's GPU (--runs-per-gpu)
    data_dir: Path | None = None  # replaces the run's data.data_dir (resume --data-dir)


def run_worker(run_dir: Path, options: WorkerOptions, events: TrainingEvents) -> ExitCode:
    """Train the run in `run_dir` to its end (or to a stop); the exit code says how it ended:
    0 completed (now or before), 1 failed or diverged, 130/143 stopped, 2 refused (its files
    are not what a resume can continue), 3 its data is missing, 74 its run directory cannot
    be written (RunUnwritable), 75 another process holds it (RunBusy)."""
    paths = RunPaths(Path(run_dir))
    problem = run_file_problem(paths.root) if paths.root.is_dir() else "no such run directory"
    if problem is not None:
        raise UsageError(f"refusing to train {paths.root}: {problem}")
    with RunLocks() as locks:
        try:
            locks.acquire(paths.root, wait_s=LOCK_WAIT_S)
        except LockHeld:
            raise RunBusy(f"{paths.root}: another process holds it") from None
        before = read_status(paths.status)
        if before is not None and before.state == st.RUNNING and st.is_other_host(before):
            _check_other_host_stopped(paths, before)
        if before is not None and before.state in (st.COMPLETED, st.PRUNED):
            events.note(f"{paths.name}: already {before.state}; nothing to do")
            return ExitCode.OK
        config = resume_data_config(paths.name, run_config(paths.config), options.data_dir)
        spec = RunSpec(paths.name, dict(before.swept) if before else {}, config)
        device = resolve_device(options.device or config.train.device)
        configure_device(device)
        threads = training_threads(before.threads if before else None, options.threads)
        if options.threads and threads != options.threads:
            events.note(
                f"{paths.name}: trains with {threads} thread(s) as it started with, not this "
                f"slot's {options.threads}, so that its rows stay bit-identical"
            )
        data = DatasetCache()
        check_run(paths.name, paths.root, config, device, data)
        slot = RunSlot(
            attempt=options.attempt,
            gpu=gpu_of(device),
            gpu_share=options.gpu_share,
            threads=threads,
        )
        stop = StopSignals()
        with stop.installed(), watching_parent(options.parent, stop, events):
            trainer = RunTrainer(
                spec, paths, device, data, events, stop.event, resume=True, slot=slot
            )
            try:
                state = trainer.run().state
            except StorageError as exc:  # exit 74: the driver stops the study
                raise RunUnwritable(str(exc)) from None
    if state in (st.COMPLETED, st.PRUNED):  # pruned: stopped as its study asked
        return ExitCode.OK
    if state == st.INTERRUPTED:
        return ExitCode.INTERRUPTED if stop.signal_number == signal.SIGINT else ExitCode.TERMINATED
    return ExitCode.RUN_FAILED


def _check_other_host_stopped(paths: RunPaths, before: RunStatus) -> None:
    """The run was last written by a worker of another machine (a node the driver lost): on a
    file system whose locks stay with one node, its lock proves nothing, so its heartbeat is
    watched for a few seconds; while it still changes, that worker lives and this one waits."""
    st.watch_other_hosts([(paths.root, lambda: read_status(paths.status))], st.OTHER_HOST_WATCH_S)
    if st.effective_state(read_status(paths.status), run_dir=paths.root) == st.RUNNING:
        raise RunBusy(f"{paths.root}: still written by a worker on {before.host}")


def gpu_of(device: torch.device) -> str | None:
    """The GPU a CUDA device is, as the machine numbers it: the CUDA_VISIBLE_DEVICES entry it
    maps to (a number or a UUID), else its own index."""
    if device.type != "cuda":
        return None
    index = device.index or 0
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    visible = [v for v in visible if v]
    return visible[index] if index < len(visible) else str(index)


@contextlib.contextmanager
def watching_parent(
    parent: int | None, stop: StopSignals, events: TrainingEvents
) -> Iterator[None]:
    """While inside: when `parent` stops being this process's parent (it died, and the worker
    was handed to init or a subreaper), ask the run to stop after its current step."""
    if parent is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(PARENT_POLL_S):
            if os.getppid() != parent:
                events.note(f"the study's driver (pid {parent}) is gone: stopping after this step")
                stop.signal_number = int(signal.SIGTERM)
                stop.event.set()
                return

    if os.getppid() != parent:  # gone before the watch began
        stop.signal_number = int(signal.SIGTERM)
        stop.event.set()
    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


__all__ = ["WorkerOptions", "gpu_of", "run_worker"]
