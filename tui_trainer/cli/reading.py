"""The commands that read what is on disk: `runs`, `show`, `export` and `compare` of past
studies, and `presets`, `models` and `params` of what could be trained. None of them writes a
run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tui_trainer.cli.options import (
    ExportFormat,
    ExportFormatOption,
    PlotFormatOption,
    RunsDirOption,
    TableOutputOption,
    TitleOption,
    plot_formats,
)
from tui_trainer.cli.output import reported_errors, stdout_console
from tui_trainer.errors import SeveralStudies, UsageError

if TYPE_CHECKING:
    from tui_trainer.config.load import LoadedStudy
    from tui_trainer.store.reader import RunRecord, StudyRecord


def resolve_newest(runs_dir: Path, ident: str) -> tuple[StudyRecord, RunRecord | None]:
    """`resolve`, except that a name several studies match (`quickstart`, run three times) is
    the newest of them, said on stderr: reading never changes anything, so a guess that says
    what it guessed costs less than a refusal."""
    from tui_trainer.printable import printable
    from tui_trainer.store.reader import resolve

    try:
        return resolve(runs_dir, ident)
    except SeveralStudies as several:
        study_part, slash, run_part = ident.partition("/")
        newest, older = several.matches[0], len(several.matches) - 1
        typer.echo(
            printable(
                f"{study_part!r} matches {len(several.matches)} studies: showing the newest, "
                f"{newest} ({older} older: `tui-trainer runs` lists them)"
            ),
            err=True,
        )
        return resolve(runs_dir, f"{newest}{slash}{run_part}")


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
    from tui_trainer.store.reader import read_run_details

    with reported_errors():
        study, run_record = resolve_newest(runs_dir, ident)
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
    format_: ExportFormatOption = ExportFormat.md,
    output: TableOutputOption = None,
    plots: Annotated[
        Path | None,
        typer.Option(
            "--plots",
            metavar="DIR",
            help="Also write loss, accuracy, learning-rate (and gradient-norm) curves of every "
            "run, and the best run's test confusion matrix (confusion), into this directory "
            "(needs matplotlib).",
            show_default=False,
        ),
    ] = None,
    plot_format: PlotFormatOption = None,
    title: TitleOption = None,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Export a study's comparison table (one row per run), and optionally its figures."""
    from tui_trainer.cli.figures import check_figure_options, write_table_and_figures
    from tui_trainer.console.confusion_plot import confusion_names, write_confusion_plots
    from tui_trainer.console.export import curve_stems, write_plots
    from tui_trainer.console.figure_files import figure_names
    from tui_trainer.store.compare import comparison
    from tui_trainer.store.reader import read_run_details, resolve

    with reported_errors():
        check_figure_options(plots, plot_format, title)
        study, run_record = resolve(runs_dir, ident)
        if run_record is not None:
            raise UsageError("export takes a study, not one run: drop the /RUN part")
        table = comparison(study)
        runs = [read_run_details(run) for run in study.runs] if plots is not None else []
        formats = plot_formats(plot_format)
        names = figure_names(curve_stems(runs), formats) + confusion_names(runs, formats)
        heading = title if title is not None else study.name

        def draw() -> list[Path]:
            assert plots is not None
            written = write_plots(runs, plots, heading, formats)
            return written + write_confusion_plots(runs, study.best_run, plots, heading, formats)

        write_table_and_figures(table, format_, output, plots, names, draw)


def compare(
    studies: Annotated[
        list[str],
        typer.Argument(
            metavar="STUDY",
            help="Studies (an id, a unique part of one, 'latest' or a path), or STUDY/RUN for "
            "one run of a study.",
            show_default=False,
        ),
    ],
    format_: ExportFormatOption = ExportFormat.md,
    output: TableOutputOption = None,
    plots: Annotated[
        Path | None,
        typer.Option(
            "--plots",
            metavar="DIR",
            help="Also write loss, accuracy and learning-rate curves of every run, overlaid, "
            "into this directory (needs matplotlib).",
            show_default=False,
        ),
    ] = None,
    plot_format: PlotFormatOption = None,
    title: TitleOption = None,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Compare runs across studies: the app's compare table, and optionally its curves."""
    from dataclasses import replace

    from tui_trainer.cli.figures import check_figure_options, write_table_and_figures
    from tui_trainer.console.export import curve_stems, write_plots
    from tui_trainer.console.figure_files import figure_names
    from tui_trainer.store.compare import combined
    from tui_trainer.store.reader import read_run_details, resolve

    with reported_errors():
        check_figure_options(plots, plot_format, title)
        records = []
        for ident in studies:
            study, run_record = resolve(runs_dir, ident)
            records.append(study if run_record is None else replace(study, runs=[run_record]))
        named = [(study.id, run.name) for study in records for run in study.runs]
        twice = next((pair for pair in named if named.count(pair) > 1), None)
        if twice is not None:
            raise UsageError(f"compare: {twice[0]}/{twice[1]} is named twice; name it once")
        table = combined(records)
        runs = [read_run_details(run) for study in records for run in study.runs]
        labels = [f"{study.id}/{run.name}" for study in records for run in study.runs]
        formats = plot_formats(plot_format)
        names = figure_names(curve_stems(runs), formats) if plots is not None else []
        heading = title if title is not None else " vs ".join(s.name for s in records)

        def draw() -> list[Path]:
            assert plots is not None
            return write_plots(runs, plots, heading, formats, labels)

        write_table_and_figures(table, format_, output, plots, names, draw)


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
