"""The screenshot tool still reaches the four screens the docs show, so that a change to a screen
that would break `python -m tui_trainer.ui.screenshot docs/pictures` fails here, not on the day
someone next makes the pictures. Synthetic studies stand in for the trained ones (no training
here); the pictures themselves come from real runs."""

from __future__ import annotations

from tui_trainer.store.synthetic import write_synthetic_study
from tui_trainer.store.synthetic_test_split import write_synthetic_test_split
from tui_trainer.ui import screenshot


def test_the_screenshot_tool_draws_the_monitor_inspect_editor_and_compare(tmp_path, monkeypatch):
    # the editor's parameter count would start torch in a subprocess: say it at once instead
    monkeypatch.setattr(
        "tui_trainer.ui.screens.editor.count_parameters", lambda text, stop: "parameters: 42"
    )
    monkeypatch.setattr(screenshot, "SETTLE_S", 0.2)  # drawn well enough to be found
    runs = tmp_path / "runs"
    first = write_synthetic_study(runs, learning_rates=(0.01, 0.05))
    write_synthetic_test_split(first / "lr=0.05")  # the runs table's second row
    write_synthetic_study(runs, study_id="20261122-130000-later", learning_rates=(0.1,))
    presets = sorted(screenshot.STUDIES.glob("*.toml"))

    written = screenshot.save_pictures(tmp_path / "pictures", runs, presets)

    assert [path.name for path in written] == [
        "monitor.svg",
        "inspect.svg",
        "editor.svg",
        "compare.svg",
    ]
    svg = {path.stem: path.read_text(encoding="utf-8").replace("&#160;", " ") for path in written}
    assert "20261122-120000-r001-cifar100-lr" in svg["monitor"]
    assert "Confusion" in svg["inspect"]
    assert "parameters: 42" in svg["editor"]
    assert "validation accuracy" in svg["compare"]
