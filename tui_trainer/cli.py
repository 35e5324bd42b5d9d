"""The `tui-trainer` command: parse, call, map errors to exit codes. Thin on purpose.

torch is imported only inside `run` (and `presets` never needs it), so `--help`, `runs`, `show`
and `presets` start fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.core
from rich.console import Console

from tui_trainer import __version__
from tui_trainer.errors import ExitCode, TuiTrainerError, UsageError

if TYPE_CHECKING:
    from tui_trainer.config.load import LoadedStudy
    from tui_trainer.store.reader import RunRecord, StudyRecord
    from tui_trainer.study_result import StudyResult

RUNS_DIR_ENV = "TUI_TRAINER_RUNS_DIR"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class _FlagsWithoutType(typer.core.TyperGroup):
    """typer's help shows a bool option's type (`--plain <bool>`, `--help <bool>`) as if the
    option took a value: every flag of every command, --help included, shows none."""

    # (click's types are typer's own copy in newer typers: Any, to hold for every version)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:  # the app's own options: --version
            _untyped(param)

    def get_help_option(self, ctx: Any) -> Any:
        return _untyped(super().get_help_option(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            for param in [*command.params, command.get_help_option(ctx)]:
                _untyped(param)
        return command


def _untyped(param: Any) -> Any:
    if getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""
    return param


app = typer.Typer(
    cls=_FlagsWithoutType,
    name="tui-trainer",
    help="A terminal experiment runner for PyTorch image-classification studies.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

RunsDirOption = Annotated[
    Path,
    typer.Option(
        "--runs-dir",
        envvar=RUNS_DIR_ENV,
        help="Directory that holds the studies.",
        show_default=True,
    ),
]


DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where the datasets are (or are downloaded to); sets data.data_dir. "
        "\\[default: $TUI_TRAINER_DATA, else ~/.cache/tui-trainer/data]",
        show_default=False,
    ),
]
DetachedOption = Annotated[
    bool,
    typer.Option(
        "--detached",
        hidden=True,
        help="Started detached by the app: a closed terminal or SSH link (SIGHUP) must not stop "
        "training.",
    ),
]


JobsOption = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        max=1024,
        help="Runs trained at once, each in a worker process of its own (sets parallel.jobs). "
        "\\[default: the preset's; 1: one after another in this process]",
        show_default=False,
        rich_help_panel="Parallel runs",
    ),
]
GpusOption = Annotated[
    str | None,
    typer.Option(
        "--gpus",
        metavar="0,1,...",
        help="The GPUs the runs may use, as CUDA numbers them; each run gets one (sets "
        "parallel.gpus). \\[default: every visible GPU]",
        show_default=False,
        rich_help_panel="Parallel runs",
    ),
]
RunsPerGpuOption = Annotated[
    int | None,
    typer.Option(
        "--runs-per-gpu",
        min=1,
        max=64,
        help="Runs that share one GPU (sets parallel.runs_per_gpu). \\[default: 1]",
        show_default=False,
        rich_help_panel="Parallel runs",
    ),
]
RetriesOption = Annotated[
    int | None,
    typer.Option(
        "--retries",
        min=0,
        max=100,
        help="Resumes of a run whose worker was killed, before it is left crashed (sets "
        "parallel.retries). \\[default: 2]",
        show_default=False,
        rich_help_panel="Parallel runs",
    ),
]
ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        metavar="ADDRESS",
        help="Run each run as a task on a Ray cluster: 'auto' ($RAY_ADDRESS, else the head "
        "on this machine) or host:port. Needs shared storage and the cluster extra "
        "(pip install 'tui-trainer\\[cluster]').",
        show_default=False,
        rich_help_panel="Parallel runs",
    ),
]


def _parallel_settings(
    jobs: int | None,
    gpus: str | None,
    runs_per_gpu: int | None,
    retries: int | None,
    cluster: str | None,
) -> dict[str, Any]:
    """The [parallel] keys the options set."""
    settings: dict[str, Any] = {}
    if jobs is not None:
        settings["jobs"] = jobs
    if gpus is not None:
        try:
            settings["gpus"] = [int(part) for part in gpus.split(",") if part.strip()]
        except ValueError:
            raise UsageError(
                f"--gpus {gpus}: a comma-separated list of GPU numbers, e.g. --gpus 0,1"
            ) from None
    if runs_per_gpu is not None:
        settings["runs_per_gpu"] = runs_per_gpu
    if retries is not None:
        settings["retries"] = retries
    if cluster is not None:
        settings["cluster"] = cluster
    return settings


def _ignore_hangups() -> None:
    """A detached trainer outlives the terminal it was started from."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _stdout_console() -> Console:
    # Piped output (a file, `less`, CI) gets wide lines so that tables are not cut. No markup:
    # what is printed includes text read from files, which must never be parsed as markup.
    return Console(width=None if sys.stdout.isatty() else 200, soft_wrap=False, markup=False)


