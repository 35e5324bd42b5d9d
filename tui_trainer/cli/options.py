"""The options and arguments the commands share, and the small conversions behind them.

An option that means one thing means it in every command that takes it: `--runs-dir` (with its
environment variable), `--data-dir`, `--device`, a RUN argument, the parallel options of `run`
and `resume`. Imports nothing heavy: every command, `--help` included, loads this module.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from tui_trainer.cli.plain_params import plain
from tui_trainer.errors import UsageError

RUNS_DIR_ENV = "TUI_TRAINER_RUNS_DIR"


class DeviceChoice(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class FlagsWithoutType(typer.core.TyperGroup):
    """typer's help shows a bool option's type (`--plain <bool>`, `--help <bool>`) as if the
    option took a value: every flag of every command, --help included, shows none."""

    # (click's types are typer's own copy in newer typers: Any, to hold for every version)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:  # the app's own options: --version, --runs-dir
            plain(_untyped(param))

    def get_help_option(self, ctx: Any) -> Any:
        return plain(_untyped(super().get_help_option(ctx)))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            for param in [*command.params, command.get_help_option(ctx)]:
                plain(_untyped(param))
        return command


def _untyped(param: Any) -> Any:
    if getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""
    return param


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


PlainOption = Annotated[bool, typer.Option("--plain", help="Plain log lines even on a terminal.")]
PROGRESS_EVERY_S = 10.0
ProgressOption = Annotated[
    float,
    typer.Option(
        "--progress",
        metavar="SECONDS",
        min=0,
        help="With plain lines: one progress line every SECONDS within an epoch (step, loss, "
        "img/s, ETA); 0 for none.",
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


def parallel_settings(
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


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


class ExportFormat(str, Enum):
    md = "md"
    csv = "csv"


class PlotFormat(str, Enum):
    png = "png"
    pdf = "pdf"
    svg = "svg"


PlotFormatOption = Annotated[
    list[PlotFormat] | None,
    typer.Option(
        "--plot-format",
        metavar="png|pdf|svg",
        help="The figures' format; repeat it for several (--plot-format pdf --plot-format "
        "svg). \\[default: png]",
        show_default=False,
    ),
]
TitleOption = Annotated[
    str | None,
    typer.Option(
        "--title",
        help="The figures' title, before what each shows. \\[default: the study's name; "
        "compare: the studies' names joined by 'vs']",
        show_default=False,
    ),
]
TableOutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write the table here instead of stdout.", show_default=False
    ),
]
ExportFormatOption = Annotated[
    ExportFormat, typer.Option("--format", "-f", help="Markdown or CSV.")
]


def plot_formats(chosen: list[PlotFormat] | None) -> list[str]:
    """The formats --plot-format names, each once, in the order given; png when none is."""
    return list(dict.fromkeys(form.value for form in chosen or [PlotFormat.png]))


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
    Weights | None,
    typer.Option(
        "--weights",
        help="The checkpoint: last or best (validation). \\[default: the one the run was "
        "tested with (its train.test_weights), last for a run that does not say]",
        show_default=False,
    ),
]


def tested_weights(weights: Weights | None, summary: Path) -> str:
    """`weights` when given; else the checkpoint the run's test figures came from, as its
    summary.toml records it (test_weights), so that predict and backfill agree with them; last
    for a run whose summary does not say (older runs were all tested with last)."""
    if weights is not None:
        return weights.value
    from tui_trainer.store.schema import read_summary

    recorded = read_summary(summary)
    tested = recorded.test_weights if recorded is not None else None
    return tested if tested in (Weights.last.value, Weights.best.value) else Weights.last.value


DeviceOption = Annotated[DeviceChoice, typer.Option("--device", help="Where to compute.")]
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
