"""The steps of the GPU check, one function each, in the order the report lists them. Every step
trains through `python -m tui_trainer run` where it can (what users run) and judges the files
the trainer wrote; the figures it records are what benchmarks/README.md quotes."""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import REPO, median
from benchmarks.gpu_check import figures
from benchmarks.gpu_check.harness import (
    SKIPPED,
    Context,
    StepResult,
    describe,
    run,
    start,
    trainer,
    wait,
)
from benchmarks.gpu_check.sizes import CPU_DRY_RUN, GPU, Sizes
from benchmarks.gpu_check.studies import (
    TrainedRun,
    TrainedStudy,
    cifar_preset,
    generated_cifar100,
    read_runs,
    sets,
    study_dir,
    train,
)


def sizes(ctx: Context) -> Sizes:
    return CPU_DRY_RUN if ctx.dry_run else GPU


def _python(*arguments: str) -> list[str]:
    return [sys.executable, *arguments]


def _judge_study(result: StepResult, study: TrainedStudy, expected_runs: int) -> None:
    """Fail the step unless the trainer exited 0 and every expected run completed."""
    result.details.append(f"trainer: {describe(study.finished)}, log {study.finished.log.name}")
    if study.finished.returncode != 0:
        result.fail(f"the trainer {describe(study.finished)}:\n{study.finished.tail()}")
    if len(study.runs) != expected_runs:
        result.fail(f"{len(study.runs)} run directories, expected {expected_runs}")
    for run_ in study.runs:
        if run_.state != "completed":
            result.fail(f"{run_.name}: {run_.state}")


def _judge_loss(ctx: Context, result: StepResult, run_: TrainedRun) -> figures.LossTrend:
    """Finite, and falling from the first logged windows to the last."""
    trend = figures.loss_trend(run_.losses())
    result.details.append(
        f"{run_.name}: {len(run_.losses())} loss windows, first {trend.first:.3f}, "
        f"last {trend.last:.3f}"
    )
    if not run_.losses() or not trend.falling:
        result.fail(f"{run_.name}: loss not finite and falling ({trend.first} -> {trend.last})")
    return trend


# -- 1. the device ------------------------------------------------------------------------------


def device(ctx: Context, result: StepResult) -> None:
    done = run(_python("-m", "benchmarks.gpu_check.probe", "device"), ctx.step_dir("device")
               / "probe.log", ctx.left())  # fmt: skip
    if done.returncode != 0:
        result.fail(f"the probe {describe(done)}:\n{done.tail()}")
        return
    found = json.loads(done.tail(1))
    result.figures.update(found)
    if ctx.dry_run:
        result.details.append(f"CPU dry run: --device auto picks {found['auto']}")
        if found["cuda_available"] and not found["auto"].startswith("cuda"):
            result.fail(f"CUDA is available but --device auto picks {found['auto']}")
        return
    if not found["cuda_available"]:
        result.fail("no CUDA device (use --cpu-dry-run on a machine without a GPU)")
    elif not found["auto"].startswith("cuda"):
        result.fail(f"--device auto picks {found['auto']}, not CUDA")


# -- 2. the quickstart ----------------------------------------------------------------------------


def quickstart(ctx: Context, result: StepResult) -> None:
    size = sizes(ctx)
    options = ["--device", "auto"]  # the quickstart as a user runs it: auto must pick CUDA
    if size.quickstart_epochs:
        options += sets(train__epochs=size.quickstart_epochs)
    study = train(ctx, ctx.step_dir("quickstart"), REPO / "presets" / "quickstart.toml", *options)
    _judge_study(result, study, 1)
    if not study.runs:
        return
    (run_,) = study.runs
    status, summary = run_.status, run_.summary
    accuracy = summary.test_acc if summary else None
    result.figures["test_acc"] = accuracy
    result.figures["device"] = status.device if status else None
    result.figures["epochs"] = len(run_.metrics)
    result.figures["wall_s"] = summary.wall_time_s if summary else None
    if size.quickstart_min_acc is not None and (accuracy or 0) < size.quickstart_min_acc:
        result.fail(f"test accuracy {accuracy} < {size.quickstart_min_acc}")
    if size.quickstart_min_acc is None:
        result.details.append(f"{size.quickstart_epochs} epoch: accuracy recorded, not judged")
    utilisation = figures.numbers(run_.steps, "device_util")
    device_figures = status.device_figures if status else None
    result.figures["steps_with_device_util"] = f"{len(utilisation)}/{len(run_.steps)}"
    if not utilisation:
        result.fail("steps.csv has no device_util figures")
    if ctx.dry_run:
        return
    if not (status and (status.device or "").startswith("cuda")):
        result.fail(f"--device auto trained on {status.device if status else None}, not CUDA")
    if device_figures is None or device_figures.gpu_util_percent is None:
        result.fail("status.toml has no GPU utilisation from NVML (is nvidia-ml-py installed?)")
    else:
        result.figures["gpu_util_percent"] = device_figures.gpu_util_percent
        result.figures["gpu_mem_used_mb"] = device_figures.gpu_mem_used_mb
        result.figures["steps_gpu_util_median"] = median(utilisation)
        if not device_figures.gpu_mem_used_mb:
            result.fail("status.toml reports no GPU memory in use")


