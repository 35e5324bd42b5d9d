"""The commands that look inside a run and its data: `predict` (a folder of images through a
run's model), `backfill` (what an older run lacks) and `data` (a study's dataset as its runs
see it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tui_trainer.cli.options import (
    CamLayerOption,
    DataDirOption,
    DeviceChoice,
    DeviceOption,
    PredictFormat,
    RunArgument,
    RunsDirOption,
    WeightsOption,
    tested_weights,
    toml_string,
)
from tui_trainer.cli.output import print_error, reported_errors, stdout_console, write_output
from tui_trainer.errors import UsageError
from tui_trainer.printable import printable
from tui_trainer.write_guard import OutputFile, check_writes, dataset_folders


def run_paths(runs_dir: Path, ident: str) -> Any:
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
    weights: WeightsOption = None,
    device: DeviceOption = DeviceChoice.auto,
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
        paths = run_paths(runs_dir, run_ident)
        from tui_trainer.config.run_file import run_config
        from tui_trainer.train.device import resolve_device
        from tui_trainer.train.predict import accuracy, predict_folder, to_csv, to_json
        from tui_trainer.train.run_model import load_run_model

        run = load_run_model(
            paths,
            run_config(paths.config),
            tested_weights(weights, paths.summary),
            resolve_device(device.value),
        )
        named = OutputFile("--output", output) if output is not None else None
        rows = predict_folder(run, folder, topk, print_error, cam, cam_layer, named)
        shown = min(topk, len(run.inputs.classes))
        text = to_csv(rows, shown) if format_ is PredictFormat.csv else to_json(rows)
        write_output(text, output)
        correct, counted = accuracy(rows)
        if counted:
            typer.echo(
                f"accuracy {correct / counted:.4f} ({correct} of {counted} images in a folder "
                "named after a class)",
                err=True,
            )


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
    weights: WeightsOption = None,
    device: DeviceOption = DeviceChoice.auto,
    cam_layer: CamLayerOption = None,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Write the files an older finished run lacks, from its checkpoint, config and dataset.

    Those are inputs.toml, predictions.csv and samples.png/csv; with --cam, samples_cam.png too.

    Progress on stdout as `<what> <done>/<total>` lines. Exit codes: 2 bad RUN; 3 no
    checkpoint, device or dataset.
    """
    with reported_errors():
        paths = run_paths(runs_dir, run_ident)
        from tui_trainer.train.backfill import backfill as write_missing
        from tui_trainer.train.backfill import print_progress
        from tui_trainer.train.device import resolve_device

        written = write_missing(
            paths,
            cam=cam,
            weights=tested_weights(weights, paths.summary),
            device=resolve_device(device.value),
            progress=print_progress,
            cam_layer=cam_layer,
        )
        if written:
            typer.echo("wrote " + ", ".join(p.name for p in written), err=True)
        else:
            typer.echo(nothing_to_backfill(cam, paths.samples_cam_image.exists()), err=True)


def nothing_to_backfill(cam: bool, has_cam_sheet: bool) -> str:
    """What `backfill` says of a run that lacks nothing: silence reads as a failure."""
    names = "inputs.toml, predictions.csv, samples.png, samples.csv"
    if cam:
        return f"nothing to do: the run has {names} and samples_cam.png"
    hint = "" if has_cam_sheet else " (--cam also draws samples_cam.png)"
    return f"nothing to do: the run has {names}{hint}"


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
            settings.append(f"data.data_dir={toml_string(str(data_dir))}")
        loaded = load_preset(resolve_preset(preset), settings)
        runs = loaded.runs
        if run_name is not None:
            runs = [run for run in loaded.runs if run.name == run_name]
            if not runs:
                names = ", ".join(run.name for run in loaded.runs)
                raise UsageError(f"--run {run_name}: the study has no such run (it has: {names})")
        if samples is not None:  # before the dataset is read: a refused sheet costs nothing
            folders = dataset_folders(run.config.data for run in runs)
            check_writes(folders, [OutputFile("--samples", samples)])
        from tui_trainer.console.data_summary import group_view
        from tui_trainer.train.data import DatasetCache
        from tui_trainer.train.data_summary import samples_for, summarize_runs

        cache = DatasetCache()
        console = stdout_console()
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
            typer.echo(f"wrote {printable(str(samples))} ({len(tiles)} training images)", err=True)
