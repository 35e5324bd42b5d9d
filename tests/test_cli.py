"""The CLI through typer's CliRunner: run, runs, show, presets, errors and exit codes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tests.helpers import TINY_PRESET
from tui_trainer import __version__
from tui_trainer.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    """A real two-run study, trained once for the tests of this module."""
    root = tmp_path_factory.mktemp("cli")
    preset = root / "sweep.toml"
    preset.write_text(
        TINY_PRESET.replace("epochs = 2", "epochs = 1") + '\n[sweep]\n"optim.lr" = [0.05, 0.1]\n'
    )
    runs_dir = root / "runs"
    result = runner.invoke(app, ["run", str(preset), "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    (study_dir,) = runs_dir.iterdir()
    return runs_dir, study_dir, result.output


def test_run_prints_plain_lines_without_a_terminal(finished_study):
    _, study_dir, output = finished_study
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d lr=0.05 epoch 1/1  train_loss \d", output, re.M
    )
    assert "lr=0.1 completed: test_loss" in output
    assert f"study directory: {study_dir}" in output


def test_runs_lists_studies_and_their_runs(finished_study):
    runs_dir, study_dir, _ = finished_study
    result = runner.invoke(app, ["runs", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    study_line = next(line for line in lines if study_dir.name in line)
    assert "completed" in study_line and "2/2 runs" in study_line
    assert any(
        line.strip().startswith("lr=0.05") and "completed" in line and "1/1" in line
        for line in lines
    )


def test_show_study_prints_one_row_per_run(finished_study):
    runs_dir, study_dir, _ = finished_study
    result = runner.invoke(app, ["show", "latest", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    assert study_dir.name in result.output and "optim.lr" in result.output
    rows = [line for line in result.output.splitlines() if line.startswith("lr=")]
    assert len(rows) == 2 and all("completed" in row for row in rows)


def test_show_run_prints_config_summary_and_epochs(finished_study):
    runs_dir, study_dir, _ = finished_study
    result = runner.invoke(app, ["show", f"{study_dir.name}/lr=0.1", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    assert "lr = 0.1" in result.output  # the config
    assert "test_acc" in result.output  # the summary
    assert re.search(r"^\s*epoch\s+train_loss\s+train_acc", result.output, re.M)  # the epoch table


def test_show_unknown_id_exits_2(finished_study):
    runs_dir, _, _ = finished_study
    result = runner.invoke(app, ["show", "nothing-like-this", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2
    assert "no study matches 'nothing-like-this'" in result.output


def test_show_of_a_name_several_studies_match_shows_the_newest_and_says_so(
    finished_study, tmp_path
):
    _, study_dir, _ = finished_study
    runs_dir = tmp_path / "runs"
    for day in ("20260101", "20260102"):
        shutil.copytree(study_dir, runs_dir / f"{day}-000000-tiny")
    result = runner.invoke(app, ["show", "tiny", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "'tiny' matches 2 studies: showing the newest, 20260102-000000-tiny "
        "(1 older: `tui-trainer runs` lists them)\n"
    )
    assert "20260102-000000-tiny" in result.stdout and "20260101" not in result.stdout


def test_show_of_a_misspelt_name_suggests_the_closest_study(finished_study):
    runs_dir, _, _ = finished_study
    result = runner.invoke(app, ["show", "tiyn", "--runs-dir", str(runs_dir)])
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: no study matches 'tiyn' under {runs_dir}/ (did you mean 'tiny'?)\n",
    )


def test_a_misspelt_preset_name_is_answered_with_the_closest_preset(runs_dir, own_config_home):
    result = runner.invoke(app, ["run", "quikstart", "--runs-dir", str(runs_dir)])
    assert (result.exit_code, result.stderr) == (
        2,
        "error: quikstart: no such preset file or preset name (did you mean 'quickstart'?)\n",
    )
    assert not runs_dir.exists()


def test_runs_on_an_empty_directory(tmp_path):
    result = runner.invoke(app, ["runs", "--runs-dir", str(tmp_path / "none")])
    assert result.exit_code == 0
    assert "no studies" in result.output


def test_cuda_on_a_machine_without_it_exits_3_and_creates_nothing(
    write_preset, runs_dir, monkeypatch
):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = runner.invoke(
        app, ["run", str(write_preset()), "--device", "cuda", "--runs-dir", str(runs_dir)]
    )
    assert result.exit_code == 3
    assert "--device cuda: CUDA is not available" in result.output
    assert not runs_dir.exists()


def test_presets_lists_the_quickstart():
    result = runner.invoke(app, ["presets"])
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if line.startswith("quickstart"))
    assert re.search(r"quickstart\s+1\s+\d+", line)


def test_builtin_preset_by_name_and_unknown_name(runs_dir, own_config_home):
    (own_config_home / "tui-trainer" / "presets").mkdir(parents=True)
    (own_config_home / "tui-trainer" / "presets" / "mine.toml").write_text(TINY_PRESET)
    result = runner.invoke(app, ["run", "no-such-preset", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2
    output = " ".join(result.output.split())  # unwrapped
    assert "no such preset file or preset name (built-in: quickstart, r000-" in output
    assert f"yours in {own_config_home / 'tui-trainer' / 'presets'}: mine)" in output


def test_the_users_saved_presets_are_listed_and_run_by_name(runs_dir, own_config_home, monkeypatch):
    """A preset the editor saved (~/.config/tui-trainer/presets/quickstart-edited.toml): listed
    by `presets`, run by its name (the training itself left out: a study is named after the
    preset it is given, as the other tests of `run` show)."""
    from tui_trainer.errors import ExitCode

    trained = []
    monkeypatch.setattr(
        "tui_trainer.cli.training._train",
        lambda loaded, *args, **kwargs: trained.append(loaded) or ExitCode.OK,
    )
    folder = own_config_home / "tui-trainer" / "presets"
    folder.mkdir(parents=True)
    edited = TINY_PRESET.replace('name = "tiny"', 'name = "quickstart-edited"')
    (folder / "quickstart-edited.toml").write_text(edited.replace("epochs = 2", "epochs = 1"))
    listed = runner.invoke(app, ["presets"])
    line = next(line for line in listed.output.splitlines() if "quickstart-edited" in line)
    assert re.match(r"quickstart-edited\s+1\s+1\s+yours\s+tiny test study", line)
    assert listed.output.splitlines()[-1].rstrip() == f"yours: in {folder}"
    assert re.match(r"quickstart\s+1\s+\d+\s+built-in", listed.output.splitlines()[1])
    result = runner.invoke(app, ["run", "quickstart-edited", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    (loaded,) = trained
    assert loaded.source == folder / "quickstart-edited.toml"
    assert loaded.preset.study.name == "quickstart-edited"


def test_version_and_help():
    assert runner.invoke(app, ["--version"]).output.strip() == f"tui-trainer {__version__}"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "runs", "show", "presets"):
        assert command in result.output


def test_every_command_summary_is_one_sentence_in_the_command_list():
    """The first paragraph of a command's docstring is its line in `--help`: a docstring that
    wraps there shows a sentence broken across rows mid-phrase (it did for backfill and data)."""
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        summary = (command.help or "").split("\n\n")[0]
        assert "\n" not in summary.strip(), f"{name}: {summary!r}"


@pytest.mark.process
@pytest.mark.parametrize("args", [["--help"], ["runs", "--runs-dir", "/nonexistent"], ["presets"]])
def test_commands_that_do_not_train_never_import_torch(args):
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from tui_trainer.cli import app\n"
        f"result = CliRunner().invoke(app, {args!r})\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'textual') if m in sys.modules))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip().splitlines()[-1] == "[]"


def test_export_markdown_to_stdout(finished_study):
    runs_dir, study_dir, _ = finished_study
    result = runner.invoke(app, ["export", study_dir.name, "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(
        "| run | optim.lr | state | epochs | train loss | train acc | val loss"
    )
    assert lines[1].startswith("|---|---:|---|---|---:|")
    assert lines[2].startswith("| lr=0.05 | 0.05 | completed | 1/1 | ")
    assert len(lines) == 4


def test_export_csv_to_a_file_and_plots(finished_study, tmp_path):
    import csv

    from tui_trainer.store.atomic import read_toml

    runs_dir, study_dir, _ = finished_study
    out, plots = tmp_path / "table.csv", tmp_path / "plots"
    result = runner.invoke(
        app,
        [
            "export",
            "latest",
            "--format",
            "csv",
            "-o",
            str(out),
            "--plots",
            str(plots),
            "--runs-dir",
            str(runs_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["run"] for r in rows] == ["lr=0.05", "lr=0.1"]
    summary = read_toml(study_dir / "lr=0.1" / "summary.toml")
    assert rows[1]["test acc"] == f"{summary['test_acc']:.6f}"  # figures: 6 decimals
    assert rows[1]["optim.lr"] == "0.1"
    for name in ("loss.png", "accuracy.png", "lr.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_of_a_run_is_refused(finished_study):
    runs_dir, study_dir, _ = finished_study
    result = runner.invoke(app, ["export", f"{study_dir.name}/lr=0.1", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2
    assert "export takes a study" in result.output


def test_models_lists_architectures_with_sizes_and_parameters():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("mobilenet_v1"))
    assert re.search(r"32x32\s+3,217,226\s+3,309,476", line)
    assert re.search(r"mobilenet_v3_large\s+224x224\s+4,214,842", result.output)


def test_the_app_exits_non_zero_when_it_crashes(tmp_path, monkeypatch):
    """Textual catches an exception in the app, prints it and returns; the command must not
    then exit 0 as if all went well."""
    from textual.app import App

    class Crashing(App):
        def on_mount(self) -> None:
            raise RuntimeError("a bug")

        def run(self, **kwargs):  # no terminal here: headless
            return super().run(headless=True)

    class OnATerminal:
        """sys as the command sees it on a terminal (CliRunner's stdout is not one)."""

        def __getattr__(self, name):
            return getattr(sys, name)

        @property
        def stdout(self):
            class Terminal:
                def __getattr__(self, name):
                    return getattr(sys.stdout, name)

                def isatty(self):
                    return True

            return Terminal()

    monkeypatch.setattr("tui_trainer.ui.app.create_app", lambda *args: Crashing())
    monkeypatch.setattr("tui_trainer.cli.commands.sys", OnATerminal())
    result = runner.invoke(app, ["--runs-dir", str(tmp_path)])
    assert result.exit_code == 1


def _run_line(output: str, run: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if line.strip().startswith(run))


def test_a_resumed_run_before_its_first_epoch_shows_no_best_val_acc_in_runs_and_show(runs_dir):
    from tests.helpers import resumed_before_first_epoch
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir, learning_rates=(0.05, 0.5))
    resumed_before_first_epoch(study, "lr=0.5")
    listed = runner.invoke(app, ["runs", "--runs-dir", str(runs_dir)])
    assert listed.exit_code == 0, listed.output
    assert _run_line(listed.output, "lr=0.5") == ["lr=0.5", "running", "0/15", "-", "-"]
    shown = runner.invoke(app, ["show", "latest", "--runs-dir", str(runs_dir)])
    assert shown.exit_code == 0, shown.output
    # run, optim.lr, state, epochs, then every figure unknown: best val acc and best epoch too
    assert _run_line(shown.output, "lr=0.5") == ["lr=0.5", "0.5", "running", "0/15"] + ["-"] * 12
    assert "-1.0" not in listed.output + shown.output


