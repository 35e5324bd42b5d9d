"""The monitor's study bar: the study's id and state with what the keys changed (a replay, the
focused run, how many runs are hidden), a progress bar, and the share of epochs done with the
study's ETA.

The title and the figures are always whole: at 80 columns the bar between them shrinks, down
to nothing, and a title longer than the line wraps at its spaces instead of being cut (at
80x24 '100%' once read '10').
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static

from tui_trainer.console.formats import STATE_STYLES, duration
from tui_trainer.printable import printable
from tui_trainer.store import status as st
from tui_trainer.ui.resuming import OFFERED_STATES


@dataclass(frozen=True)
class StudyInfo:
    """Everything the bar shows, compared by value: the bar redraws when this changes."""

    study_id: str = ""
    state: str = ""
    total: int = 0  # epochs of every run
    done: int = 0
    eta_s: float | None = None
    replay: str | None = None  # 'replay epoch 3/15 x2 paused'
    focused: str | None = None
    hidden: int = 0

    def title(self) -> Text:
        """'20261122-120000-r002-cifar100-lr  crashed  r resumes  focus lr=0.1  2 hidden'."""
        title = Text.assemble(
            (self.study_id, "bold"), "  ", (self.state, STATE_STYLES.get(self.state, ""))
        )
        if self.state in OFFERED_STATES and self.replay is None:
            title.append("  r resumes", "bold")
        if self.replay is not None:
            title.append(f"  {self.replay}", "cyan")
        if self.focused is not None:
            title.append(f"  focus {printable(self.focused)}", "bold")
        elif self.hidden:
            title.append(f"  {self.hidden} hidden", "bold")
        return title

    def figures(self) -> str:
        """'75%  ETA 2:50': epochs done of all, and the time to the study's end when known."""
        percent = f"{100 * self.done // self.total}%" if self.total else ""
        eta = f"ETA {duration(self.eta_s)}" if self.eta_s is not None else ""
        return "  ".join(part for part in (percent, eta) if part)


def state_change_note(study_id: str, state: str) -> str | None:
    """What to tell a person watching a study that has just become `state` (a toast), if
    anything: a stall, or a crash or stop that `r` resumes."""
    if state == st.STALLED:
        return (
            f"{study_id} stalled: no heartbeat for {st.HEARTBEAT_STALE_S:.0f} s, yet its trainer "
            "holds the run (paused with SIGSTOP or Ctrl-Z? kill -CONT PID lets it go on)"
        )
    if state in (st.CRASHED, st.INTERRUPTED):
        return f"{study_id} {state}: press r to resume it from its last checkpoints"
    return None


class StudyBar(Horizontal):
    """`#study-title`, `#study-progress` and `#study-eta`; set `info` and they follow."""

    DEFAULT_CSS = """
    StudyBar { height: auto; padding: 0 1; }
    StudyBar > #study-title { width: auto; max-width: 75%; height: auto; padding-right: 2; }
    StudyBar > #study-progress { width: 1fr; min-width: 0; }
    StudyBar > #study-progress > Bar { width: 1fr; min-width: 0; }
    StudyBar > #study-eta { width: auto; padding-left: 1; }
    """

    info: reactive[StudyInfo] = reactive(StudyInfo, init=False)

    def compose(self) -> ComposeResult:
        yield Static(id="study-title")
        yield ProgressBar(id="study-progress", show_eta=False, show_percentage=False)
        yield Static(id="study-eta")

    def watch_info(self, old: StudyInfo, info: StudyInfo) -> None:
        title, was = info.title(), old.title()
        if title != was:
            # a replay changes the title's digits every epoch: a title of the same shape keeps
            # the bar's layout (a layout pass would repaint the whole screen each time)
            self.query_one("#study-title", Static).update(title, layout=not same_shape(title, was))
        if (info.total, info.done) != (old.total, old.done):
            bar = self.query_one(ProgressBar)
            bar.update(total=max(info.total, 1), progress=info.done)
        figures = info.figures()
        if figures != old.figures():
            self.query_one("#study-eta", Static).update(
                figures, layout=not same_shape(figures, old.figures())
            )


def same_shape(text: Text | str, other: Text | str) -> bool:
    """Whether `text` takes the room `other` took: as wide, with its spaces (where a line too
    long for the bar wraps) in the same places."""
    plain, was = (
        Text(text) if isinstance(text, str) else text,
        Text(other) if isinstance(other, str) else other,
    )
    return plain.cell_len == was.cell_len and _spaces(plain.plain) == _spaces(was.plain)


def _spaces(plain: str) -> list[int]:
    return [i for i, c in enumerate(plain) if c == " "]