def _print_error(line: str) -> None:
    """One line on stderr. Made printable: an error may quote what a file holds (a key of a
    hostile preset, a path in a study), and nothing from a file reaches the terminal raw."""
    from tui_trainer.printable import printable

    prefix = (
        typer.style("error:", fg=typer.colors.RED, bold=True) if sys.stderr.isatty() else "error:"
    )
    typer.echo(f"{prefix} {printable(line)}", err=True)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Print a user error as one line per problem on stderr and exit with its code."""
    try:
        yield
    except TuiTrainerError as error:
        for line in error.lines():
            _print_error(line)
        raise typer.Exit(int(error.exit_code)) from None
    except KeyboardInterrupt:
        _print_error("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except OSError as error:  # the last net: a file system error is a line, not a traceback
        where = f"{error.filename}: " if error.filename else ""
        _print_error(f"{where}{error.strerror or error}")
        raise typer.Exit(int(ExitCode.UNAVAILABLE)) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tui-trainer {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    runs_dir: RunsDirOption = Path("runs"),
    preset: Annotated[
        list[Path] | None,
        typer.Option(
            "--preset",
            help="A preset file to list in the app too (repeatable).",
            show_default=False,
        ),
    ] = None,
    bell: Annotated[
        bool,
        typer.Option(
            "--bell",
            help="Ring the terminal bell when a study watched in the monitor finishes or "
            "crashes (b in the monitor switches it too).",
        ),
    ] = False,
) -> None:
    """A terminal experiment runner for PyTorch image-classification studies.

    Without a command: open the app (pick a preset, launch, watch, browse past studies).
    """
    if ctx.invoked_subcommand is not None:
        return
    if not sys.stdout.isatty():
        typer.echo(ctx.get_help())
        typer.echo("\n(the app needs a terminal; `tui-trainer run quickstart` trains headless)")
        raise typer.Exit(int(ExitCode.USAGE))
    from tui_trainer.ui.app import create_app
    from tui_trainer.ui.screens.monitor import MonitorScreen

    MonitorScreen.bell_on_end = bell
    app_ = create_app(runs_dir, list(preset or []))
    app_.run()
    if app_.return_code:  # the app crashed (Textual printed why): say so in the exit code
        raise typer.Exit(app_.return_code)


@app.command()
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
        Device | None,
        typer.Option(
            "--device",
            help="Where to train; sets train.device. \\[default: the preset's, normally auto]",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    plain: Annotated[
        bool, typer.Option("--plain", help="Plain log lines even on a terminal.")
    ] = False,
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
            settings.append(f"data.data_dir={_toml_string(str(data_dir))}")
        parallel = _parallel_settings(jobs, gpus, runs_per_gpu, retries, cluster)
        for key, value in parallel.items():
            settings.append(f"parallel.{key}={_toml_value(value)}")
        loaded = load_preset(resolve_preset(preset), settings)
        if detached:
            _ignore_hangups()
        code = _train(loaded, runs_dir, use_live=sys.stdout.isatty() and not plain, into=into)
    raise typer.Exit(int(code))


@app.command()
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
        Device | None,
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
    plain: Annotated[
        bool, typer.Option("--plain", help="Plain log lines even on a terminal.")
    ] = False,
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
        given = _parallel_settings(jobs, gpus, runs_per_gpu, retries, cluster)
        parallel = _study_parallel(study, given)
        if detached:
            _ignore_hangups()
        if parallel.uses_workers:
            from tui_trainer.parallel.driver import resume_parallel

            name = run_record.name if run_record is not None else None
            device_spec = device.value if device else None
            code = _train_or_resume(
                lambda display: resume_parallel(
                    study, name, parallel, display, device_spec=device_spec, data_dir=data_dir
                ),
                use_live=False,
            )
        else:
            code = _train_or_resume(
                lambda display: _resume(study, run_record, display, device, data_dir),
                use_live=sys.stdout.isatty() and not plain,
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


def _resume(
    study: StudyRecord,
    run_record: RunRecord | None,
    display: Any,
    device: Device | None,
    data_dir: Path | None,
) -> StudyResult:
    from tui_trainer.train.study import resume_study

    name = run_record.name if run_record is not None else None
    return resume_study(study, name, display, device.value if device else None, data_dir=data_dir)


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _train(
    loaded: LoadedStudy, runs_dir: Path, use_live: bool, into: Path | None = None
) -> ExitCode:
    if loaded.preset.parallel.uses_workers:  # a driver: no torch in this process
        from tui_trainer.parallel.driver import run_parallel

        return _train_or_resume(
            lambda display: run_parallel(loaded, runs_dir, display, into=into), use_live=False
        )
    from tui_trainer.train.study import run_study

    return _train_or_resume(
        lambda display: run_study(loaded, runs_dir, display, into=into), use_live
    )


def _train_or_resume(start: Callable[[Any], StudyResult], use_live: bool) -> ExitCode:
    """Run `start(display)` with a live display on a terminal, plain lines otherwise."""
    from tui_trainer.console.plain import PlainLog

    if use_live:
        from tui_trainer.console.live import LiveDisplay

        display = LiveDisplay(Console())
    else:
        display = PlainLog([sys.stdout], to_study_log=False)
    try:
        result = start(display)
    finally:
        display.close()
    typer.echo(f"study directory: {result.study_dir}")
    return result.exit_code


@app.command()
def runs(runs_dir: RunsDirOption = Path("runs")) -> None:
    """List the studies under the runs directory, newest first, with their runs."""
    from tui_trainer.console.tables import studies_table
    from tui_trainer.store.reader import list_studies

    with reported_errors():
        studies = list_studies(runs_dir)
        if not studies:
            typer.echo(f"no studies under {runs_dir}/ yet (start one with `tui-trainer run`)")
            return
        _stdout_console().print(studies_table(studies))


@app.command()
def show(
    ident: Annotated[
        str,
        typer.Argument(
            metavar="ID",
            help="A study id (or a unique part of one, or 'latest'), STUDY/RUN for one run, "
            "or a path to a study or run directory.",
            show_default=False,
        ),
    ],
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Show a study (one row per run) or a run (config, summary, per-epoch table)."""
    from tui_trainer.console.tables import run_view, study_view
    from tui_trainer.store.reader import read_run_details, resolve

    with reported_errors():
        study, run_record = resolve(runs_dir, ident)
        console = _stdout_console()
        if run_record is None:
            console.print(study_view(study))
        else:
            console.print(run_view(study, read_run_details(run_record)))


