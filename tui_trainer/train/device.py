"""Choosing the training device, naming it, and sampling its use for status.toml.

The CUDA branches run on GPU machines only; tests exercise them with torch.cuda and NVML mocked.
"""

from __future__ import annotations

import contextlib
import platform
from typing import Any

import psutil
import torch

from tui_trainer.errors import UnavailableError


def resolve_device(spec: str) -> torch.device:
    """'auto' -> CUDA if present, else MPS, else CPU. An explicit device that is not there is an
    UnavailableError naming what was asked and what to use instead."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UnavailableError(
                f"--device {spec}: CUDA is not available on this machine "
                f"(torch {torch.__version__}); use --device cpu or --device auto"
            )
        count = torch.cuda.device_count()
        index = 0 if device.index is None else device.index
        if index >= count:
            raise UnavailableError(f"--device {spec}: this machine has {count} CUDA device(s)")
        return torch.device("cuda", index)
    if device.type == "mps" and not _mps_available():
        raise UnavailableError(f"--device {spec}: MPS is not available on this machine")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def cpu_name() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    threads = torch.get_num_threads()  # as this process trains: a worker may have a share
    return f"{cpu_name()} ({threads} thread{'s' if threads != 1 else ''})"


class DeviceSampler:
    """Device figures for status.toml, sampled from the heartbeat thread (never the training loop).

    CPU: system CPU %, this process's RSS. CUDA: also GPU utilization and memory from NVML
    (nvidia-ml-py), or torch's allocator figures when NVML cannot be used.
    """

    def __init__(self, device: torch.device, nvml: Any | None = None):
        self.device = device
        self.process = psutil.Process()
        self.process.cpu_percent(None)  # the first call only starts the measurement
        self.last: dict[str, float] = {}
        self._nvml = None
        self._handle = None
        if device.type == "cuda":
            self._open_nvml(nvml)

    def _open_nvml(self, nvml: Any | None) -> None:
        try:
            if nvml is None:
                import pynvml as nvml  # provided by nvidia-ml-py
            nvml.nvmlInit()
            index = self.device.index or 0
            bus_id = _pci_bus_id(index)
            if bus_id is not None:
                self._handle = nvml.nvmlDeviceGetHandleByPciBusId_v2(bus_id)
            else:
                self._handle = nvml.nvmlDeviceGetHandleByIndex(index)
            self._nvml = nvml
        except Exception:  # no driver library, no permission: fall back to torch's figures
            self._nvml = None
            self._handle = None

    def sample(self) -> dict[str, float]:
        figures: dict[str, float] = {
            "cpu_percent": psutil.cpu_percent(None),
            "process_cpu_percent": self.process.cpu_percent(None),
            "rss_mb": self.process.memory_info().rss / 2**20,
            "ram_percent": psutil.virtual_memory().percent,
        }
        if self.device.type == "cuda":
            figures.update(self._gpu_figures())
        self.last = {k: round(v, 2) for k, v in figures.items()}
        return self.last

    def _gpu_figures(self) -> dict[str, float]:
        if self._nvml is not None:
            util = self._nvml.nvmlDeviceGetUtilizationRates(self._handle)
            memory = self._nvml.nvmlDeviceGetMemoryInfo(self._handle)
            return {
                "gpu_util_percent": float(util.gpu),
                "gpu_mem_used_mb": memory.used / 2**20,
                "gpu_mem_total_mb": memory.total / 2**20,
            }
        return {
            "gpu_mem_used_mb": torch.cuda.memory_reserved(self.device) / 2**20,
            "gpu_mem_total_mb": torch.cuda.get_device_properties(self.device).total_memory / 2**20,
        }

    def utilization(self) -> float | None:
        """The device's last sampled use in percent: GPU utilization, or this process's CPU."""
        key = "gpu_util_percent" if self.device.type == "cuda" else "process_cpu_percent"
        return self.last.get(key)


def _pci_bus_id(index: int) -> str | None:
    """NVML's bus id of CUDA device `index` (CUDA and NVML can number devices differently)."""
    props = torch.cuda.get_device_properties(index)
    bus = getattr(props, "pci_bus_id", None)
    if bus is None:
        return None
    domain = getattr(props, "pci_domain_id", 0)
    device = getattr(props, "pci_device_id", 0)
    return f"{domain:08x}:{bus:02x}:{device:02x}.0"