def test_export_formats_each_column_kind_with_its_own_decimals(runs_dir):
    from tui_trainer.store.synthetic import write_synthetic_study

    write_synthetic_study(runs_dir, learning_rates=(0.05, 0.1 + 0.2), epochs=3)
    markdown = runner.invoke(app, ["export", "latest", "--runs-dir", str(runs_dir)])
    assert markdown.exit_code == 0, markdown.output
    # figures with 4 decimals (0.6390, not 0.639; 2.1000, not 2.1), seconds with 1, the swept
    # rate as written (0.3, neither 0.3000 nor 0.30000000000000004)
    assert markdown.output.splitlines()[2:] == [
        "| lr=0.05 | 0.05 | completed | 3/3 | 1.2111 | 0.6390 | 1.9111 | 0.5390 | 0.5469 | 1 "
        "| 2.1000 | 0.5369 |  |  |  | 30.0 |",
        "| lr=0.30000000000000004 | 0.3 | completed | 3/3 | 1.3851 | 0.6249 | 2.0351 | 0.5249 "
        "| 0.5249 | 3 | 2.2000 | 0.5149 |  |  |  | 30.0 |",
    ]
    table = runner.invoke(app, ["export", "latest", "-f", "csv", "--runs-dir", str(runs_dir)])
    assert table.output.splitlines()[1:] == [  # as data: 6 decimals, seconds 3
        "lr=0.05,0.05,completed,3/3,1.211100,0.639000,1.911100,0.539000,0.546900,1,2.100000,"
        "0.536900,,,,30.000",
        "lr=0.30000000000000004,0.3,completed,3/3,1.385100,0.624900,2.035100,0.524900,0.524900,3,"
        "2.200000,0.514900,,,,30.000",
    ]


