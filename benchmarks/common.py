"""Shared by the benchmarks: the machine's description, a CIFAR-100-format dataset, the compute
bound (model FLOPs against a measured matmul peak), and small statistics helpers.

Benchmarks run from the repository root: `.venv/bin/python -m benchmarks.<name>`.
"""

from __future__ import annotations

import os
import platform
import statistics
import tarfile
import time
from datetime import datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """One line naming the machine, for the top of a benchmark's output."""
    parts = [
        f"{cpu_name()}, {psutil.cpu_count(logical=True)} threads",
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
    ]
    try:
        import torch

        parts.append(f"torch {torch.__version__}")
        if torch.cuda.is_available():
            parts.append(torch.cuda.get_device_name(0))
        else:
            parts.append("no GPU")
    except ImportError:
        pass
    return f"{datetime.now():%Y-%m-%d %H:%M} | " + " | ".join(parts)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def cifar100_data_dir(
    scratch: Path, train_per_class: int, test_per_class: int = 2
) -> tuple[Path, bool]:
    """A directory holding `cifar-100-python/`: the real dataset's when it is in tui-trainer's data
    directory, else a generated one in the genuine format (random pixels; the speed of a step does
    not depend on them). Returns (directory, generated)."""
    real = Path(os.environ.get("TUI_TRAINER_DATA", Path.home() / ".cache/tui-trainer/data"))
    if (real / "cifar-100-python" / "train").is_file():
        return real, False
    from tests.cifar_archives import write_archive
    from tui_trainer.train import cifar

    scratch.mkdir(parents=True, exist_ok=True)
    archive = write_archive(scratch, cifar.CIFAR100, train_per_class, test_per_class)
    with tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="data")
    archive.unlink()
    return scratch, True


def matmul_peak_gflops(device: str = "cpu", dtype_name: str = "float32", size: int = 2048) -> float:
    """The machine's practical peak: the best GFLOP/s of square matmuls with every thread, into
    a preallocated output (a fresh 16 MB output per call would measure page faults too)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    repeats = 3 if device == "cpu" else 50
    rates = []
    for _ in range(10):
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b, out=out)
        if device != "cpu":
            torch.cuda.synchronize()
        rates.append(2 * size**3 * repeats / (time.perf_counter() - start) / 1e9)
    return max(rates[1:])


def training_flops_per_image(model, image_size: int, device: str = "cpu") -> float:
    """FLOPs of one training image: 3x the forward pass (forward, and a backward of about twice
    the forward), counted by torch's FlopCounterMode on a batch of 2."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(2, 3, image_size, image_size, device=device)
    counter = FlopCounterMode(display=False)
    model.eval()
    with torch.no_grad(), counter:
        model(x)
    model.train()
    return 3 * counter.get_total_flops() / 2


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}x"