# -- 3. precision ---------------------------------------------------------------------------------


def _native_cpu_bf16() -> bool:
    from tui_trainer.train.acceleration import cpu_has_native_bf16  # imports torch: only here

    return cpu_has_native_bf16()


def precision(ctx: Context, result: StepResult) -> None:
    size = sizes(ctx)
    wanted = list(size.precisions)
    if ctx.dry_run:
        result.details.append("fp16 skipped: it needs CUDA (the gradient scaler runs on the GPU)")
        if _native_cpu_bf16():
            wanted.append("bf16")
        else:
            result.details.append("bf16 skipped: this CPU has no native bf16")
    data = generated_cifar100(ctx, size.per_class)
    preset = cifar_preset(
        "gpu-check-precision", data, size.per_class,
        data={"batch_size": size.batch}, model={"width_mult": size.width},
        train={"log_every_steps": size.log_every, "save_checkpoints": True},
    )  # fmt: skip
    options = ["--device", ctx.device, *sets(sweep__train__precision=wanted)]
    study = train(ctx, ctx.step_dir("precision"), preset, *options)
    _judge_study(result, study, len(wanted))
    expected = {"auto": "fp32" if ctx.dry_run else "bf16", "fp16": "fp16", "fp32": "fp32",
                "bf16": "bf16"}  # fmt: skip
    for run_ in study.runs:
        setting = run_.config.get("train", {}).get("precision")
        used = run_.status.precision if run_.status else None
        trend = _judge_loss(ctx, result, run_)
        rate = figures.steady_rate(run_.steps, 2)
        result.figures[f"{setting}"] = (
            f"{used}, {run_.steps[-1].get('step') if run_.steps else 0} steps, "
            f"loss {trend.first:.2f} -> "
            f"{trend.last:.2f}, {rate:.0f} img/s"
        )
        if used != expected.get(str(setting)):
            result.fail(f"precision {setting} trained as {used}, expected {expected[setting]}")
        if setting == "fp16":
            check_gradient_scaler(result, run_)


def check_gradient_scaler(result: StepResult, run_: TrainedRun) -> None:
    """The fp16 run's last.pt must carry the gradient scaler's state, with a finite scale."""
    import torch

    payload = torch.load(run_.directory / "checkpoints" / "last.pt", weights_only=True)
    scaler = payload.get("scaler") or {}
    scale = scaler.get("scale")
    value = float(scale) if scale is not None else math.nan
    result.figures["fp16 loss scale"] = value
    if not math.isfinite(value) or value <= 0:
        result.fail(f"fp16: the gradient scaler's state in last.pt is {scaler!r}")


# -- 4. torch.compile -----------------------------------------------------------------------------


def compile_(ctx: Context, result: StepResult) -> None:
    size = sizes(ctx)
    if not size.compile_runs:
        result.outcome = SKIPPED
        result.reason = ("CUDA only in this check: inductor on a small CPU compiles for minutes "
                         "and is slower there (benchmarks/README.md §1)")  # fmt: skip
        return
    data = generated_cifar100(ctx, size.per_class)
    preset = cifar_preset(
        "gpu-check-compile", data, size.per_class,
        data={"batch_size": size.batch}, train={"log_every_steps": size.log_every},
    )  # fmt: skip
    options = ["--device", ctx.device, *sets(sweep__train__compile=[False, True])]
    study = train(ctx, ctx.step_dir("compile"), preset, *options)
    _judge_study(result, study, 2)
    by_mode = {bool(r.config.get("train", {}).get("compile")): r for r in study.runs}
    if len(by_mode) != 2:
        return
    eager, compiled = by_mode[False], by_mode[True]
    for run_ in (eager, compiled):
        _judge_loss(ctx, result, run_)
    skip = 3  # compilation and cuDNN's autotuning happen in the first windows
    eager_rate = figures.steady_rate(eager.steps, skip)
    compiled_rate = figures.steady_rate(compiled.steps, skip)
    result.figures.update(
        compile_s=round(figures.compile_seconds(eager.steps, compiled.steps), 1),
        eager_img_s=round(eager_rate),
        compiled_img_s=round(compiled_rate),
        compiled_over_eager=round(compiled_rate / eager_rate, 2),
    )


