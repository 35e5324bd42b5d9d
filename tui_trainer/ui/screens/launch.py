"""Launch a preset: overrides (`optim.lr=0.05 train.epochs=5`) validated as you type by the same
loader `tui-trainer run` uses, the resulting runs listed, then a detached trainer started."""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from tui_trainer.config.load import LoadedStudy, load_preset
from tui_trainer.errors import ConfigError
from tui_trainer.ui.screens.presets import display_path


class LaunchScreen(Screen):
    BINDINGS = [("ctrl+l", "launch", "Launch"), ("escape", "app.pop_screen", "Back")]

    def __init__(self, preset: Path) -> None:
        super().__init__()
        self.preset = preset
        self.loaded: LoadedStudy | None = None
        self.overrides: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            Text.assemble((self.preset.stem, "bold"), f"  {display_path(self.preset)}"),
            id="launch-title",
        )
        yield Static(
            "Overrides, KEY=VALUE separated by spaces (e.g. optim.lr=0.05 train.epochs=5):"
        )
        yield Input(placeholder="optim.lr=0.05", id="overrides")
        yield Static(id="validation")
        yield Static("[b]enter[/b] or [b]ctrl+l[/b] launch   [b]escape[/b] back", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.validate("")
        self.query_one("#overrides", Input).focus()

    @on(Input.Changed, "#overrides")
    def changed(self, event: Input.Changed) -> None:
        self.validate(event.value)

    def validate(self, text: str) -> None:
        out = self.query_one("#validation", Static)
        try:
            self.overrides = shlex.split(text)
        except ValueError as exc:
            self.loaded = None
            out.update(Text.assemble(("error: ", "red"), str(exc)))
            return
        try:
            self.loaded = load_preset(self.preset, self.overrides)
        except ConfigError as error:
            self.loaded = None
            out.update(
                Text("\n").join(Text.assemble(("error: ", "red"), line) for line in error.lines())
            )
            return
        runs = self.loaded.runs
        epochs = sum(r.config.train.epochs for r in runs)
        lines = [Text.assemble(("valid", "green"), f": {len(runs)} run(s), {epochs} run-epochs")]
        lines += [Text(f"  {run.name}") for run in runs[:10]]
        out.update(Text("\n").join(lines))

    @on(Input.Submitted, "#overrides")
    def action_launch(self) -> None:
        if self.loaded is None:
            self.app.bell()
            return
        self.app.launch_study(self.preset, self.overrides, self.loaded.preset.study.name)
