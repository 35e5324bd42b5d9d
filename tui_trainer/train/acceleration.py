"""How a run uses its device: mixed precision (autocast and, for fp16, a gradient scaler), fused
optimizer kernels, torch.compile and CPU threads.

The CUDA branches run on GPU machines only; tests exercise them with torch.cuda mocked.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tui_trainer.errors import UnavailableError

NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    with contextlib.suppress(OSError), open(cpuinfo, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes in bf16 natively; without it bf16 autocast is emulated and about
    ten times slower than fp32."""
    return any(flag in cpu_flags() for flag in NATIVE_BF16_CPU_FLAGS)


@dataclass(frozen=True)
class Precision:
    """The autocast dtype of the forward pass (None: plain fp32) and whether the loss is scaled
    (fp16 gradients underflow without a scaler)."""

    name: str
    dtype: torch.dtype | None = None
    scaled: bool = False

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)

    def scaler(self, device: torch.device) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(device.type) if self.scaled else None


FP32 = Precision("fp32")


def resolve_precision(setting: str, device: torch.device) -> Precision:
    """train.precision for `device`. 'auto' is bf16 on a CUDA GPU that supports it, fp16 with a
    scaler on an older GPU, fp32 on CPU and MPS. A precision the device cannot do well is an
    UnavailableError naming the key and what to use."""
    cuda = device.type == "cuda"
    if setting == "auto":
        if not cuda:
            return FP32
        setting = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if setting == "fp32":
        return FP32
    if setting == "bf16":
        if cuda and not torch.cuda.is_bf16_supported():
            raise UnavailableError(
                "train.precision = 'bf16': this GPU has no bf16; use 'fp16' or 'auto'"
            )
        if device.type == "cpu" and not cpu_has_native_bf16():
            raise UnavailableError(
                "train.precision = 'bf16': this CPU has no native bf16 (AVX512-BF16 or AMX), "
                "so it would run about 10x slower than fp32; use 'auto' or 'fp32'"
            )
        if device.type == "mps":
            raise UnavailableError("train.precision = 'bf16': not on MPS; use 'auto' or 'fp32'")
        return Precision("bf16", torch.bfloat16)
    if setting == "fp16":
        if not cuda:
            raise UnavailableError(
                f"train.precision = 'fp16': needs a CUDA GPU (this run is on {device.type}); "
                "use 'auto' or 'fp32'"
            )
        return Precision("fp16", torch.float16, scaled=True)
    raise ValueError(f"unknown precision {setting!r}")  # the schema forbids this


def optimizer_kernels(device: torch.device, frozen_first: bool = False) -> dict[str, bool]:
    """Keyword arguments choosing the optimizers' implementation: fused kernels on CUDA (one
    launch for all parameters) and on the CPU (one pass over each parameter: 2 ms a step against
    5 ms for MobileNet v1, benchmarks/README.md); torch's default elsewhere.

    Not when some parameters sit out a first phase (`frozen_first`, model.head_only_epochs):
    the fused kernels cannot step a mix of parameters with and without momentum buffers, which
    is what the first step after unfreezing is."""
    if frozen_first:
        return {}
    return {"fused": True} if device.type in ("cuda", "cpu") else {}


def compile_model(model: nn.Module, enabled: bool) -> Callable[..., torch.Tensor]:
    """The callable that trains: `model` itself, or torch.compile of it. The compiled callable
    shares the model's parameters, so checkpoints and evaluation use `model`."""
    if not enabled:
        return model
    return torch.compile(model)


def configure_cpu_threads(device: torch.device) -> int:
    """One intra-op thread per core this process may use, for CPU training (more threads than
    cores slows every step), unless OMP_NUM_THREADS says otherwise. Returns the thread count."""
    if device.type != "cpu" or os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()  # the user's explicit choice stands
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)
    return cores


def training_threads(recorded: int | None, share: int | None = None) -> int:
    """The intra-op threads a run trains with, set for this process and returned.

    The thread count fixes the order in which a CPU reduction adds up, so a run that changes it
    between epochs writes other rows: a resumed or retried run keeps the count it `recorded`
    when it started (status.toml's `threads`), whatever share of the cores it gets now.
    OMP_NUM_THREADS, set by the user, is an explicit choice and stands over both; a new run
    takes `share` (a worker's share of the cores), else what configure_device chose."""
    chosen = os.environ.get("OMP_NUM_THREADS", "").strip()
    threads = int(chosen) if chosen.isdigit() and int(chosen) > 0 else recorded or share
    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


# glibc mallopt parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of handing it back to the kernel.

    A training step frees and reallocates the same large activation buffers every step; by
    default glibc serves each from fresh mmap'd pages, and the page faults and zeroing cost a
    CPU run about 7% of its throughput (benchmarks/README.md). The process's memory then stays
    at its peak, which a trainer reaches in its first step anyway. Returns whether it applied
    (glibc only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)) and bool(mallopt(_M_MMAP_MAX, 0))


def configure_device(device: torch.device) -> None:
    """Process-wide settings for training on `device`. CPU: a thread per core and a malloc that
    keeps freed memory. CUDA: cuDNN picks the fastest algorithm for the (fixed) input shapes, and
    fp32 matmuls outside autocast may use TF32 tensor cores."""
    if device.type == "cpu":
        configure_cpu_threads(device)
        keep_freed_memory()
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