# -- 5. fused optimizers --------------------------------------------------------------------------


def fused_optimizers(ctx: Context, result: StepResult) -> None:
    size = sizes(ctx)
    probe = run(_python("-m", "benchmarks.gpu_check.probe", "kernels", ctx.device),
                ctx.step_dir("fused_optimizers") / "probe.log", ctx.left())  # fmt: skip
    if probe.returncode != 0:
        result.fail(f"the kernels probe {describe(probe)}:\n{probe.tail()}")
    else:
        found = json.loads(probe.tail(1))
        for key, answer in found.items():
            want_fused = "head-only" not in key
            result.figures[key] = "fused" if answer["fused"] else "not fused (foreach/default)"
            if answer["fused"] != want_fused or not answer["finite"]:
                result.fail(f"{key}: fused={answer['fused']}, finite={answer['finite']}")
    data = generated_cifar100(ctx, size.per_class)
    preset = cifar_preset(
        "gpu-check-fused", data, size.per_class,
        data={"batch_size": size.batch}, model={"width_mult": size.width},
        optim={"lr": 0.005}, train={"log_every_steps": size.log_every},
    )  # fmt: skip
    options = ["--device", ctx.device, *sets(sweep__optim__name=["sgd", "adam", "adamw"])]
    study = train(ctx, ctx.step_dir("fused_optimizers"), preset, *options)
    _judge_study(result, study, 3)
    for run_ in study.runs:
        _judge_loss(ctx, result, run_)
    result.details.append("the head-only first phase trains for real in the V2/V3 step")


# -- 6. MobileNetV2/V3 ----------------------------------------------------------------------------


def mobilenet_v2_v3(ctx: Context, result: StepResult) -> None:
    size = sizes(ctx)
    data = generated_cifar100(ctx, size.small_per_class)
    preset = cifar_preset(
        "gpu-check-v2v3", data, size.small_per_class,
        data={"batch_size": size.v2v3_batch, "resize": size.v2v3_resize},
        model={"arch": "mobilenet_v2", "width_mult": size.v2v3_width, "trainable_blocks": 3,
               "head_only_epochs": 1},
        optim={"lr": 0.01},
        train={"epochs": 2, "log_every_steps": 2},
    )  # fmt: skip
    arches = ["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"]
    options = ["--device", ctx.device, *sets(sweep__model__arch=arches)]
    study = train(ctx, ctx.step_dir("mobilenet_v2_v3"), preset, *options)
    _judge_study(result, study, 3)
    result.details.append(
        f"random init (pretrained weights cannot be downloaded offline), resize to "
        f"{size.v2v3_resize}, trainable_blocks 3, head_only_epochs 1, 2 epochs"
    )
    for run_ in study.runs:
        status = run_.status
        losses = run_.losses()
        trainable, total = (status.trainable_parameters, status.parameters) if status else (0, 0)
        rate = figures.steady_rate(run_.steps, 1)
        arch = run_.config.get("model", {}).get("arch", run_.name)
        result.figures[arch] = (
            f"{trainable:,} of {total:,} parameters train, {rate:.0f} img/s"
            if trainable and total
            else "no status"
        )
        if not losses or not all(map(math.isfinite, losses)):
            result.fail(f"{arch}: loss not finite")
        if not (trainable and total and trainable < total):
            result.fail(f"{arch}: blocks are not frozen ({trainable} of {total} train)")
        if len(run_.metrics) != 2:
            result.fail(f"{arch}: {len(run_.metrics)} epochs written, expected 2")


# -- 7. kill -9 and resume ------------------------------------------------------------------------


@dataclass
class _Killed:
    killed: bool
    note: str


