"""Values no trainer writes, where readers meet them: a 5000-digit cell, a 400-digit epoch,
numbers near ±1e308, subnormals, a chart of nothing but infinities, strings where status.toml
has numbers. `show`, `export --plots` and the monitor show what they can and never crash.
(tests/test_reader_properties.py drives the same readers with generated files.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tui_trainer.cli import app
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.csvlog import parse_cell, read_rows
from tui_trainer.store.synthetic import write_synthetic_study

runner = CliRunner()
RUN = "lr=0.05"


def replace_cells(path: Path, row: int, cells: dict[str, str]) -> None:
    """Overwrite cells of data row `row` (1-based) of a CSV file written by the synthetic study."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    fields = lines[row].split(",")
    for column, text in cells.items():
        fields[header.index(column)] = text
    lines[row] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def hostile(tmp_path) -> Path:
    """A finished study whose first run holds every kind of value that once crashed a reader."""
    study = write_synthetic_study(tmp_path / "runs", epochs=6)
    metrics = study / RUN / "metrics.csv"
    replace_cells(metrics, 1, {"train_loss": "9" * 5000})
    replace_cells(metrics, 2, {"epoch": "1" + "0" * 400})
    replace_cells(metrics, 3, {"train_loss": "1.7e308", "val_loss": "-1.7e308"})
    replace_cells(metrics, 4, {"val_acc": "2.2250738585e-313", "lr": "5e-324"})
    for row in range(1, 7):  # the learning-rate chart: nothing but infinities
        replace_cells(metrics, row, {"lr": "inf" if row % 2 else "-inf"})
    status = read_toml(study / RUN / "status.toml")
    status.update(
        epoch="three",
        epochs=-4,
        eta_s=float("inf"),
        elapsed_s=1e308,
        best_val_acc="high",
        device_figures={"rss_mb": "lots", "gpu_mem_total_mb": 1e308, "gpu_util_percent": "x"},
    )
    write_toml_atomic(study / RUN / "status.toml", status)
    return study


def test_a_5000_digit_cell_reads_as_text_not_a_crash():
    assert parse_cell("9" * 5000) == "9" * 5000
    assert parse_cell("1" * 19) == 1_111_111_111_111_111_111
    assert parse_cell(str(2**63)) == str(2**63)  # beyond 64 bits: not a number any writer wrote
    assert parse_cell(str(2**63 - 1)) == 2**63 - 1


def test_show_of_a_run_with_hostile_values_prints_what_it_can(hostile):
    result = runner.invoke(
        app, ["show", f"{hostile.name}/{RUN}", "--runs-dir", str(hostile.parent)]
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "999999999" in result.output and "…" in result.output  # the long cell, cut short
    assert len(read_rows(hostile / RUN / "metrics.csv")) == 6


def test_export_plots_of_hostile_values_are_written(hostile, tmp_path):
    pytest.importorskip("matplotlib")
    plots = tmp_path / "plots"
    result = runner.invoke(
        app, ["export", hostile.name, "--plots", str(plots), "--runs-dir", str(hostile.parent)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in plots.iterdir()) == [
        ".tui-trainer-wrote.json",  # what export wrote there (write_guard)
        "accuracy.png",
        "loss.png",
        "lr.png",
    ]


def test_the_monitor_shows_hostile_values_and_every_chart_of_them(hostile, tmp_path):
    from tui_trainer.ui.app import create_app
    from tui_trainer.ui.screens.monitor import MonitorScreen

    async def scenario():
        app_ = create_app(hostile.parent, user_presets_dir=tmp_path / "none")
        async with app_.run_test(size=(120, 40)) as pilot:
            app_.push_screen(MonitorScreen(hostile))
            await pilot.pause(0.5)
            # every metric on the second and third charts, a log scale, a replay, a focus
            for key in ["m"] * 6 + ["n"] * 6 + ["g", "p", "space", "left", "right", "f", "h"]:
                await pilot.press(key)
                await pilot.pause(0.05)
            await pilot.pause(0.5)
            assert isinstance(app_.screen, MonitorScreen)
        assert app_.return_code in (None, 0)

    asyncio.run(scenario())
