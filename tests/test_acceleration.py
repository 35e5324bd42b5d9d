"""How a run uses its device: precision (autocast, gradient scaling), fused optimizers,
torch.compile, CPU threads and the allocator. The CUDA branches are exercised with torch.cuda
mocked; the gradient-scaler path of the loop runs for real on the CPU."""

from __future__ import annotations

import ctypes.util
import shutil
import sys

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from tests.helpers import TINY_PRESET, run_study
from tui_trainer.cli import app
from tui_trainer.config import load_preset
from tui_trainer.errors import ExitCode, UnavailableError
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import read_rows
from tui_trainer.train import acceleration, in_process, session
from tui_trainer.train.acceleration import (
    Precision,
    compile_model,
    configure_cpu_threads,
    keep_freed_memory,
    optimizer_kernels,
    resolve_precision,
)
from tui_trainer.train.optim import build_optimizer

CPU = torch.device("cpu")
CUDA = torch.device("cuda", 0)


@pytest.fixture
def cpu_without_bf16(monkeypatch):
    monkeypatch.setattr(acceleration, "cpu_flags", lambda: {"avx2", "fma"})


def test_auto_is_fp32_on_the_cpu_and_bf16_on_a_gpu_that_has_it(monkeypatch):
    assert resolve_precision("auto", CPU) == acceleration.FP32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    chosen = resolve_precision("auto", CUDA)
    assert (chosen.name, chosen.dtype, chosen.scaled) == ("bf16", torch.bfloat16, False)