def _kill_inside_epoch(process, runs_dir: Path, epoch: int, timeout: float) -> _Killed:
    """SIGKILL the trainer once steps.csv shows a step of `epoch` and metrics.csv its previous
    epochs: in the middle of an epoch, after a checkpoint."""
    from tui_trainer.store.csvlog import read_rows

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return _Killed(False, f"the trainer ended (exit {process.returncode}) before epoch "
                           f"{epoch}")  # fmt: skip
        study = study_dir(runs_dir) if runs_dir.is_dir() else None
        runs = [p for p in study.iterdir() if p.is_dir()] if study else []
        if runs:
            steps = read_rows(runs[0] / "steps.csv")
            metrics = read_rows(runs[0] / "metrics.csv")
            if len(metrics) == epoch - 1 and steps and steps[-1].get("epoch") == epoch:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return _Killed(True, f"killed at step {steps[-1].get('step')}, inside epoch "
                               f"{epoch}")  # fmt: skip
        time.sleep(0.02)
    return _Killed(False, f"epoch {epoch} not reached in {timeout:.0f} s")


def kill_resume(ctx: Context, result: StepResult) -> None:
    size = sizes(ctx)
    here = ctx.step_dir("kill_resume")
    data = generated_cifar100(ctx, size.kill_per_class)
    preset = cifar_preset(
        "gpu-check-resume", data, size.kill_per_class,
        data={"batch_size": size.kill_batch}, model={"width_mult": size.width},
        train={"epochs": size.kill_epochs, "log_every_steps": 2,
               "save_checkpoints": True},
    )  # fmt: skip
    from benchmarks.gpu_check.studies import write_preset

    path = write_preset(here, preset)
    common = ["--plain", "--device", ctx.device]
    victim_runs, reference_runs = here / "killed" / "runs", here / "uninterrupted" / "runs"
    for folder in (victim_runs, reference_runs):
        folder.mkdir(parents=True, exist_ok=True)
    # both at once: the kill does not wait for the reference, and the GPU has room for two
    reference = start(trainer("run", str(path), "--runs-dir", str(reference_runs), *common),
                      here / "uninterrupted.log")  # fmt: skip
    victim = start(trainer("run", str(path), "--runs-dir", str(victim_runs), *common),
                   here / "killed.log")  # fmt: skip
    killed = _kill_inside_epoch(victim, victim_runs, size.kill_in_epoch, ctx.left())
    result.details.append(killed.note)
    if not killed.killed:
        result.fail(killed.note)
        victim.kill()
        victim.wait()
    code = wait(reference, ctx.left())
    result.details.append(f"uninterrupted run: exit {code}")
    if code != 0:
        result.fail(f"the uninterrupted run exited {code}")
    if not killed.killed:
        return
    study = study_dir(victim_runs)
    resumed = run(trainer("resume", str(study), "--runs-dir", str(victim_runs), *common),
                  here / "resume.log", ctx.left())  # fmt: skip
    result.details.append(f"resume: {describe(resumed)}")
    if resumed.returncode != 0:
        result.fail(f"resume {describe(resumed)}:\n{resumed.tail()}")
        return
    reference_study = study_dir(reference_runs)
    if reference_study is None:
        return
    (want,) = read_runs(reference_study)
    (got,) = read_runs(study)
    agreement = figures.rows_agree(want.metrics, got.metrics, exact=ctx.dry_run)
    rule = "bit for bit (CPU)" if ctx.dry_run else (
        f"losses within {figures.GPU_RELATIVE_LOSS:.0%}, accuracies within "
        f"{figures.GPU_ACCURACY} (GPU)")  # fmt: skip
    result.figures.update(
        epochs=agreement.compared_rows,
        tolerance=rule,
        largest_difference=", ".join(
            f"{k} {v:.2g}" for k, v in agreement.largest.items() if k != "lr"
        ),
        resumed_state=got.state,
    )
    if got.state != "completed":
        result.fail(f"the resumed run reads {got.state}")
    if not agreement.agree:
        result.fail(f"rows differ from the uninterrupted run: {agreement.problem}")


# -- 8. throughput --------------------------------------------------------------------------------


