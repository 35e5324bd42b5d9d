"""The command palette's own commands (ctrl+p): the app's places (presets, runs browser, help at
this screen's section), every preset by its name (`r000` finds the r000 studies, each opening
its launch screen), and every action of the screen it was opened on, by the name its key has
in the footer or in help, so an action can be found by name as well as by key: also those whose
keys the footer leaves out to fit 80 columns (the monitor's focus, hide, log scale...).

Textual's own commands follow, less those of a title already offered: the screens' `q` and
Textual's "Quit" are one command, listed once.

The places are opened as the screens open them, by posting ui/navigation.py's messages to the
app: nothing here knows the app's class, only what it is handed (its presets)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui_trainer.printable import printable
from tui_trainer.ui.navigation import Open
from tui_trainer.ui.paths import display_path
from tui_trainer.ui.screens.help import section_of


def screen_commands(app: App, screen: Screen) -> Iterator[SystemCommand]:
    """One command per described key of `screen`, by its name (also the keys a focused widget
    shadows: `enter` in a table), shown in the footer or not."""
    seen: set[str] = set()
    for binding in Binding.make_bindings(type(screen).BINDINGS):
        if not binding.description or binding.action in seen:
            continue
        seen.add(binding.action)
        yield SystemCommand(
            binding.description,
            f"{binding.key_display or app.get_key_display(binding)} on this screen",
            partial(app.run_action, binding.action, screen),
        )


def preset_commands(app: App, presets: Iterable[Path]) -> Iterator[SystemCommand]:
    """One command per preset the app lists, by its name: its launch screen."""
    for path in presets:
        yield SystemCommand(
            f"Preset {printable(path.stem)}",
            f"Launch… {printable(display_path(path))}",
            partial(app.post_message, Open.Launch(path)),
        )


def app_commands(
    app: App, screen: Screen, presets: Iterable[Path], system: Iterable[SystemCommand] = ()
) -> Iterator[SystemCommand]:
    """The app's own commands, the current screen's, the presets (`presets`, the app's list),
    then those of `system` (Textual's) whose title is not among them yet: each title once."""
    own = [
        SystemCommand(
            "Presets", "Back to the list of presets", partial(app.post_message, Open.Presets())
        ),
        SystemCommand(
            "Runs browser",
            "Every study in the runs directory",
            partial(app.post_message, Open.Runs()),
        ),
        SystemCommand(
            "Help: keys",
            "Every key, at this screen's section",
            partial(app.post_message, Open.Help(section_of(screen))),
        ),
    ]
    seen: set[str] = set()
    for command in [*own, *screen_commands(app, screen), *preset_commands(app, presets), *system]:
        if command.title.casefold() not in seen:
            seen.add(command.title.casefold())
            yield command