def test_auto_on_an_older_gpu_is_fp16_with_a_gradient_scaler(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    chosen = resolve_precision("auto", CUDA)
    assert (chosen.name, chosen.dtype, chosen.scaled) == ("fp16", torch.float16, True)
    with pytest.raises(UnavailableError, match="this GPU has no bf16"):
        resolve_precision("bf16", CUDA)


def test_bf16_on_a_cpu_without_native_bf16_is_refused(cpu_without_bf16):
    with pytest.raises(UnavailableError) as caught:
        resolve_precision("bf16", CPU)
    message = str(caught.value)
    assert "train.precision = 'bf16'" in message and "10x slower" in message
    assert "'fp32'" in message


def test_bf16_on_a_cpu_with_native_bf16_autocasts(monkeypatch):
    monkeypatch.setattr(acceleration, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    chosen = resolve_precision("bf16", CPU)
    assert chosen.dtype == torch.bfloat16 and not chosen.scaled
    with chosen.autocast(CPU):
        out = nn.Linear(4, 2)(torch.ones(1, 4))
    assert out.dtype == torch.bfloat16


def test_fp16_needs_cuda():
    with pytest.raises(UnavailableError, match="needs a CUDA GPU"):
        resolve_precision("fp16", CPU)


def test_cpu_flags_reads_the_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 amx_bf16\n\n")
    assert acceleration.cpu_flags(cpuinfo) >= {"avx2", "amx_bf16"}
    assert acceleration.cpu_flags(tmp_path / "absent") == set()


def test_optimizers_are_fused_on_cuda_and_the_cpu_and_default_elsewhere():
    assert optimizer_kernels(CUDA) == {"fused": True}
    assert optimizer_kernels(CPU) == {"fused": True}
    assert optimizer_kernels(torch.device("mps")) == {}
    # a head-only first phase: the fused kernels cannot step buffers that exist for some
    # parameters only (tests/test_models.py trains such a run)
    assert optimizer_kernels(CUDA, frozen_first=True) == {}
    assert optimizer_kernels(CPU, frozen_first=True) == {}


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_build_optimizer_passes_the_kernel_choice(write_preset, name):
    sgd_only = [] if name == "sgd" else ["optim.nesterov=false", "optim.momentum=0"]
    config = load_preset(write_preset(), [f"optim.name={name}", *sgd_only]).runs[0].config
    model = nn.Linear(3, 2)
    assert build_optimizer(model, config, {"foreach": False}).defaults["foreach"] is False
    assert build_optimizer(model, config).defaults["foreach"] is None  # torch's own default


def test_compile_model_is_the_model_itself_unless_asked():
    model = nn.Linear(3, 2)
    assert compile_model(model, False) is model
    compiled = compile_model(model, True)  # compiles lazily, on its first call
    assert compiled is not model and compiled._orig_mod is model


def test_cpu_threads_follow_the_cores_unless_omp_num_threads_says(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setattr(acceleration.os, "sched_getaffinity", lambda _pid: {0}, raising=False)
        assert configure_cpu_threads(CPU) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        torch.set_num_threads(2)
        assert configure_cpu_threads(CPU) == 2  # the user's choice stands
    finally:
        torch.set_num_threads(before)


def test_a_run_trains_on_the_threads_it_recorded_unless_omp_num_threads_says(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert acceleration.training_threads(None, 2) == 2  # a new run: its share
        assert acceleration.training_threads(1, 2) == 1  # a resumed one: what it started with
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        assert acceleration.training_threads(1, 2) == 3  # the user's choice stands
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or "musl" in (ctypes.util.find_library("c") or ""),
    reason="mallopt is glibc's",
)
def test_freed_memory_is_kept_on_glibc():
    assert keep_freed_memory() is True


def test_bf16_precision_on_this_cpu_exits_3_and_creates_nothing(
    write_preset, runs_dir, cpu_without_bf16
):
    result = CliRunner().invoke(
        app,
        ["run", str(write_preset()), "--set", "train.precision=bf16", "--runs-dir", str(runs_dir)],
    )
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert "train.precision = 'bf16': this CPU has no native bf16" in result.output
    assert not runs_dir.exists()


class Silent:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def test_the_gradient_scaler_path_trains(write_preset, runs_dir, monkeypatch):
    """The fp16 path of CUDA (autocast, scaled loss, unscaled gradient norms, scaler.step) run on
    the CPU with bf16 and torch's CPU gradient scaler."""
    scaled = Precision("fp16", torch.bfloat16, scaled=True)
    monkeypatch.setattr(session, "resolve_precision", lambda setting, device: scaled)
    monkeypatch.setattr(in_process, "resolve_precision", lambda setting, device: scaled)
    text = TINY_PRESET.replace("epochs = 2", "epochs = 1") + (
        'track_grad_norm = ["layers.0.conv1.weight"]\n'
    )
    result = run_study(load_preset(write_preset(text)), runs_dir, Silent(), argv=["test"])
    assert result.exit_code == ExitCode.OK
    run = result.study_dir / "run"
    assert read_toml(run / "status.toml")["precision"] == "fp16"
    (row,) = read_rows(run / "metrics.csv")
    norm = row["grad_norm:layers.0.conv1.weight"]
    assert 0 < row["train_loss"] < 10 and 0 < norm < 1e3  # unscaled: not times 65536


def test_cuda_settings_pick_fast_kernels(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    precision = torch.get_float32_matmul_precision()
    try:
        acceleration.configure_device(CUDA)
        assert torch.backends.cudnn.benchmark is True
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(precision)


@pytest.mark.process
@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on the CPU needs g++")
def test_a_compiled_run_trains(write_preset, runs_dir):
    """train.compile = true through the real loop, including the small-map depthwise layers of
    the last blocks (a custom autograd function inside the compiled graph)."""
    text = TINY_PRESET.replace("epochs = 2", "epochs = 1") + "compile = true\n"
    result = run_study(load_preset(write_preset(text)), runs_dir, Silent(), argv=["test"])
    assert result.exit_code == ExitCode.OK
    run = result.study_dir / "run"
    assert read_toml(run / "status.toml")["compiled"] is True
    (row,) = read_rows(run / "metrics.csv")
    assert 0 < row["train_loss"] < 10 and row["val_acc"] > 0