class ExportFormat(str, Enum):
    md = "md"
    csv = "csv"


@app.command()
def export(
    ident: Annotated[
        str,
        typer.Argument(
            metavar="STUDY",
            help="A study id, unique part of one, 'latest' or a path.",
            show_default=False,
        ),
    ],
    format_: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="Markdown or CSV.")
    ] = ExportFormat.md,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the table here instead of stdout.", show_default=False
        ),
    ] = None,
    plots: Annotated[
        Path | None,
        typer.Option(
            "--plots",
            help="Also write loss, accuracy, learning-rate (and gradient-norm) curves of every "
            "run, and the best run's test confusion matrix (confusion.png), as PNG into this "
            "directory (needs matplotlib).",
            show_default=False,
        ),
    ] = None,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Export a study's comparison table (one row per run), and optionally its curves."""
    from tui_trainer.console.confusion_plot import write_confusion_plots
    from tui_trainer.console.export import to_csv, to_markdown, write_plots
    from tui_trainer.store.compare import comparison
    from tui_trainer.store.reader import read_run_details, resolve

    with reported_errors():
        study, run_record = resolve(runs_dir, ident)
        if run_record is not None:
            raise UsageError("export takes a study, not one run: drop the /RUN part")
        table = comparison(study)
        text = to_markdown(table) if format_ is ExportFormat.md else to_csv(table)
        if output is None:
            typer.echo(text, nl=False)
        else:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write {output}: {exc.strerror}") from None
            typer.echo(f"wrote {output}", err=True)
        if plots is not None:
            runs = [read_run_details(run) for run in study.runs]
            try:
                written = write_plots(runs, plots, study.id)
                written += write_confusion_plots(runs, study.best_run, plots, study.id)
            except OSError as exc:
                raise UsageError(f"cannot write plots into {plots}: {exc.strerror}") from None
            typer.echo("wrote " + ", ".join(str(p) for p in written), err=True)


