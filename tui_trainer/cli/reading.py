"""The commands that read what is on disk: `runs`, `show`, `export` of past studies, and
`presets`, `models` and `params` of what could be trained. None of them writes a run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tui_trainer.cli.options import ExportFormat, RunsDirOption
from tui_trainer.cli.output import reported_errors, stdout_console, write_output
from tui_trainer.errors import UsageError

if TYPE_CHECKING:
    from tui_trainer.config.load import LoadedStudy


def runs(runs_dir: RunsDirOption = Path("runs")) -> None:
    """List the studies under the runs directory, newest first, with their runs."""
    from tui_trainer.store.reader import list_studies

    with reported_errors():
        studies = list_studies(runs_dir)
        if not studies:
            typer.echo(f"no studies under {runs_dir}/ yet (start one with `tui-trainer run`)")
            return
        from tui_trainer.console.grid import print_grid
        from tui_trainer.console.tables import STUDIES_COLUMNS, studies_rows

        print_grid(stdout_console(), STUDIES_COLUMNS, studies_rows(studies))


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
        console = stdout_console()
        if run_record is None:
            console.print(study_view(study))
        else:
            console.print(run_view(study, read_run_details(run_record)))


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
    from tui_trainer.console.export import plot_names, pyplot, to_csv, to_markdown, write_plots
    from tui_trainer.printable import printable
    from tui_trainer.store.compare import comparison
    from tui_trainer.store.reader import read_run_details, resolve
    from tui_trainer.write_guard import OutputFile, OutputFolder, check_writes, claim

    with reported_errors():
        study, run_record = resolve(runs_dir, ident)
        if run_record is not None:
            raise UsageError("export takes a study, not one run: drop the /RUN part")
        table = comparison(study)
        text = to_markdown(table) if format_ is ExportFormat.md else to_csv(table)
        runs = [read_run_details(run) for run in study.runs] if plots is not None else []
        check_writes(
            [],
            [OutputFile("--output", output)] if output is not None else [],
            [OutputFolder("--plots", plots, plot_names(runs))] if plots is not None else [],
        )
        if plots is not None:
            pyplot()  # a missing matplotlib is said before anything is written
        write_output(text, output)
        if plots is not None:
            try:
                claim(plots, plot_names(runs))
                written = write_plots(runs, plots, study.id)
                written += write_confusion_plots(runs, study.best_run, plots, study.id)
            except OSError as exc:
                raise UsageError(f"cannot write plots into {plots}: {exc.strerror}") from None
            typer.echo("wrote " + ", ".join(printable(str(p)) for p in written), err=True)


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
    stdout_console().print(models_table(rows))


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
    stdout_console().print(table)
