"""Training throughput: the reports' pipeline against tui-trainer's, in one process run.

    .venv/bin/python -m benchmarks.throughput [--models v1,v2] [--batch 128] [--compile off,on]

Both pipelines train the same model (tui_trainer.train.models.build_model) on the same
CIFAR-100-format data at the same batch size with the same SGD settings:

- baseline, what the reports ran: a torchvision CIFAR100 dataset object with PIL transforms
  (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize), a DataLoader with
  num_workers = cores, an eager fp32 NCHW model, and `.item()` on the loss and the accuracy after
  every step;
- tui-trainer: a study run through `run_study`, the function `tui-trainer run` calls, with
  train.log_every_steps = the window length. Its images/s are the ones the trainer itself writes
  to steps.csv for each logging window.

Each prints the median images/s over the timed windows that follow the warm-up steps, the ratio,
and the fraction of the compute bound reached: 3x the model's forward FLOPs per image against the
machine's measured matmul peak. With no real CIFAR-100 in the data directory, a generated archive
in the genuine format is used (random pixels: a step's speed does not depend on them; the
torchvision dataset's file-checksum check is skipped for it, its loading is unchanged).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from benchmarks.common import (
    REPO,
    cifar100_data_dir,
    fmt_ratio,
    machine_line,
    matmul_peak_gflops,
    median,
    training_flops_per_image,
)

MODELS = {
    "v1": {"arch": "mobilenet_v1"},
    "v2": {"arch": "mobilenet_v2", "cifar_stem": True},
}
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)


def preset_text(
    model: str, data_dir: Path, batch: int, window: int, compile_: bool, device: str
) -> str:
    keys = "\n".join(
        f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}"
        for k, v in MODELS[model].items()
    )
    return f"""
[study]
name = "bench-{model}"

[data]
dataset = "cifar100"
data_dir = {str(data_dir)!r}
download = false
val_fraction = 0.02
augment = ["crop", "hflip"]
batch_size = {batch}

[model]
{keys.replace("'", '"')}

[optim]
name = "sgd"
lr = 0.05
momentum = 0.9
nesterov = true
weight_decay = 5e-4