class PredictFormat(str, Enum):
    csv = "csv"
    json = "json"


class Weights(str, Enum):
    last = "last"
    best = "best"


RunArgument = Annotated[
    str,
    typer.Argument(
        metavar="RUN",
        help="A run: STUDY/RUN (STUDY an id, a unique part of one or 'latest'), a path to a run "
        "directory, or a study of one run.",
        show_default=False,
    ),
]
WeightsOption = Annotated[
    Weights,
    typer.Option(
        "--weights",
        help="The checkpoint: last (the weights the run was tested with) or best (validation).",
    ),
]
DeviceOption = Annotated[Device, typer.Option("--device", help="Where to compute.")]
CamLayerOption = Annotated[
    str | None,
    typer.Option(
        "--cam-layer",
        metavar="NAME",
        help="The layer of the activation maps, as model.named_modules() names it (layers.10, "
        "features.13). \\[default: the deepest block whose map is at least 4x4]",
        show_default=False,
    ),
]


def _run_paths(runs_dir: Path, ident: str) -> Any:
    """The RunPaths of the run `ident` names, as `show` resolves it; a study of one run is
    that run."""
    from tui_trainer.store.reader import resolve

    study, run_record = resolve(runs_dir, ident)
    if run_record is None:
        if len(study.runs) != 1:
            names = ", ".join(run.name for run in study.runs[:5]) or "none"
            problem = f"{ident}: name one run of the study, as STUDY/RUN (its runs: {names})"
            raise UsageError(problem)
        run_record = study.runs[0]
    return run_record.paths


