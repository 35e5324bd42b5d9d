"""Device choice and device figures. No GPU here: the CUDA paths run with torch.cuda and NVML
mocked."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tui_trainer.errors import UnavailableError
from tui_trainer.train import device as dev


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)


def test_auto_prefers_cuda(fake_cuda):
    assert dev.resolve_device("auto") == torch.device("cuda", 0)


def test_explicit_cuda_index(fake_cuda):
    assert dev.resolve_device("cuda") == torch.device("cuda", 0)
    assert dev.resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(UnavailableError, match="this machine has 2 CUDA device"):
        dev.resolve_device("cuda:2")


def test_cuda_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UnavailableError, match="CUDA is not available on this machine"):
        dev.resolve_device("cuda")


def test_auto_without_accelerators_is_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert dev.resolve_device("auto") == torch.device("cpu")


def test_mps_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    with pytest.raises(UnavailableError, match="MPS is not available"):
        dev.resolve_device("mps")


class FakeNvml:
    """Just enough of pynvml for DeviceSampler."""

    def __init__(self):
        self.handles = []

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByPciBusId_v2(self, bus_id):
        self.handles.append(bus_id)
        return "handle"

    def nvmlDeviceGetHandleByIndex(self, index):
        self.handles.append(index)
        return "handle"

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=87, memory=40)

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=6 * 2**30, total=80 * 2**30)


def test_gpu_figures_come_from_nvml_by_pci_bus_id(monkeypatch):
    props = SimpleNamespace(
        pci_bus_id=0x1B, pci_domain_id=0, pci_device_id=0, total_memory=80 * 2**30
    )
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: props)
    nvml = FakeNvml()
    sampler = dev.DeviceSampler(torch.device("cuda", 1), nvml=nvml)
    figures = sampler.sample()
    assert nvml.handles == ["00000000:1b:00.0"]
    assert figures["gpu_util_percent"] == 87.0
    assert figures["gpu_mem_used_mb"] == 6 * 1024
    assert figures["gpu_mem_total_mb"] == 80 * 1024
    assert "cpu_percent" in figures and figures["rss_mb"] > 0
    assert sampler.utilization() == 87.0


def test_gpu_figures_fall_back_to_torch_without_nvml(monkeypatch):
    class BrokenNvml(FakeNvml):
        def nvmlInit(self):
            raise OSError("libnvidia-ml.so not found")

    props = SimpleNamespace(total_memory=16 * 2**30)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: props)
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 2 * 2**30)
    figures = dev.DeviceSampler(torch.device("cuda", 0), nvml=BrokenNvml()).sample()
    assert figures["gpu_mem_used_mb"] == 2048 and figures["gpu_mem_total_mb"] == 16384
    assert "gpu_util_percent" not in figures


def test_cpu_figures():
    sampler = dev.DeviceSampler(torch.device("cpu"))
    figures = sampler.sample()
    assert set(figures) == {"cpu_percent", "process_cpu_percent", "rss_mb", "ram_percent"}
    assert sampler.utilization() == figures["process_cpu_percent"]
    assert "threads" in dev.device_name(torch.device("cpu"))
