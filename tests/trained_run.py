"""One tiny digits run, trained once per test session and shared by the modules that need a
real run (test_run_outputs, test_predict): training is most of what those tests cost."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import TINY_PRESET

ONE_EPOCH = TINY_PRESET.replace("epochs = 2", "epochs = 1")
_trained: dict[str, Path] = {}


def trained_run(tmp_path_factory) -> Path:
    """The run directory of ONE_EPOCH trained in this process (once per session)."""
    if "run" not in _trained:
        from tests.helpers import Recorder, run_study
        from tui_trainer.config import load_preset
        from tui_trainer.errors import ExitCode

        directory = tmp_path_factory.mktemp("trained-run")
        preset = directory / "preset.toml"
        preset.write_text(ONE_EPOCH)
        result = run_study(load_preset(preset), directory / "runs", Recorder(), argv=["test"])
        assert result.exit_code == ExitCode.OK
        _trained["run"] = result.study_dir / "run"
    return _trained["run"]
