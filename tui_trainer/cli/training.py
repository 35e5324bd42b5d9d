"""The commands that train: `run` and `resume`, and the hidden `worker-run` and `worker-check`
that a parallel study's trainer starts. Here, and nowhere else, the executor is picked: in this
process (`--jobs 1`) or workers (local processes or Ray tasks); and the display and trainer.log's
lines are composed for the study's lifecycle (tui_trainer/study/lifecycle.py).

torch is imported only once a study is about to train in this process, inside the functions
below; a study trained by workers never imports it here.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tui_trainer.cli.options import (
    PROGRESS_EVERY_S,
    ClusterOption,
    DataDirOption,
    DetachedOption,
    DeviceChoice,
    GpusOption,
    JobsOption,
    PlainOption,
    ProgressOption,
    RetriesOption,
    RunsDirOption,
    RunsPerGpuOption,
    parallel_settings,
    toml_string,
    toml_value,
)
from tui_trainer.cli.output import reported_errors
from tui_trainer.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from tui_trainer.config.load import LoadedStudy
    from tui_trainer.store.reader import StudyRecord
    from tui_trainer.study.events import TrainingEvents
    from tui_trainer.study.executor import Executor
    from tui_trainer.study.result import StudyResult


def run(
    preset: Annotated[
        str,
        typer.Argument(
            help="A preset TOML file, or the name of a built-in preset or of one of yours "
            "(`tui-trainer presets` lists them).",
            show_default=False,
        ),
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            metavar="KEY=VALUE",
            help="Override a config value (repeatable): optim.lr=0.1, train.epochs=5, "
            "'sweep.optim.lr=[0.01, 0.1]'.",
        ),
    ] = None,
    runs_dir: RunsDirOption = Path("runs"),
    device: Annotated[
        DeviceChoice | None,
        typer.Option(
            "--device",
            help="Where to train; sets train.device. \\[default: the preset's, normally auto]",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    plain: PlainOption = False,
    progress: ProgressOption = PROGRESS_EVERY_S,
    into: Annotated[
        Path | None,
        typer.Option(
            "--into", hidden=True, help="Write into this empty study directory reserved by the app."
        ),
    ] = None,
    detached: DetachedOption = False,
    jobs: JobsOption = None,
    gpus: GpusOption = None,
    runs_per_gpu: RunsPerGpuOption = None,
    retries: RetriesOption = None,
    cluster: ClusterOption = None,
) -> None:
    """Run every run of a study, headless. Writes runs/<study-id>/ as it goes.

    Exit codes: 0 all runs completed, 1 a run failed or diverged, 2 bad preset or option,
    3 the machine lacks the device or data or the runs directory cannot be written,
    130/143 stopped by SIGINT/SIGTERM (finished epochs kept: `tui-trainer resume` goes on).
    """
    from tui_trainer.config.load import load_preset
    from tui_trainer.config.presets import resolve_preset

    with reported_errors():
        settings = list(overrides or [])
        if device is not None:
            settings.append(f"train.device={device.value}")
        if data_dir is not None:
            settings.append(f"data.data_dir={toml_string(str(data_dir))}")
        parallel = parallel_settings(jobs, gpus, runs_per_gpu, retries, cluster)
        for key, value in parallel.items():
            settings.append(f"parallel.{key}={toml_value(value)}")
        loaded = load_preset(resolve_preset(preset), settings)
        if detached:
            _ignore_hangups()
        use_live = sys.stdout.isatty() and not plain
        every = progress_every(progress, detached)
        code = _train(loaded, runs_dir, use_live=use_live, into=into, progress=every)
    raise typer.Exit(int(code))


def resume(
    ident: Annotated[
        str,
        typer.Argument(
            metavar="ID",
            help="A study (id, unique part of one, 'latest' or a path): resume its unfinished "
            "runs and start those that never started. STUDY/RUN: resume that run only.",
            show_default=False,
        ),
    ],
    runs_dir: RunsDirOption = Path("runs"),
    device: Annotated[
        DeviceChoice | None,
        typer.Option(
            "--device",
            help="Where to train. \\[default: the run's train.device]",
            show_default=False,
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where the datasets are (or may be downloaded to); replaces the runs' "
            "data.data_dir. \\[default: the run's; a data_dir named in its config.toml is only "
            "read: resume never creates it or downloads into it]",
            show_default=False,
        ),
    ] = None,
    plain: PlainOption = False,
    progress: ProgressOption = PROGRESS_EVERY_S,
    detached: DetachedOption = False,
    jobs: JobsOption = None,
    gpus: GpusOption = None,
    runs_per_gpu: RunsPerGpuOption = None,
    retries: RetriesOption = None,
    cluster: ClusterOption = None,
) -> None:
    """Continue interrupted, crashed or failed runs from their last checkpoint.

    Model, optimizer, schedule, gradient scaler, random states and data order are restored, and
    rows logged after the checkpoint are cut, so the run goes on as if it had never stopped.
    Refused while another trainer is writing the run, and, before anything is changed, when
    the run's files are not what a resume can continue (a changed header, a missing row, a
    checkpoint out of step with the rows). A study launched with parallel jobs resumes with
    the same ones (study.toml's [parallel]) unless the options say otherwise. Exit codes as for
    `run`.
    """
    from tui_trainer.store.reader import resolve

    with reported_errors():
        study, run_record = resolve(runs_dir, ident)
        given = parallel_settings(jobs, gpus, runs_per_gpu, retries, cluster)
        parallel = _study_parallel(study, given)
        if detached:
            _ignore_hangups()
        name = run_record.name if run_record is not None else None
        device_spec = device.value if device else None

        def resume_with(display: Any) -> StudyResult:
            from tui_trainer.console.plain import with_study_log
            from tui_trainer.study.lifecycle import resume_study

            executor = _executor(parallel, display, device_spec, data_dir)
            return resume_study(
                study,
                name,
                executor,
                with_study_log(display),
                data_dir=data_dir,
                parallel=parallel.model_dump(),
            )

        if parallel.uses_workers:  # a study's trainer that never imports torch: plain lines
            code = _train_or_resume(resume_with, use_live=False)
        else:
            code = _train_or_resume(
                resume_with,
                use_live=sys.stdout.isatty() and not plain,
                progress=progress_every(progress, detached),
            )
    raise typer.Exit(int(code))


def _study_parallel(study: StudyRecord, given: dict[str, Any]) -> Any:
    """The study's [parallel] as study.toml records it (its defaults where it records none or
    a damaged one), with the options given on top."""
    import pydantic

    from tui_trainer.config.schema import ParallelSection

    recorded = (study.study or {}).get("parallel")
    try:
        settings = ParallelSection.model_validate(recorded if isinstance(recorded, dict) else {})
    except pydantic.ValidationError:
        settings = ParallelSection()
    try:
        return ParallelSection.model_validate({**settings.model_dump(), **given})
    except pydantic.ValidationError as exc:
        raise UsageError(f"parallel options: {exc.errors()[0]['msg']}") from None


def _executor(
    parallel: Any, display: TrainingEvents, device_spec: str | None, data_dir: Path | None
) -> Executor:
    """The executor for a study with `parallel` settings (ParallelSection): workers when they
    ask for any, else this process (torch is imported here, and only here, for it)."""
    if parallel.uses_workers:
        from tui_trainer.parallel.workers import WorkerExecutor

        return WorkerExecutor(parallel, display.note, device_spec, data_dir)
    from tui_trainer.train.in_process import InProcessExecutor

    return InProcessExecutor(device_spec)


def progress_every(seconds: float, detached: bool) -> float | None:
    """The plain display's progress interval: none for 0, and none for the app's trainer, whose
    stdout is trainer.log (the monitor shows the steps itself; the log keeps one line an
    epoch)."""
    return None if detached or seconds <= 0 else seconds


def _train(
    loaded: LoadedStudy,
    runs_dir: Path,
    use_live: bool,
    into: Path | None = None,
    progress: float | None = None,
) -> ExitCode:
    from tui_trainer.console.plain import with_study_log
    from tui_trainer.study.lifecycle import start_study

    def start(display: Any) -> StudyResult:
        executor = _executor(loaded.preset.parallel, display, None, None)
        return start_study(loaded, runs_dir, executor, with_study_log(display), into=into)

    if loaded.preset.parallel.uses_workers:  # a study's trainer that never imports torch
        return _train_or_resume(start, use_live=False)
    return _train_or_resume(start, use_live, progress)


def _train_or_resume(
    start: Callable[[Any], StudyResult], use_live: bool, progress: float | None = None
) -> ExitCode:
    """Run `start(display)` with a live display on a terminal, plain lines otherwise (with a
    progress line every `progress` seconds within an epoch)."""
    from tui_trainer.console.plain import PlainLog

    if use_live:
        from rich.console import Console

        from tui_trainer.console.live import LiveDisplay

        display = LiveDisplay(Console())
    else:
        display = PlainLog([sys.stdout], to_study_log=False, progress_every=progress)
    try:
        result = start(display)
    finally:
        display.close()
    typer.echo(f"study directory: {result.study_dir}")
    return result.exit_code


def _ignore_hangups() -> None:
    """A detached trainer outlives the terminal it was started from."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def worker_run(
    run_dir: Annotated[Path, typer.Argument(help="The run directory to train.")],
    device: Annotated[str | None, typer.Option("--device")] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1)] = None,
    attempt: Annotated[int, typer.Option("--attempt", min=1)] = 1,
    parent: Annotated[int | None, typer.Option("--parent")] = None,
    gpu_share: Annotated[int | None, typer.Option("--gpu-share", min=1)] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
) -> None:
    """Train one run directory: start it, resume it, or do nothing if it is completed.

    What a parallel study's driver starts for each run. Exit codes as for `run`."""
    from tui_trainer.console.plain import PlainLog
    from tui_trainer.train.worker import WorkerOptions, run_worker

    with reported_errors():
        options = WorkerOptions(device, threads, attempt, parent, gpu_share, data_dir)
        code = run_worker(run_dir, options, PlainLog([sys.stdout], to_study_log=False))
    raise typer.Exit(int(code))


def worker_check(
    preset: Annotated[str | None, typer.Argument()] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", "-s")] = None,
    study_dir: Annotated[Path | None, typer.Option("--study")] = None,
    run_names: Annotated[list[str] | None, typer.Option("--run")] = None,
    device: Annotated[str | None, typer.Option("--device")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
) -> None:
    """Check a study before a parallel driver writes anything; print the devices as JSON.

    The checks are `run`'s or `resume`'s; the devices found come as one JSON line.
    """
    import json

    from tui_trainer.train import probe

    with reported_errors():
        if study_dir is not None:
            found = probe.check_resumed_study(study_dir, list(run_names or []), device, data_dir)
        elif preset is not None:
            from tui_trainer.config.load import load_preset
            from tui_trainer.config.presets import resolve_preset

            loaded = load_preset(resolve_preset(preset), list(overrides or []))
            found = probe.check_new_study(loaded, device)
        else:
            from tui_trainer.train.device import resolve_device

            found = probe.devices(resolve_device(device or "auto"))
        typer.echo(json.dumps(found))
