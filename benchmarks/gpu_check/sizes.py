"""How big each step is: sized to fit one H100/H200-class GPU in six minutes altogether, and
tiny for the CPU dry run (which proves the steps still work, not how fast anything is)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    quickstart_epochs: int | None  # None: the preset's own 20
    quickstart_min_acc: float | None  # None: recorded, not judged (one epoch cannot reach it)
    per_class: int  # generated CIFAR-100 images per class: precision, compile, fused
    batch: int
    width: float  # MobileNet v1 width for precision, fused and kill/resume
    log_every: int
    precisions: tuple[str, ...]
    compile_runs: bool
    small_per_class: int  # the V2/V3 step's data: its images are resized
    v2v3_batch: int
    v2v3_resize: int
    v2v3_width: float
    kill_per_class: int
    kill_batch: int
    kill_epochs: int
    kill_in_epoch: int  # the trainer is killed inside this epoch
    bench_batches: tuple[tuple[str, int], ...]  # (model, batch) pairs of the throughput step
    bench_warmup: int
    bench_window: int
    bench_windows: int
    parallel_runs: int
    parallel_epochs: int
    parallel_options: tuple[str, ...]


GPU = Sizes(
    quickstart_epochs=None,
    quickstart_min_acc=0.97,
    per_class=400,  # 38,000 training images: 296 steps of 128
    batch=128,
    width=1.0,
    log_every=10,
    precisions=("auto", "fp16", "fp32"),
    compile_runs=True,
    small_per_class=20,  # 1,900 images at 224x224: 29 steps of 64 an epoch
    v2v3_batch=64,
    v2v3_resize=224,
    v2v3_width=1.0,
    kill_per_class=100,  # 74 steps of 128 an epoch
    kill_batch=128,
    kill_epochs=5,
    kill_in_epoch=3,
    bench_batches=(("v1", 128), ("v2", 128), ("v1", 512)),
    bench_warmup=10,
    bench_window=8,
    bench_windows=4,
    parallel_runs=8,
    parallel_epochs=2,
    parallel_options=("--runs-per-gpu", "4", "--gpus", "0"),
)

CPU_DRY_RUN = Sizes(
    quickstart_epochs=1,
    quickstart_min_acc=None,
    per_class=40,  # 3,800 training images: 59 steps of 64, enough for the loss to fall
    batch=64,
    width=0.25,
    log_every=5,
    precisions=("auto",),  # fp32 on a CPU; bf16 and fp16 are GPU precisions here
    compile_runs=False,
    small_per_class=2,
    v2v3_batch=16,
    v2v3_resize=48,
    v2v3_width=0.25,
    kill_per_class=4,  # 10 steps of 32 an epoch
    kill_batch=32,
    kill_epochs=3,
    kill_in_epoch=2,
    # 2,574 training images however small the batch (26 a class keep one for validation), and
    # both pipelines train every one of them: at 256 that is the 10 steps the windows need, not
    # 160 steps of 16 (a third of the dry run's time went there)
    bench_batches=(("v1", 256),),
    bench_warmup=2,
    bench_window=2,
    bench_windows=2,
    parallel_runs=2,
    parallel_epochs=1,
    parallel_options=("--jobs", "2"),
)