[train]
epochs = 1
log_every_steps = {window}
save_checkpoints = false
compile = {str(compile_).lower()}
device = {device!r}
"""


def run_tui_trainer(
    model: str, data_dir: Path, batch: int, warmup: int, window: int, compile_: bool, device: str
) -> list[float]:
    """images/s of each logging window after the warm-up, as the trainer wrote them."""
    from tui_trainer.config.load import load_preset
    from tui_trainer.console.plain import PlainLog, with_study_log
    from tui_trainer.train.in_process import run_study

    with tempfile.TemporaryDirectory() as scratch:
        preset = Path(scratch) / "bench.toml"
        preset.write_text(preset_text(model, data_dir, batch, window, compile_, device))
        result = run_study(
            load_preset(preset), Path(scratch) / "runs", with_study_log(PlainLog()), argv=["bench"]
        )
        with open(result.study_dir / "run" / "steps.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    per_epoch = int(rows[-1]["step"])
    rates = []
    for row in rows:
        step = int(row["step"])
        if step - window >= warmup and step % window == 0 and step < per_epoch:
            rates.append(float(row["images_per_s"]))
    return rates


def run_baseline(
    model: str, data_dir: Path, generated: bool, batch: int, warmup: int, window: int, device: str
) -> list[float]:
    """The reports' loop: images/s of each window of `window` steps after `warmup` steps."""
    import torch
    import torch.nn.functional as F
    import torchvision
    from torchvision import transforms

    from tui_trainer.config.schema import ModelSection
    from tui_trainer.train.models import build_model

    Cifar100 = torchvision.datasets.CIFAR100
    if generated:  # its files have their own checksums: torchvision checks none when md5 is None

        class Cifar100(torchvision.datasets.CIFAR100):
            train_list = tuple((name, None) for name, _ in torchvision.datasets.CIFAR100.train_list)
            test_list = tuple((name, None) for name, _ in torchvision.datasets.CIFAR100.test_list)
            meta: ClassVar = {**torchvision.datasets.CIFAR100.meta, "md5": None}

    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR100_MEAN, CIFAR100_STD),
        ]
    )
    dataset = Cifar100(str(data_dir), train=True, transform=transform, download=False)
    dev = torch.device(device)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch,
        shuffle=True,
        num_workers=os.cpu_count() or 1,
        pin_memory=dev.type == "cuda",
        drop_last=True,
    )
    torch.manual_seed(0)
    net = build_model(ModelSection(**MODELS[model]), 100).to(dev)
    optimizer = torch.optim.SGD(
        net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    net.train()
    rates: list[float] = []
    images = 0
    started = 0.0
    for step, (x, y) in enumerate(loader, start=1):
        x, y = x.to(dev), y.to(dev)
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()
        (logits.argmax(1) == y).sum().item()
        if step == warmup:
            started, images = time.perf_counter(), 0
        elif step > warmup:
            images += x.shape[0]
            if (step - warmup) % window == 0:
                now = time.perf_counter()
                rates.append(images / (now - started))
                started, images = now, 0
    return rates


def compute_bound(model: str, device: str, peak_gflops: float) -> tuple[float, float]:
    """(training GFLOPs per image, the images/s the peak would allow)."""
    from tui_trainer.config.schema import ModelSection
    from tui_trainer.train.models import build_model

    net = build_model(ModelSection(**MODELS[model]), 100).to(device)
    flops = training_flops_per_image(net, 32, device)
    return flops / 1e9, peak_gflops * 1e9 / flops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="v1,v2", help="comma-separated: v1, v2")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument("--window", type=int, default=8, help="steps per timed window")
    parser.add_argument("--windows", type=int, default=4, help="timed windows per round")
    parser.add_argument(
        "--compile", default="off,on", help="tui-trainer with train.compile off, on or both"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the pipelines")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # PIPELINE MODEL DATA_DIR
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)

    import torch

    from tui_trainer.train.device import resolve_device

    device = str(resolve_device(args.device))
    steps = args.warmup + args.windows * args.window + 2
    per_class = -(-steps * args.batch // 100) + 2
    print(machine_line())
    print(
        f"device {device}, batch {args.batch}, warm-up {args.warmup} steps, "
        f"{args.windows} windows of {args.window} steps, torch threads {torch.get_num_threads()}"
    )
    peak_dtype = "bfloat16" if device.startswith("cuda") else "float32"
    peak = matmul_peak_gflops(device.split(":")[0], peak_dtype)
    print(f"matmul peak ({peak_dtype}): {peak:.0f} GFLOP/s")
    with tempfile.TemporaryDirectory() as scratch:
        data_dir, generated = cifar100_data_dir(Path(scratch) / "data", per_class)
        print(
            f"data: {'generated CIFAR-100 format, ' if generated else 'CIFAR-100 in '}"
            f"{per_class} images/class"
            if generated
            else f"data: {data_dir}"
        )
        print()
        print(
            f"{'model':6} {'pipeline':24} {'img/s':>8} {'windows (img/s)':40} "
            f"{'vs base':>8} {'of bound':>9}"
        )
        pipelines = ([] if args.skip_baseline else ["baseline"]) + [
            f"compile={mode}" for mode in args.compile.split(",")
        ]
        for model in args.models.split(","):
            rates: dict[str, list[float]] = {name: [] for name in pipelines}
            for _ in range(args.rounds):  # alternated, so that drift in the machine hits all
                for name in pipelines:
                    rates[name] += _in_child(args, name, model, data_dir, generated, device)
            # the machine's peak, again after the rounds: the higher figure, the stricter bound
            peak = max(peak, matmul_peak_gflops(device.split(":")[0], peak_dtype))
            gflops, bound = compute_bound(model, device, peak)
            base = median(rates["baseline"]) if "baseline" in rates else None
            for name in pipelines:
                label = "baseline (reports)" if name == "baseline" else f"tui-trainer {name}"
                print(_row(model, label, rates[name], base, bound))
            print(
                f"{'':6} compute bound: {gflops:.3f} GFLOP per training image -> "
                f"{bound:.0f} img/s at the matmul peak of {peak:.0f} GFLOP/s"
            )
    return 0


def _in_child(
    args: argparse.Namespace,
    pipeline: str,
    model: str,
    data_dir: Path,
    generated: bool,
    device: str,
) -> list[float]:
    """One pipeline's window rates, measured in a fresh Python process, so that neither pipeline
    inherits the other's allocator settings, threads or DataLoader workers."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.throughput",
        "--child",
        pipeline,
        model,
        str(data_dir),
        *("--batch", str(args.batch), "--warmup", str(args.warmup)),
        *("--window", str(args.window), "--device", device),
    ]
    env = {**os.environ, "BENCH_GENERATED": "1" if generated else "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{pipeline} {model} failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(args: argparse.Namespace) -> int:
    pipeline, model, data_dir = args.child
    generated = os.environ.get("BENCH_GENERATED") == "1"
    if pipeline == "baseline":
        rates = run_baseline(
            model, Path(data_dir), generated, args.batch, args.warmup, args.window, args.device
        )
    else:
        compile_ = pipeline == "compile=on"
        rates = run_tui_trainer(
            model, Path(data_dir), args.batch, args.warmup, args.window, compile_, args.device
        )
    print(json.dumps(rates))
    return 0


def _row(model: str, label: str, rates: list[float], base: float | None, bound: float) -> str:
    value = median(rates)
    windows = " ".join(f"{r:.0f}" for r in rates)
    windows = windows if len(windows) <= 40 else windows[:37] + "..."
    ratio = fmt_ratio(value / base) if base else "-"
    return f"{model:6} {label:24} {value:8.1f} {windows:40} {ratio:>8} {value / bound:8.0%}"


if __name__ == "__main__":
    raise SystemExit(main())
