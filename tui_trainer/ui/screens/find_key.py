"""The editor's jump to a key: a field of the form is reached by typing part of its name
(`lr`, `mom`, `seed`) instead of tabbing through the sixty before it. The best matches show as
you type (edit.find_keys: the name itself first, then names that start with it, keys that hold
it, and near misses); enter jumps to the first, esc goes back where you were."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

from tui_trainer.config.edit import find_keys
from tui_trainer.ui.widgets.confirm import AnswerByTyping

NO_MATCH = "no key holds that: try part of a name, e.g. lr, mom, seed"


class FindKey(AnswerByTyping):
    """Asks for part of a key's name; dismissed with the best match (None: nothing chosen)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__()
        self.keys = keys
        self.found: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Go to the key named (part of a name; enter jumps to the first):")
            yield Input(placeholder="lr", id="find")
            yield Static("", id="found")

    @on(Input.Changed, "#find")
    def typed(self, event: Input.Changed) -> None:
        self.found = find_keys(event.value, self.keys)
        if self.found:
            lines = Text(self.found[0], style="bold")
            for key in self.found[1:]:
                lines.append("\n" + key, style="dim")
        else:
            lines = Text(NO_MATCH if event.value.strip() else "", style="dim")
        self.query_one("#found", Static).update(lines)

    @on(Input.Submitted, "#find")
    def submitted(self) -> None:
        if self.found:
            self.dismiss(self.found[0])
