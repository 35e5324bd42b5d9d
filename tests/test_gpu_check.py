"""benchmarks.gpu_check, the prepared check for a GPU slot: its CPU dry run passes end to end
(so the script cannot rot between slots), without the packages a GPU box lacks; its verdicts on
rows, its time limits and its dependency handling are pinned on their own."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from benchmarks.common import REPO
from benchmarks.gpu_check import deps, figures
from benchmarks.gpu_check.harness import FAILED, PASSED, StepResult, run
from benchmarks.gpu_check.report import render

# What the GPU boxes lack (issue 16), made unimportable for the dry run and every process it
# starts, so that an import of any of them on the check's path fails the test.
BLOCKER = """
import importlib.abc, sys
ABSENT = {"textual", "textual_plotext", "plotext", "tomli", "tomlkit"}
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            raise ModuleNotFoundError(f"No module named {name!r} (absent on the GPU box)")
        return None
sys.meta_path.insert(0, _Absent())
"""


@pytest.mark.process
@pytest.mark.slow
def test_the_cpu_dry_run_passes_every_step_without_the_packages_a_gpu_box_lacks(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    out = tmp_path / "check"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_check", "--cpu-dry-run", "--out", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((out / "gpu_check.json").read_text())
    outcomes = {s["name"]: s["outcome"] for s in record["steps"]}
    assert outcomes == {
        "device": "pass",
        "quickstart": "pass",
        "precision": "pass",
        "compile": "skipped",
        "fused_optimizers": "pass",
        "mobilenet_v2_v3": "pass",
        "kill_resume": "pass",
        "throughput": "pass",
        "parallel": "pass",
    }
    steps = {s["name"]: s for s in record["steps"]}
    assert steps["device"]["figures"]["auto"] == "cpu"
    assert steps["compile"]["reason"].startswith("CUDA only in this check")
    assert steps["precision"]["figures"]["auto"].startswith("fp32, ")
    assert "fp16 skipped: it needs CUDA" in " ".join(steps["precision"]["details"])
    assert steps["fused_optimizers"]["figures"]["adamw"] == "fused"
    assert steps["fused_optimizers"]["figures"]["sgd head-only first"].startswith("not fused")
    resumed = steps["kill_resume"]["figures"]
    assert resumed["tolerance"] == "bit for bit (CPU)"
    assert resumed["largest_difference"] == "train_loss 0, train_acc 0, val_loss 0, val_acc 0"
    assert resumed["epochs"] == 3
    assert steps["throughput"]["figures"]["v1 batch 256"].startswith("reports ")
    assert steps["parallel"]["figures"]["serial / parallel wall time"] > 0
    report = (out / "gpu_check.md").read_text()
    assert "| kill_resume | kill -9 mid-epoch" in report
    assert "| compile | train.compile" in report and "| skipped |" in report
    # the raw run directories stay beside the report
    assert list((out / "kill_resume" / "killed" / "runs").glob("*/run/metrics.csv"))
    assert not (out / "data").exists()  # the generated datasets went to a deleted scratch folder


def test_loss_trend_compares_the_means_of_the_first_and_last_three_windows():
    trend = figures.loss_trend([4.6, 4.5, 4.4, 4.0, 3.0, 2.0, 1.9, 1.8])
    assert trend.first == pytest.approx(4.5)
    assert trend.last == pytest.approx(1.9)
    assert trend.falling
    assert not figures.loss_trend([4.6, 4.7]).falling
    assert not figures.loss_trend([4.6, math.nan, 1.0, 0.5]).falling


def test_steady_rate_is_the_median_after_the_skipped_windows():
    rows = [{"images_per_s": v} for v in (10.0, 900.0, 1000.0, 1100.0, "bad")]
    assert figures.steady_rate(rows, 1) == 1000.0
    assert math.isnan(figures.steady_rate(rows, 5))


def test_compile_seconds_is_how_much_later_the_compiled_run_logs_its_first_window():
    eager = [{"elapsed_s": 1.5}, {"elapsed_s": 2.0}]
    compiled = [{"elapsed_s": 41.5}, {"elapsed_s": 42.0}]
    assert figures.compile_seconds(eager, compiled) == 40.0


def _row(epoch: int, loss: float, acc: float) -> dict:
    return {"epoch": epoch, "train_loss": loss, "train_acc": acc, "val_loss": loss,
            "val_acc": acc, "lr": 0.05}  # fmt: skip


def test_rows_agree_bit_for_bit_on_the_cpu_and_within_the_tolerance_on_a_gpu():
    reference = [_row(1, 2.0, 0.50), _row(2, 1.0, 0.70)]
    rounding = [_row(1, 2.0, 0.50), _row(2, 1.01, 0.71)]
    assert figures.rows_agree(reference, reference, exact=True).agree
    assert not figures.rows_agree(reference, rounding, exact=True).agree
    gpu = figures.rows_agree(reference, rounding, exact=False)
    assert gpu.agree
    assert gpu.largest["train_loss"] == pytest.approx(0.01)
    assert gpu.largest["val_acc"] == pytest.approx(0.01)
    drifted = [_row(1, 2.0, 0.50), _row(2, 1.05, 0.70)]
    assert "epoch 2 train_loss" in figures.rows_agree(reference, drifted, exact=False).problem
    missing = figures.rows_agree(reference, reference[:1], exact=False)
    assert missing.problem == "epochs [1] against [1, 2]"


@pytest.mark.process
def test_a_command_past_its_time_limit_is_killed_and_says_so(tmp_path):
    started = time.monotonic()
    done = run([sys.executable, "-c", "import time; time.sleep(30)"], tmp_path / "x.log", 1.0)
    assert done.timed_out
    assert time.monotonic() - started < 20


def test_the_report_lists_every_step_with_its_outcome_and_first_failure_line():
    results = [
        StepResult("device", PASSED, figures={"name": "NVIDIA H200"}, seconds=2.0),
        StepResult("quickstart", FAILED, "test accuracy 0.9 < 0.97\nmore", seconds=30.0),
    ]
    text = render(["- mode: GPU"], results, {"device": "device found"})
    assert "| device | device found | pass | 2 | name: NVIDIA H200 |" in text
    assert "| quickstart |  | **FAIL** | 30 | test accuracy 0.9 < 0.97 |" in text
    assert "## quickstart: **FAIL** (30.0 s)" in text


def test_missing_packages_are_named_with_what_to_do():
    absent = {"pydantic", "tomli_w"}
    found = deps.find_missing(lambda module: None if module in absent else object())
    assert found.missing == ["pydantic", "tomli-w"]
    assert found.missing_from_box == []
    assert "missing Python packages: pydantic, tomli-w" in found.problem()
    assert "--wheels DIR" in found.problem()
    no_torch = deps.find_missing(lambda module: None if module == "torch" else object())
    assert no_torch.missing_from_box == ["torch"]


def _wheel(folder: Path) -> Path:
    """A pure-Python wheel, as `pip download` brings one, of a one-module distribution."""
    path = folder / "gpucheckdemo-1.0-py3-none-any.whl"
    info = "gpucheckdemo-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("gpucheckdemo/__init__.py", "ANSWER = 42\n")
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: gpucheckdemo\n"
                       "Version: 1.0\n")  # fmt: skip
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\n"
                       "Root-Is-Purelib: true\nTag: py3-none-any\n")  # fmt: skip
        wheel.writestr(f"{info}/RECORD", "")
    return path


@pytest.mark.process
def test_wheels_are_installed_offline_into_a_folder_of_their_own(tmp_path, monkeypatch):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels)
    target = tmp_path / "packages"
    deps.install_from_wheels(wheels, target, ["gpucheckdemo"])
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "elsewhere")
    deps.use_folder(target)
    assert os.environ["PYTHONPATH"] == f"{target}{os.pathsep}elsewhere"
    import gpucheckdemo

    assert gpucheckdemo.ANSWER == 42
    monkeypatch.delitem(sys.modules, "gpucheckdemo")
    with pytest.raises(RuntimeError, match="installing nosuchpackage from"):
        deps.install_from_wheels(wheels, tmp_path / "other", ["nosuchpackage"])


def test_the_fp16_verdict_reads_the_gradient_scalers_scale_from_last_pt(tmp_path):
    import torch

    from benchmarks.gpu_check.steps import check_gradient_scaler
    from benchmarks.gpu_check.studies import TrainedRun

    (tmp_path / "checkpoints").mkdir()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    torch.save({"scaler": scaler.state_dict()}, tmp_path / "checkpoints" / "last.pt")
    run_ = TrainedRun("precision=fp16", tmp_path, {}, None, None, [], [])
    result = StepResult("precision")
    check_gradient_scaler(result, run_)
    assert result.outcome == PASSED
    assert result.figures["fp16 loss scale"] == 65536.0

    torch.save({"scaler": None}, tmp_path / "checkpoints" / "last.pt")
    unscaled = StepResult("precision")
    check_gradient_scaler(unscaled, run_)
    assert unscaled.outcome == FAILED
    assert unscaled.reason == "fp16: the gradient scaler's state in last.pt is {}"


def test_without_pip_the_wheels_that_fit_this_python_are_unpacked(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels)
    other_python = "pydantic_core-2.50.5-cp39-cp39-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(wheels / other_python, "w") as wheel:
        wheel.writestr("pydantic_core/__init__.py", "")
    assert deps.unpack_wheels(wheels, tmp_path / "packages") == [
        "gpucheckdemo-1.0-py3-none-any.whl"
    ]
    assert (tmp_path / "packages" / "gpucheckdemo" / "__init__.py").read_text() == "ANSWER = 42\n"
    assert not deps.wheel_fits("psutil-7.2.2-cp36-abi3-win_amd64.whl")