def test_show_prints_the_time_column_in_seconds_as_export_does(runs_dir):
    from tui_trainer.store.synthetic import write_synthetic_study

    write_synthetic_study(runs_dir, learning_rates=(0.05,), epochs=3)
    shown = runner.invoke(app, ["show", "latest", "--runs-dir", str(runs_dir)])
    exported = runner.invoke(app, ["export", "latest", "--runs-dir", str(runs_dir)])
    assert (shown.exit_code, exported.exit_code) == (0, 0)
    assert _run_line(shown.output, "lr=0.05")[-1] == "30.0"
    assert exported.output.splitlines()[2].endswith("| 30.0 |")
    assert "time (s)" in shown.output and "0:30" not in shown.output


@pytest.mark.parametrize(
    ("options", "every"), [([], 10.0), (["--progress", "2.5"], 2.5), (["--progress", "0"], None)]
)
def test_headless_run_prints_progress_lines_every_10_s_or_as_set(
    write_preset, runs_dir, monkeypatch, options, every
):
    """The plain display is built with the interval (the training left out: it is the
    display's to keep, test_console pins the lines); the app's detached trainer gets none."""
    from tui_trainer.study.result import StudyResult

    def start_study(loaded, runs_dir, executor, events, into=None):
        display, study_log = events.listeners  # the display, and trainer.log's lines
        built.append(display._progress_every or None)
        assert not study_log._progress_every
        return StudyResult(study_dir=runs_dir)

    built: list[float | None] = []
    monkeypatch.setattr("tui_trainer.study.lifecycle.start_study", start_study)
    monkeypatch.setattr("tui_trainer.cli.training._ignore_hangups", lambda: None)
    for detached in ([], ["--detached"]):
        args = ["run", str(write_preset()), "--runs-dir", str(runs_dir), *options, *detached]
        assert runner.invoke(app, args).exit_code == 0
    assert built == [every, None]