def throughput(ctx: Context, result: StepResult) -> None:
    """benchmarks.throughput's own child processes, the reports' pipeline and tui-trainer's,
    alternated within this step for each (model, batch)."""
    size = sizes(ctx)
    here = ctx.step_dir("throughput")
    steps_needed = size.bench_warmup + size.bench_windows * size.bench_window + 2
    if ctx.dry_run:
        measured = ", ".join(f"{model} at {batch}" for model, batch in size.bench_batches)
        result.details.append(f"V2 and batch 512 are GPU sizes: the dry run measures {measured}")
    for model, batch in size.bench_batches:
        # benchmarks.throughput holds out 2% per class for validation: 26 keep one image
        per_class = max(26, -(-steps_needed * batch // 100) + 2)
        data = generated_cifar100(ctx, per_class)
        generated = ctx.scratch in data.parents  # else the real CIFAR-100 of the data directory
        rates: dict[str, list[float]] = {}
        for pipeline in ("baseline", "compile=off"):
            command = _python(
                "-m", "benchmarks.throughput", "--child", pipeline, model, str(data),
                "--batch", str(batch), "--warmup", str(size.bench_warmup),
                "--window", str(size.bench_window), "--device", ctx.device,
            )  # fmt: skip
            os.environ["BENCH_GENERATED"] = "1" if generated else "0"
            done = run(command, here / f"{model}-{batch}-{pipeline}.log", ctx.left())
            if done.returncode != 0:
                result.fail(f"{model} batch {batch} {pipeline}: {describe(done)}:\n{done.tail()}")
                break
            rates[pipeline] = json.loads(done.tail(1))
        if len(rates) != 2 or not all(rates.values()):
            if len(rates) == 2:
                result.fail(f"{model} batch {batch}: no timed windows")
            continue
        base, ours = statistics.median(rates["baseline"]), statistics.median(rates["compile=off"])
        result.figures[f"{model} batch {batch}"] = (
            f"reports {base:.0f} img/s, tui-trainer {ours:.0f} img/s: {ours / base:.2f}x"
        )


# -- 9. parallel runs -----------------------------------------------------------------------------


def parallel(ctx: Context, result: StepResult) -> None:
    """benchmarks.parallel's measurement: the quickstart with a learning-rate sweep, serial
    against several runs at once, one round each."""
    from benchmarks.parallel import measure

    size = sizes(ctx)
    here = ctx.step_dir("parallel")
    rates = ", ".join(f"{0.02 * (i + 1):g}" for i in range(size.parallel_runs))
    overrides = ["--set", f"sweep.optim.lr=[{rates}]",
                 *sets(train__epochs=size.parallel_epochs), "--device", ctx.device]  # fmt: skip
    label = " ".join(size.parallel_options)
    walls = {}
    for name, extra in (("serial", []), (label, list(size.parallel_options))):
        runs_dir = Path(tempfile.mkdtemp(prefix=f"{name.split()[0].strip('-')}-", dir=here))
        try:
            measured = measure(REPO / "presets" / "quickstart.toml", runs_dir,
                               [*overrides, *extra])  # fmt: skip
        except SystemExit as failure:
            result.fail(f"{name}: {str(failure)[-1500:]}")
            return
        walls[name] = measured.wall_s
        result.figures[name] = (
            f"{measured.wall_s:.1f} s, {measured.images_per_s:.0f} img/s over the study"
        )
    result.figures["serial / parallel wall time"] = round(walls["serial"] / walls[label], 2)
    result.details.append(
        f"{size.parallel_runs} runs x {size.parallel_epochs} epochs of the quickstart, "
        f"serial against {label}"
    )


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    gpu_limit_s: float  # what the step may take on one H100/H200-class GPU
    dry_limit_s: float  # on two loaded CPU cores
    run: Callable[[Context, StepResult], None]


STEPS = (
    Step("device", "device found; --device auto picks CUDA", 30, 60, device),
    Step(
        "quickstart", "quickstart on CUDA: ≥ 0.97 test accuracy, NVML figures", 90, 240, quickstart
    ),
    Step(
        "precision",
        "bf16 (auto), fp16 + gradient scaler, fp32: finite, falling loss",
        120,  # the first step on generated CIFAR-100: it writes the 40,000 images too
        240,
        precision,
    ),
    Step("compile", "train.compile: compile time, img/s against eager", 150, 60, compile_),
    Step(
        "fused_optimizers",
        "fused SGD/Adam/AdamW; head-only phase unfused",
        60,
        240,
        fused_optimizers,
    ),
    Step(
        "mobilenet_v2_v3", "V2/V3, frozen blocks, head-only phase, resize", 60, 240, mobilenet_v2_v3
    ),
    Step(
        "kill_resume",
        "kill -9 mid-epoch, resume: rows match an uninterrupted run",
        60,
        300,
        kill_resume,
    ),
    Step("throughput", "reports' pipeline against tui-trainer's (v1, V2)", 90, 240, throughput),
    Step("parallel", "8 runs serial against 4 per GPU", 90, 300, parallel),
)
