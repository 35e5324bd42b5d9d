"""The command palette's own commands (ctrl+p): the app's places (presets, runs browser, help at
this screen's section) and every action of the screen it was opened on, by the name its key has
in the footer or in help, so an action can be found by name as well as by key: also those whose
keys the footer leaves out to fit 80 columns (the monitor's focus, hide, log scale...)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui_trainer.ui.navigation import Open
from tui_trainer.ui.screens.help import section_of

if TYPE_CHECKING:
    from tui_trainer.ui.app import TrainerApp


def screen_commands(app: TrainerApp, screen: Screen) -> Iterator[SystemCommand]:
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


def app_commands(app: TrainerApp, screen: Screen) -> Iterator[SystemCommand]:
    """The app's own commands, then the current screen's."""
    yield SystemCommand("Presets", "Back to the list of presets", app.action_presets)
    yield SystemCommand("Runs browser", "Every study in the runs directory", app.action_runs)
    yield SystemCommand(
        "Help: keys",
        "Every key, at this screen's section",
        partial(app.post_message, Open.Help(section_of(screen))),
    )
    yield from screen_commands(app, screen)
