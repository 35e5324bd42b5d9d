"""The runs browser: every study under the runs directory, newest first, crashed ones shown as
crashed, a text filter; enter opens a study in the monitor, r resumes it.

`esc` undoes before it leaves: with a filter typed (or its input focused) it clears the filter
and goes back to the table; only then does it leave the screen. A filter that hides every study
says so, since an empty table alone reads as an empty runs directory."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from tui_trainer.console.formats import STATE_STYLES
from tui_trainer.console.tables import study_best
from tui_trainer.store import status as st
from tui_trainer.store.reader import StudyRecord, list_studies
from tui_trainer.ui.navigation import Open, Trainer
from tui_trainer.ui.study_reads import BrowserFirst

COLUMNS = ("", "study", "state", "runs", "best val acc", "test acc", "description")


class RunsScreen(Screen):
    BINDINGS = [
        ("enter", "open", "Open"),
        ("r", "resume", "Resume"),
        ("space", "mark", "Mark"),
        ("c", "compare", "Compare"),
        ("slash", "focus_filter", "Filter"),
        ("escape", "back", "Back"),
    ]

    def __init__(self, runs_dir: Path, browser_first: BrowserFirst | None = None) -> None:
        """`browser_first`: the app's, which its start-up workers give way to while this screen
        reads the studies (ui/study_reads.py)."""
        super().__init__()
        self.runs_dir = runs_dir
        self.browser_first = browser_first or BrowserFirst()
        self.studies: list[StudyRecord] = []
        self.shown: list[StudyRecord] = []
        self.marked: set[str] = set()  # study ids chosen for comparison

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(
            placeholder="filter: part of a study id, name, state or description", id="filter"
        )
        yield Static(id="no-match")
        yield DataTable(id="studies", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#studies", DataTable)
        table.add_columns(*COLUMNS)
        table.focus()

    def on_screen_resume(self) -> None:
        """Read the studies each time the screen shows, its first time included (Textual resumes
        a screen when it is pushed): once, not twice, on opening."""
        self.reload()

    def reload(self) -> None:
        with self.browser_first.reading(self.app):
            self.studies = list_studies(self.runs_dir, summaries=False)
            self.apply_filter(self.query_one("#filter", Input).value)

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.apply_filter(event.value)

    @on(Input.Submitted, "#filter")
    def filter_submitted(self) -> None:
        self.query_one("#studies", DataTable).focus()

    def action_back(self) -> None:
        """Clear the filter (and leave its input) when there is one; else leave the screen."""
        field = self.query_one("#filter", Input)
        if field.value or field.has_focus:
            field.value = ""
            self.apply_filter("")
            self.query_one("#studies", DataTable).focus()
        else:
            self.app.pop_screen()

    def apply_filter(self, text: str) -> None:
        words = text.lower().split()
        table = self.query_one("#studies", DataTable)
        table.clear()
        self.shown = []
        for study in self.studies:
            state = study.state
            haystack = f"{study.id} {study.name} {state} {study.description}".lower()
            if not all(word in haystack for word in words):
                continue
            self.shown.append(study)
            done = sum(1 for run in study.runs if run.state == st.COMPLETED)
            best_val, test = study_best(study)
            table.add_row(
                "✓" if study.id in self.marked else " ",
                Text(study.id),
                Text(state, style=STATE_STYLES.get(state, "")),
                f"{done}/{len(study.runs)}",
                Text(best_val),  # a run name: never markup
                test,
                Text(study.description[:60])
                if not study.problems
                else Text("; ".join(study.problems)[:60], style="yellow"),
                key=study.id,
            )
        no_match = self.query_one("#no-match", Static)
        no_match.display = bool(self.studies) and not self.shown
        no_match.update(Text(f'no study matches "{text.strip()}"'))  # typed text: not markup

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    @on(DataTable.RowSelected, "#studies")
    def action_open(self) -> None:
        table = self.query_one("#studies", DataTable)
        if self.shown and 0 <= table.cursor_row < len(self.shown):
            self.post_message(Open.Monitor(self.shown[table.cursor_row].paths.root))

    def _highlighted(self) -> StudyRecord | None:
        table = self.query_one("#studies", DataTable)
        return self.shown[table.cursor_row] if 0 <= table.cursor_row < len(self.shown) else None

    def action_resume(self) -> None:
        """Resume the highlighted study (asks first), then follow it in the monitor."""
        study = self._highlighted()
        if study is None:
            return
        self.post_message(Trainer.Resume(study.paths.root))

    def action_mark(self) -> None:
        study = self._highlighted()
        if study is None:
            return
        self.marked ^= {study.id}
        table = self.query_one("#studies", DataTable)
        table.update_cell_at((table.cursor_row, 0), "✓" if study.id in self.marked else " ")

    def action_compare(self) -> None:
        chosen = [s for s in self.studies if s.id in self.marked]
        if not chosen and self._highlighted() is not None:
            chosen = [self._highlighted()]
        if chosen:
            self.post_message(Open.Compare([s.paths.root for s in chosen]))
