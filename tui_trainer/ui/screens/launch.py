"""Launch a preset: overrides (`optim.lr=0.05 sweep.train.seed=[0, 1]`) validated as you type by
the same loader `tui-trainer run` uses, the resulting runs listed with the time they will take
here, then a detached trainer started.

The line is not a shell: overrides are separated by spaces outside brackets, braces and quotes,
so a TOML list or string is typed as it is written in a preset, no quoting needed. A word in
quotes (the shell's habit, `'sweep.train.seed=[0, 1]'`) loses them."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from tui_trainer.config.load import LoadedStudy, load_preset
from tui_trainer.errors import ConfigError
from tui_trainer.store.timing import setup_timings
from tui_trainer.ui.estimate import estimate
from tui_trainer.ui.navigation import Trainer
from tui_trainer.ui.paths import display_path

RUNS_LISTED = 10
_CLOSING = {"[": "]", "{": "}", "(": ")"}
_QUOTES = "\"'"


def split_overrides(line: str) -> list[str]:
    """`a=1 sweep.b=[1, 2] c="x y"` -> ['a=1', 'sweep.b=[1, 2]', 'c="x y"']: split on spaces
    outside brackets, braces and quotes. Quotes around a whole word are dropped; quotes inside
    one are kept (they belong to the TOML value). Never fails: an unclosed bracket or quote keeps
    the rest of the line as one override, which the loader then calls invalid."""
    words: list[str] = []
    current: list[str] = []
    closers: list[str] = []  # the brackets open at this point, innermost last
    quote = ""  # the quote character open, if any
    word_quoted = False  # the quote open started the word: it is dropped
    for char in line:
        if quote:
            if char == quote:
                quote = ""
                if word_quoted:
                    word_quoted = False
                    continue
            current.append(char)
            continue
        if char in _QUOTES:
            quote = char
            word_quoted = not current and not closers
            if word_quoted:
                continue
        elif char in _CLOSING:
            closers.append(_CLOSING[char])
        elif closers and char == closers[-1]:
            closers.pop()
        elif char.isspace() and not closers:
            if current:
                words.append("".join(current))
                current = []
            continue
        current.append(char)
    if current:
        words.append("".join(current))
    return words


class LaunchScreen(Screen):
    BINDINGS = [("ctrl+l", "launch", "Launch"), ("escape", "app.pop_screen", "Back")]

    def __init__(self, preset: Path, runs_dir: Path) -> None:
        """`runs_dir`: where the studies that time the estimate are."""
        super().__init__()
        self.preset = preset
        self.runs_dir = runs_dir
        self.loaded: LoadedStudy | None = None
        self.overrides: list[str] = []
        self.timings: dict = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            Text.assemble((self.preset.stem, "bold"), f"  {display_path(self.preset)}"),
            id="launch-title",
        )
        yield Static(
            "Overrides, KEY=VALUE separated by spaces, values as in TOML, no quotes needed\n"
            "(e.g. optim.lr=0.05 train.epochs=5 sweep.optim.lr=[0.05, 0.1]):"
        )
        yield Input(placeholder="optim.lr=0.05", id="overrides")
        yield Static(id="validation")
        yield Static("[b]enter[/b] or [b]ctrl+l[/b] launch   [b]escape[/b] back", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.timings = setup_timings(self.runs_dir)
        self.validate("")
        self.query_one("#overrides", Input).focus()

    @on(Input.Changed, "#overrides")
    def changed(self, event: Input.Changed) -> None:
        self.validate(event.value)

    def validate(self, text: str) -> None:
        out = self.query_one("#validation", Static)
        self.overrides = split_overrides(text)
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
        lines += [Text(f"  {run.name}") for run in runs[:RUNS_LISTED]]
        if len(runs) > RUNS_LISTED:
            lines.append(Text(f"  +{len(runs) - RUNS_LISTED} more", style="dim"))
        lines.append(Text(estimate(runs, self.timings).words))
        out.update(Text("\n").join(lines))

    @on(Input.Submitted, "#overrides")
    def action_launch(self) -> None:
        if self.loaded is None:
            self.app.bell()
            return
        self.post_message(
            Trainer.Launch(self.preset, self.overrides, self.loaded.preset.study.name)
        )