@pytest.mark.parametrize("command", ["run", "resume"])
def test_plain_shows_as_a_flag_in_help(command):
    """typer shows a bool option's type (<bool>) as if it took a value: flags show none."""
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    (plain,) = [line for line in result.output.splitlines() if "--plain" in line]
    assert plain.split("│")[1].split()[:3] == ["--plain", "Plain", "log"]
    assert "<bool>" not in result.output  # --help -h neither
    assert "<bool>" not in runner.invoke(app, ["--help"], env={"COLUMNS": "100"}).output


def test_runs_takes_a_studys_best_val_and_test_acc_from_the_same_run_and_names_it(runs_dir):
    from tui_trainer.store.atomic import read_toml, write_toml_atomic
    from tui_trainer.store.synthetic import write_synthetic_study

    study = write_synthetic_study(runs_dir)  # best val acc: lr=0.01 0.5640, test acc 0.5540
    for name in ("summary.toml", "status.toml"):  # a worse run with a better test acc
        path = study / "lr=0.5" / name
        write_toml_atomic(path, {**read_toml(path), "test_acc": 0.6})
    listed = runner.invoke(app, ["runs", "--runs-dir", str(runs_dir)])
    assert _run_line(listed.output, study.name)[4:7] == ["0.5640", "(lr=0.01)", "0.5540"]