@app.command()
def predict(
    run_ident: RunArgument,
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="FOLDER",
            help="Images to classify (searched recursively; a parent folder named after a class "
            "gives the true class).",
            show_default=False,
        ),
    ],
    topk: Annotated[int, typer.Option("--topk", min=1, help="Classes per image.")] = 5,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here instead of stdout.", show_default=False),
    ] = None,
    format_: Annotated[
        PredictFormat, typer.Option("--format", "-f", help="CSV or JSON.")
    ] = PredictFormat.csv,
    weights: WeightsOption = Weights.last,
    device: DeviceOption = Device.auto,
    cam: Annotated[
        Path | None,
        typer.Option(
            "--cam",
            metavar="DIR",
            help="Also write, per image, the image beside its class activation map (Grad-CAM of "
            "the predicted class) as DIR/<its path under FOLDER>.png.",
            show_default=False,
        ),
    ] = None,
    cam_layer: CamLayerOption = None,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Classify every image under FOLDER with a run's model and its own preprocessing.

    One row per image: path, true class (when its folder names one), the top classes with their
    probabilities, and the error of an image that cannot be read. The accuracy over the images
    whose folder names a class goes to stderr. Exit codes: 2 bad RUN or FOLDER, or no images;
    3 no checkpoint or device.
    """
    with reported_errors():
        paths = _run_paths(runs_dir, run_ident)
        from tui_trainer.train.device import resolve_device
        from tui_trainer.train.predict import accuracy, predict_folder, to_csv, to_json
        from tui_trainer.train.run_model import load_run_model
        from tui_trainer.train.study import run_config

        run = load_run_model(
            paths, run_config(paths.config), weights.value, resolve_device(device.value)
        )
        rows = predict_folder(run, folder, topk, _print_error, cam, cam_layer)
        shown = min(topk, len(run.inputs.classes))
        text = to_csv(rows, shown) if format_ is PredictFormat.csv else to_json(rows)
        if output is None:
            typer.echo(text, nl=False)
        else:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"--output {output}: cannot write it: {exc.strerror}") from None
        correct, counted = accuracy(rows)
        if counted:
            typer.echo(
                f"accuracy {correct / counted:.4f} ({correct} of {counted} images in a folder "
                "named after a class)",
                err=True,
            )


@app.command()
def backfill(
    run_ident: RunArgument,
    cam: Annotated[
        bool,
        typer.Option(
            "--cam",
            help="Also write samples_cam.png, the sample sheet's activation maps (needs only "
            "the run's files and checkpoint).",
        ),
    ] = False,
    weights: WeightsOption = Weights.last,
    device: DeviceOption = Device.auto,
    cam_layer: CamLayerOption = None,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Write the files an older finished run lacks, from its checkpoint, config and dataset.

    Those are inputs.toml, predictions.csv and samples.png/csv; with --cam, samples_cam.png too.

    Progress on stdout as `<what> <done>/<total>` lines. Exit codes: 2 bad RUN; 3 no
    checkpoint, device or dataset.
    """
    with reported_errors():
        paths = _run_paths(runs_dir, run_ident)
        from tui_trainer.train.backfill import backfill as write_missing
        from tui_trainer.train.backfill import print_progress
        from tui_trainer.train.device import resolve_device

        written = write_missing(
            paths,
            cam=cam,
            weights=weights.value,
            device=resolve_device(device.value),
            progress=print_progress,
            cam_layer=cam_layer,
        )
        if written:
            typer.echo("wrote " + ", ".join(p.name for p in written), err=True)


@app.command("worker-run", hidden=True)
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


@app.command("worker-check", hidden=True)
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


@app.command()
def models() -> None:
    """The architectures, their native input size and parameter counts (10 and 100 classes)."""
    from tui_trainer.config.schema import ARCHITECTURES, PRETRAINABLE, ModelSection
    from tui_trainer.console.catalog import ModelRow, models_table
    from tui_trainer.train.models import NATIVE_INPUT, build_model, count_parameters, weights_path

    rows = []
    for arch in ARCHITECTURES:
        ten, hundred = (
            count_parameters(build_model(ModelSection(arch=arch), n))[0] for n in (10, 100)
        )
        weights = None
        if arch in PRETRAINABLE:
            path = weights_path(arch)
            weights = (path.name, path.is_file())
        rows.append(ModelRow(arch, NATIVE_INPUT[arch], ten, hundred, weights))
    _stdout_console().print(models_table(rows))


@app.command()
def params(
    preset: Annotated[
        str, typer.Argument(help="A preset file or built-in name.", show_default=False)
    ],
    overrides: Annotated[
        list[str] | None, typer.Option("--set", "-s", metavar="KEY=VALUE", help="Override a value.")
    ] = None,
) -> None:
    """Total and trainable parameter counts of each run's model, as JSON.

    The app's editor calls it, so that the app itself never imports torch.
    """
    import json

    from tui_trainer.config.load import load_preset
    from tui_trainer.config.presets import resolve_preset

    with reported_errors():
        loaded = load_preset(resolve_preset(preset), list(overrides or []))
        from tui_trainer.train.data import class_count
        from tui_trainer.train.models import build_model, count_parameters, set_trainable

        counts = {}
        for run in loaded.runs:
            cfg = run.config
            classes = class_count(cfg.data)
            model = build_model(cfg.model.model_copy(update={"pretrained": False}), classes)
            set_trainable(model, cfg.model, head_only=False)
            total, trainable = count_parameters(model)
            counts[run.name] = {"total": total, "trainable": trainable, "classes": classes}
        typer.echo(json.dumps(counts))


