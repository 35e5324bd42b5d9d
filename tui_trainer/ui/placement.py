"""Where a run trains, in words, from its status.toml: the GPU (or its share of one) or the CPU
threads it was given, the host when that is not this machine, and the attempt when a killed
worker was retried. Pure functions (no textual): the runs table, the highlighted run's line
and the device panel all say it the same way.

A run trained in the study's own process (jobs = 1) has no `gpu`: its `device` (cuda:1) says
which GPU it is. Text from the file is already printable (store/schema.py); it is only cut
here, so that a 64-character GPU UUID or host name cannot push the table off the screen."""

from __future__ import annotations

import functools
import socket

from tui_trainer.printable import printable
from tui_trainer.store.schema import RunStatus

HOST_CHARS = 20  # a host name is cut to this in the table
GPU_CHARS = 12  # a GPU UUID too


@functools.cache
def this_host() -> str:
    """This machine's name, as a trainer here writes it into status.toml."""
    return socket.gethostname()


def is_remote(host: str | None, here: str) -> bool:
    """Whether `host` is another machine than `here` (an unnamed one is taken as this one:
    runs written before hosts were recorded trained where their study was launched)."""
    return host is not None and host != here


def gpu_of(status: RunStatus) -> str | None:
    """The GPU a run uses as the machine numbers it: the worker's CUDA_VISIBLE_DEVICES entry,
    or the index of a cuda device; None when it trains without one."""
    if status.gpu is not None:
        return printable(status.gpu, limit=GPU_CHARS)
    device = status.device or ""
    if device == "cuda":
        return "0"
    if device.startswith("cuda:"):
        return printable(device.removeprefix("cuda:"), limit=GPU_CHARS)
    return None


def device_words(status: RunStatus) -> str:
    """GPU 0, GPU 0 (2/GPU) when shared, cpu ×4 (its threads), mps; '' before it has started."""
    gpu = gpu_of(status)
    if gpu is not None:
        share = status.gpu_share
        return f"GPU {gpu} ({share}/GPU)" if share is not None and share > 1 else f"GPU {gpu}"
    device = status.device
    if device is None:
        return ""
    if device == "cpu":
        threads = status.threads
        return f"cpu ×{threads}" if threads is not None and threads > 0 else "cpu"
    return printable(device, limit=GPU_CHARS)


def where(status: RunStatus, here: str) -> str:
    """The runs table's 'where' cell: device, then `@host` when another machine's, then
    `try N` from the second attempt on: 'GPU 1 (2/GPU) @gpu-b try 2'."""
    parts = [device_words(status)]
    if is_remote(status.host, here):
        parts.append("@" + printable(status.host or "", limit=HOST_CHARS))
    if status.attempt is not None and status.attempt > 1:
        parts.append(f"try {status.attempt}")
    return " ".join(part for part in parts if part)


def where_in_full(status: RunStatus, here: str, live: bool = True) -> str:
    """The highlighted run's line: 'on GPU 1 (shared by 2 runs) of gpu-b, pid 4242, attempt 2'
    (the pid only while it is `live`; nothing for a run that has not started)."""
    device = device_words(status)
    if not device:
        return ""
    share = status.gpu_share
    if gpu_of(status) is not None and share is not None and share > 1:
        device = f"GPU {gpu_of(status)} (shared by {share} runs)"
    text = f"on {device}"
    if is_remote(status.host, here):
        text += f" of {status.host}"
    if status.pid is not None and live:
        text += f", pid {status.pid}"
    if status.attempt is not None and status.attempt > 1:
        text += f", attempt {status.attempt}"
    return text
