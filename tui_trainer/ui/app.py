"""The tui-trainer app: presets, launch, monitor, runs browser.

Launching starts a detached trainer (tui_trainer.launch); everything shown is read from the run
directory, so quitting the app, or losing its terminal, never stops training, and starting it
again opens a study that is still running.

The app owns navigation: screens post the messages of ui/navigation.py and the handlers here
push the screens, start, resume and stop trainers. It also owns the one handler of its workers'
failures, and the command palette's own commands (ui/commands.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from tui_trainer import launch as launcher
from tui_trainer.config import presets as preset_files
from tui_trainer.errors import TuiTrainerError, UnavailableError
from tui_trainer.launch import Launched
from tui_trainer.printable import printable
from tui_trainer.store.reader import StudyRecord, read_study
from tui_trainer.store.resumable import ResumeTarget
from tui_trainer.ui.commands import app_commands
from tui_trainer.ui.navigation import Open, PresetSaved, Trainer
from tui_trainer.ui.reopen import study_to_reopen
from tui_trainer.ui.resuming import question, resume_plan
from tui_trainer.ui.screens.compare import CompareScreen
from tui_trainer.ui.screens.editor import EditorScreen
from tui_trainer.ui.screens.help import HelpScreen, section_of
from tui_trainer.ui.screens.inspect import InspectScreen
from tui_trainer.ui.screens.launch import LaunchScreen
from tui_trainer.ui.screens.monitor import MonitorScreen
from tui_trainer.ui.screens.presets import PresetsScreen
from tui_trainer.ui.screens.runs import RunsScreen
from tui_trainer.ui.study_reads import BrowserFirst
from tui_trainer.ui.tell import tell
from tui_trainer.ui.widgets.confirm import Confirm


def cannot_write(error: OSError, fallback: Path) -> str:
    """`cannot write PATH: REASON` for an OSError met while creating a study's files."""
    return f"cannot write {error.filename or fallback}: {error.strerror or error}"


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return Path(a) == Path(b)


class TrainerApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "tui-trainer"
    BINDINGS = [
        ("q", "quit", "Quit"),
        ("question_mark", "help", "Help"),
        Binding("f1", "help", "Help", show=False),  # where `?` is typed into a field
    ]

    def __init__(
        self,
        runs_dir: Path,
        presets: list[Path] | None = None,
        user_presets_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.user_presets_dir = (user_presets_dir or preset_files.user_presets_dir()).expanduser()
        self.presets = preset_files.preset_paths(list(presets or []), self.user_presets_dir)
        # the trainers this app started, alive or not yet reaped; kept as one list (the monitors
        # are handed it and read it as it changes)
        self.launched: list[Launched] = []
        self.browser_first = BrowserFirst()  # the studies' readers (ui/study_reads.py)

    def on_mount(self) -> None:
        self.push_screen(PresetsScreen(self.presets, self.runs_dir, self.browser_first))
        self.find_running_study()
        self.set_interval(1.0, self._reap)

    @work(
        thread=True,
        exclusive=True,
        group="pick-up",
        name="looking for a running study",
        exit_on_error=False,
    )
    def find_running_study(self) -> None:
        """Read every study off the UI thread (thousands take seconds), then pick a live one up
        again, or one still being started (ui/reopen.py): in the monitor, unless the user has
        already moved on from the presets."""
        worker = get_current_worker()
        live = study_to_reopen(self.runs_dir, self.browser_first.stopped(worker))
        if live is not None and not worker.is_cancelled:
            self.call_from_thread(self.pick_up, live)

    def pick_up(self, study: Path) -> None:
        if isinstance(self.screen, PresetsScreen):
            self.push_screen(self.monitor(study))
        tell(self, f"{study.name} is running")

    def _reap(self) -> None:
        """Collect trainers that have exited, so none lingers as a zombie (in place: the
        monitors read this list)."""
        self.launched[:] = [item for item in self.launched if item.process.poll() is None]

    def monitor(self, study_dir: Path) -> MonitorScreen:
        """The monitor of a study, told which trainers this app started."""
        return MonitorScreen(study_dir, self.launched)

    # -- navigation: the screens' messages (ui/navigation.py) ------------------------------------

    def on_open_launch(self, message: Open.Launch) -> None:
        self.push_screen(LaunchScreen(message.preset, self.runs_dir))

    def on_open_editor(self, message: Open.Editor) -> None:
        self.push_screen(EditorScreen(message.preset, self.user_presets_dir, self.runs_dir))

    def on_open_monitor(self, message: Open.Monitor) -> None:
        self.push_screen(self.monitor(message.study_dir))

    def on_open_inspect(self, message: Open.Inspect) -> None:
        self.push_screen(InspectScreen(message.run_dir, message.study_id))

    def on_open_compare(self, message: Open.Compare) -> None:
        # the browser lists studies without summaries; the comparison table needs them
        studies = [read_study(path) for path in message.study_dirs]
        self.push_screen(CompareScreen(studies, self.runs_dir))

    def on_open_help(self, message: Open.Help) -> None:
        self.push_screen(HelpScreen(message.section))

    def on_trainer_launch(self, message: Trainer.Launch) -> None:
        self.launch_study(message.preset, message.overrides, message.name)

    def on_trainer_resume(self, message: Trainer.Resume) -> None:
        self.ask_resume(message.study_dir)

    def on_trainer_stop(self, message: Trainer.Stop) -> None:
        self.ask_stop(message.study_dir)

    def on_preset_saved(self, message: PresetSaved) -> None:
        self.add_preset(message.path)

    def on_open_runs(self, message: Open.Runs) -> None:
        self.push_screen(RunsScreen(self.runs_dir, self.browser_first))

    def on_open_presets(self, message: Open.Presets) -> None:
        while len(self.screen_stack) > 2 and not isinstance(self.screen, PresetsScreen):
            self.pop_screen()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(section_of(self.screen)))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        system = super().get_system_commands(screen)
        yield from app_commands(self, screen, self.presets, system)

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """Every worker of the app runs on the app (exit_on_error=False): a failure is said, and
        the app goes on."""
        if event.state == WorkerState.ERROR:
            name = event.worker.name or "a background task"
            tell(self, f"{name} failed: {event.worker.error}", "error")

    # -- trainers --------------------------------------------------------------------------------

    def launch_study(self, preset: Path, overrides: list[str], name: str) -> None:
        try:
            item = launcher.launch(preset, overrides, self.runs_dir, name)
        except OSError as error:  # an unwritable or full runs directory: say so, stay here
            tell(self, cannot_write(error, self.runs_dir), "error")
            return
        self.launched.append(item)
        self.pop_screen()  # the launch screen
        self.push_screen(self.monitor(item.study_dir))
        tell(self, f"started {item.study_dir.name} (pid {item.pid})")

    def ask_resume(self, study_dir: Path) -> None:
        """`r` in the monitor and the runs browser: say why when there is nothing to resume,
        else ask, then resume."""
        try:
            study, targets = self.check_resume(study_dir)
        except TuiTrainerError as error:  # nothing to resume, or a trainer is alive
            tell(self, str(error), "warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.resume_study(study_dir)

        self.push_screen(Confirm(question(study, targets)), answer)

    def resume_study(self, study_dir: Path, run_name: str | None = None) -> Launched | None:
        """Start `tui-trainer resume` of the study (or of one run of it), detached, and show the
        study in the monitor (the one already showing it, if that is where we are). Checked
        first: an error is shown, nothing started, when there is nothing to resume or a trainer
        of the study is alive."""
        study_dir = Path(study_dir)
        try:
            self.check_resume(study_dir, run_name)
            item = launcher.resume(study_dir, self.runs_dir, run_name)
        except TuiTrainerError as error:
            tell(self, str(error), "error")
            return None
        except OSError as error:
            tell(self, cannot_write(error, study_dir), "error")
            return None
        self.launched.append(item)
        tell(self, f"resuming {study_dir.name} (pid {item.pid})")
        screen = self.screen
        if not (
            isinstance(screen, MonitorScreen) and _same_dir(screen.follower.paths.root, study_dir)
        ):
            self.push_screen(self.monitor(study_dir))
        return item

    def check_resume(
        self, study_dir: Path, run_name: str | None = None
    ) -> tuple[StudyRecord, list[ResumeTarget]]:
        """What resuming the study would do (resuming.resume_plan), refused also while a trainer
        this app started for the study is alive: a resume started a moment ago has not yet
        written itself into study.toml."""
        for item in self.launched:
            if _same_dir(item.study_dir, study_dir) and item.process.poll() is None:
                raise UnavailableError(
                    f"{Path(study_dir).name}: its trainer (pid {item.pid}) is still running"
                )
        return resume_plan(study_dir, run_name)

    def ask_stop(self, study_dir: Path) -> None:
        """`s` in the monitor: say so when no trainer is alive, else ask, then stop."""
        if launcher.trainer_pid(study_dir) is None:
            self.notify("no live trainer for this study", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.stop_study(study_dir)

        question = f"Stop {printable(Path(study_dir).name)}? Finished epochs are kept."
        self.push_screen(Confirm(question), answer)

    def stop_study(self, study_dir: Path) -> None:
        try:
            pid = launcher.stop(study_dir)
        except TuiTrainerError as error:
            tell(self, str(error), "error")
            return
        tell(self, f"asked trainer {pid} to stop after its current step")

    def add_preset(self, path: Path) -> None:
        """A preset saved by the editor joins the list on the presets screen."""
        path = path.resolve()
        if path not in self.presets:
            self.presets.append(path)
        for screen in self.screen_stack:
            if isinstance(screen, PresetsScreen):
                screen.reload(self.presets)


def create_app(
    runs_dir: Path, presets: list[Path] | None = None, user_presets_dir: Path | None = None
) -> TrainerApp:
    return TrainerApp(runs_dir, presets, user_presets_dir)
