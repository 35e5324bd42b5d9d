"""The tui-trainer app: presets, launch, monitor, runs browser.

Launching starts a detached trainer (tui_trainer.launch); everything shown is read from the run
directory, so quitting the app, or losing its terminal, never stops training, and starting it
again opens a study that is still running.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App

from tui_trainer.config.presets import builtin_presets
from tui_trainer.errors import TuiTrainerError
from tui_trainer.launch import Launched, launch, stop
from tui_trainer.store.reader import list_studies
from tui_trainer.ui.screens.monitor import MonitorScreen
from tui_trainer.ui.screens.presets import PresetsScreen
from tui_trainer.ui.screens.runs import RunsScreen

USER_PRESETS_DIR = Path("~/.config/tui-trainer/presets")


def preset_paths(extra: list[Path], user_dir: Path) -> list[Path]:
    """Built-in presets, then the user's folder, then paths given on the command line."""
    user = sorted(user_dir.glob("*.toml")) if user_dir.is_dir() else []
    seen: dict[Path, None] = {}
    for path in [*builtin_presets(), *user, *extra]:
        seen.setdefault(path.resolve(), None)
    return list(seen)


class TrainerApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "tui-trainer"
    BINDINGS = [("q", "quit", "Quit"), ("question_mark", "help", "Help")]

    def __init__(
        self,
        runs_dir: Path,
        presets: list[Path] | None = None,
        user_presets_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.user_presets_dir = (user_presets_dir or USER_PRESETS_DIR).expanduser()
        self.presets = preset_paths(list(presets or []), self.user_presets_dir)
        self.launched: list[Launched] = []

    def on_mount(self) -> None:
        self.push_screen(PresetsScreen(self.presets))
        running = [s for s in list_studies(self.runs_dir, summaries=False) if s.state == "running"]
        if running:  # pick a live study up again
            self.push_screen(MonitorScreen(running[0].paths.root))
            self.notify(f"{running[0].id} is running")
        self.set_interval(1.0, self._reap)

    def _reap(self) -> None:
        """Collect trainers that have exited, so none lingers as a zombie."""
        self.launched = [item for item in self.launched if item.process.poll() is None]

    def launch_study(self, preset: Path, overrides: list[str], name: str) -> None:
        item = launch(preset, overrides, self.runs_dir, name)
        self.launched.append(item)
        self.pop_screen()  # the launch screen
        self.push_screen(MonitorScreen(item.study_dir))
        self.notify(f"started {item.study_dir.name} (pid {item.pid})")

    def stop_study(self, study_dir: Path) -> None:
        try:
            pid = stop(study_dir)
        except TuiTrainerError as error:
            self.notify(str(error), severity="error")
            return
        self.notify(f"asked trainer {pid} to stop after its current step")

    def add_preset(self, path: Path) -> None:
        """A preset saved by the editor joins the list on the presets screen."""
        path = path.resolve()
        if path not in self.presets:
            self.presets.append(path)
        for screen in self.screen_stack:
            if isinstance(screen, PresetsScreen):
                screen.reload(self.presets)

    def action_help(self) -> None:
        from tui_trainer.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_runs(self) -> None:
        self.push_screen(RunsScreen(self.runs_dir))


def create_app(
    runs_dir: Path, presets: list[Path] | None = None, user_presets_dir: Path | None = None
) -> TrainerApp:
    return TrainerApp(runs_dir, presets, user_presets_dir)
