"""`?`: every key of every screen, opened at the section of the screen it was asked from (that
section first, marked, then the keys that work everywhere, then the other screens')."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

KEYS = {
    "Everywhere": [
        ("?", "this help"),
        ("q", "quit (training goes on)"),
        ("ctrl+p", "command palette: this screen's actions, runs browser, presets, help"),
    ],
    "Presets": [
        ("up/down", "choose a preset"),
        ("enter", "launch it (with overrides)…"),
        ("e", "edit it: every key as a field…"),
        ("r", "runs browser"),
    ],
    "Editor": [
        ("tab", "next field"),
        ("ctrl+f", "go to a key: type part of its name (lr, mom, seed), enter"),
        ("ctrl+s", "save as a new preset (comments kept)"),
        ("ctrl+l", "launch the edited study"),
        ("escape", "back (asks first when there are unsaved edits)"),
    ],
    "Launch": [
        ("type", "overrides: optim.lr=0.05 sweep.optim.lr=[0.05, 0.1] (no quotes needed)"),
        ("enter", "launch"),
        ("escape", "back"),
    ],
    "Monitor": [
        ("s", "stop the study (asks first)"),
        ("r", "resume unfinished runs from checkpoints (asks first)"),
        ("g", "log scale on the loss charts"),
        ("m", "what the second chart shows: accuracy, top-5, lr, images/s, gradient norms…"),
        ("n", "what the third chart shows (the learning rate at first)"),
        ("f", "chart only the highlighted run (again: all)"),
        ("h", "hide / show the highlighted run in the charts"),
        ("i", "inspect the highlighted run: confusion matrix, per-class figures, samples"),
        ("p", "replay a finished study; again: leave it"),
        ("space", "pause / resume the replay"),
        ("left/right", "replay: one epoch back / forward"),
        ("+/-", "replay: faster / slower"),
        ("w", "log pane: trainer.log / the highlighted run's worker.log"),
        ("escape", "back"),
    ],
    "Runs browser": [
        ("/", "filter"),
        ("enter", "open the study"),
        ("r", "resume the study (asks first) and open it in the monitor"),
        ("space", "mark a study for comparison"),
        ("c", "compare the marked studies (or the highlighted one)"),
        ("escape", "back"),
    ],
    "Inspect": [
        ("1/2/3", "tabs: confusion matrix, per class, samples (or click them)"),
        ("arrows", "matrix: move the cursor; the line under it says the cell in words"),
        ("pgup/pgdn home/end", "matrix: a page up or down, the first or last class"),
        ("c", "matrix: share of the true class (%) / counts"),
        ("s", "per class: sort by the next column, worst first (click a header: that one)"),
        ("a", "samples: the images / their activation maps (computed when missing)"),
        ("escape", "back"),
    ],
    "Compare": [("x", "export the table as Markdown into <runs dir>/exports/"), ("escape", "back")],
}


# the help section of each screen, by the screen's class name (help needs no screen's import)
SECTIONS = {
    "PresetsScreen": "Presets",
    "EditorScreen": "Editor",
    "LaunchScreen": "Launch",
    "MonitorScreen": "Monitor",
    "RunsScreen": "Runs browser",
    "CompareScreen": "Compare",
    "InspectScreen": "Inspect",
}


def section_of(screen: Screen) -> str | None:
    """The help section of `screen` (None for one without keys of its own)."""
    return SECTIONS.get(type(screen).__name__)


def ordered_sections(section: str | None) -> list[str]:
    """`section` first, then the keys that work everywhere, then the other screens'."""
    first = [section] if section in KEYS else []
    return first + [name for name in KEYS if name not in first]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        ("escape", "dismiss", "Close"),
        ("question_mark", "dismiss", "Close"),
        ("q", "dismiss", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, section: str | None = None) -> None:
        super().__init__()
        self.section = section

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for section in ordered_sections(self.section):
            title = f"[u]{section}[/u]" + (" (this screen)" if section == self.section else "")
            table.add_row(title, "")
            for key, meaning in KEYS[section]:
                table.add_row(f"  {key}", meaning)
        with VerticalScroll():
            yield Static(table, id="help-keys")