@app.command()
def data(
    preset: Annotated[
        str,
        typer.Argument(
            help="A preset TOML file, or the name of a built-in preset or of one of yours.",
            show_default=False,
        ),
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", "-s", metavar="KEY=VALUE", help="Override a config value (repeatable)."
        ),
    ] = None,
    data_dir: DataDirOption = None,
    run_name: Annotated[
        str | None,
        typer.Option(
            "--run",
            metavar="NAME",
            help="Only this run of the study (its name as `run` gives it, e.g. lr=0.05).",
            show_default=False,
        ),
    ] = None,
    classes: Annotated[
        bool, typer.Option("--classes", help="Also print every class's count and share per split.")
    ] = False,
    samples: Annotated[
        Path | None,
        typer.Option(
            "--samples",
            metavar="FILE",
            help="Write a PNG sheet of the run's first augmented training images (mixed, "
            "when the run uses mixup).",
            show_default=False,
        ),
    ] = None,
    count: Annotated[
        int, typer.Option("--count", min=1, max=256, help="Images on the --samples sheet.")
    ] = 32,
) -> None:
    """Summarize a study's dataset as its runs train on it.

    Each split's size and class shares, the training split's per-channel mean/std and the
    normalization used, the augmentation; with --samples, a sheet of augmented training images.
    Exit codes: 2 bad preset or option, 3 the dataset is absent and cannot be downloaded.
    """
    from tui_trainer.config.load import load_preset
    from tui_trainer.config.presets import resolve_preset

    with reported_errors():
        settings = list(overrides or [])
        if data_dir is not None:
            settings.append(f"data.data_dir={_toml_string(str(data_dir))}")
        loaded = load_preset(resolve_preset(preset), settings)
        runs = loaded.runs
        if run_name is not None:
            runs = [run for run in loaded.runs if run.name == run_name]
            if not runs:
                names = ", ".join(run.name for run in loaded.runs)
                raise UsageError(f"--run {run_name}: the study has no such run (it has: {names})")
        from tui_trainer.console.data_summary import group_view
        from tui_trainer.train.data import DatasetCache
        from tui_trainer.train.data_summary import samples_for, summarize_runs

        cache = DatasetCache()
        console = _stdout_console()
        for index, group in enumerate(summarize_runs(runs, cache)):
            if index:
                console.print()
            console.print(group_view(group, len(loaded.runs), classes))
        if samples is not None:
            from tui_trainer.console.sample_sheet import write_sample_sheet

            tiles = samples_for(runs, count, cache)
            try:
                write_sample_sheet(samples, tiles)
            except OSError as exc:
                raise UsageError(f"cannot write {samples}: {exc.strerror or exc}") from None
            typer.echo(f"wrote {samples} ({len(tiles)} training images)", err=True)


@app.command()
def presets() -> None:
    """List the built-in presets and your own, with their run counts.

    Your own are those the app's editor saved into ~/.config/tui-trainer/presets;
    `tui-trainer run NAME` runs one.
    """
    from tui_trainer.config.load import load_preset
    from tui_trainer.config.presets import builtin_presets, user_presets, user_presets_dir
    from tui_trainer.console.catalog import presets_table
    from tui_trainer.errors import ConfigError

    entries: list[tuple[Path, LoadedStudy | ConfigError]] = []
    for path in [*builtin_presets(), *user_presets()]:
        try:
            entries.append((path, load_preset(path)))
        except ConfigError as error:
            entries.append((path, error))
    table = presets_table(entries, builtin=set(builtin_presets()), user_dir=user_presets_dir())
    _stdout_console().print(table)


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":
    main()
