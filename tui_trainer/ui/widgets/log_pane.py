"""The monitor's log pane: the study's trainer.log, or (w) the worker.log of the highlighted run.

In a parallel study the study's trainer is a driver: trainer.log says which run started where,
each epoch's line and how each run ended, while a run's own output (its data loading, its
warnings, a traceback when its worker dies) is in its worker.log. The pane shows one at a time,
titled with which; the other keeps its place: trainer.log is followed all along, a worker.log
only while it is shown (from its last LOG_TAIL_BYTES, read again when shown again).

Both are read as bytes a line at a time (store/lines.LineFollower: bounded, a torn last line
kept for later) and made printable; Textual's Log writes its lines as plain text, never markup.
A line wider than the pane wraps at its spaces (WrappedLog), so that no figure is cut in two at
the pane's edge; `lines` stays the file's lines.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log

from tui_trainer.printable import printable
from tui_trainer.store.follow import LOG_TAIL_BYTES, StudyFollower
from tui_trainer.store.layout import TRAINER_LOG, WORKER_LOG
from tui_trainer.store.lines import LineFollower

MAX_LINES = 500  # lines kept by each log view (up to PRUNE_EVERY more between two prunings)
PRUNE_EVERY = 100


def decoded(lines: list[bytes | None]) -> list[str]:
    """Complete lines as text a terminal can show (a line over the follower's limit, None, is
    left out)."""
    return [
        printable(line.decode("utf-8", errors="replace").rstrip("\r"))
        for line in lines
        if line is not None
    ]


def wrap_line(line: str, width: int) -> list[str]:
    """`line` in pieces of at most `width` columns, broken at spaces (a word wider than that is
    broken where it must), continuations indented by two; the whole line when `width` is too
    small to wrap in."""
    if width < 8 or len(line) <= width:
        return [line]
    return textwrap.wrap(
        line.expandtabs(),
        width,
        subsequent_indent="  ",
        break_on_hyphens=False,
        drop_whitespace=True,
    ) or [line]


class WrappedLog(Log):
    """A Log whose lines wrap at spaces to its width; `lines` are the lines written, whole."""

    def __init__(self, *, id: str | None = None, max_lines: int = MAX_LINES) -> None:
        super().__init__(id=id, max_lines=None)
        self.kept = max_lines
        self._source: list[str] = []
        self._wrapped_at = 0

    @property
    def lines(self) -> Sequence[str]:
        return self._source

    def _wrap_width(self) -> int:
        return self.scrollable_content_region.width

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> WrappedLog:
        new = [piece for line in lines for piece in line.splitlines()]
        self._source.extend(new)
        if len(self._source) > self.kept + PRUNE_EVERY:  # now and then, not at every line
            del self._source[: len(self._source) - self.kept]
            self._rewrap()
            return self
        width = self._wrap_width()
        if width != self._wrapped_at:
            self._rewrap()
            return self
        super().write_lines([p for line in new for p in wrap_line(line, width)], scroll_end)
        return self

    def clear(self) -> WrappedLog:
        self._source.clear()
        super().clear()
        return self

    def _rewrap(self) -> None:
        self._wrapped_at = width = self._wrap_width()
        source = list(self._source)
        super().clear()
        super().write_lines([p for line in source for p in wrap_line(line, width)])

    def on_resize(self, event: events.Resize) -> None:
        if self._wrap_width() != self._wrapped_at:
            self._rewrap()


class LogPane(Vertical):
    """trainer.log (`#log`) or one run's worker.log (`#worker-log`), one shown at a time."""

    DEFAULT_CSS = """
    LogPane { height: 8; }
    LogPane > Log { height: 1fr; }
    LogPane > #worker-log { display: none; }
    LogPane.-worker > #log { display: none; }
    LogPane.-worker > #worker-log { display: block; }
    """

    def __init__(self, follower: StudyFollower, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.follower = follower
        self.run_name: str | None = None  # whose worker.log is followed
        self._worker: LineFollower | None = None
        self._placeholder = False  # the worker view holds a note, not the file's lines

    def compose(self) -> ComposeResult:
        yield WrappedLog(id="log")
        yield WrappedLog(id="worker-log")

    def on_mount(self) -> None:
        self.border_title = Text(TRAINER_LOG)

    @property
    def showing_worker_log(self) -> bool:
        return self.has_class("-worker")

    def toggle(self, run_name: str | None) -> None:
        """Switch between trainer.log and the worker.log of `run_name`."""
        if self.showing_worker_log:
            self.remove_class("-worker")
            self._worker = None
            self.border_title = Text(TRAINER_LOG)
        else:
            self.add_class("-worker")
            self.run_name = None  # follow it from its tail again
            self.follow_run(run_name)

    def follow_run(self, run_name: str | None) -> None:
        """Show the worker.log of `run_name` (the highlighted run), when the worker view is on."""
        if not self.showing_worker_log or run_name == self.run_name:
            return
        self.run_name = run_name
        view = self.query_one("#worker-log", Log)
        view.clear()
        self._worker = None
        if run_name is None:
            self.border_title = Text(WORKER_LOG)
            return
        self.border_title = Text(f"{WORKER_LOG} of {run_name}")  # a title str is markup
        path = self._worker_log_path(run_name)
        if path is None:
            view.write_line(f"{run_name} has no run directory")
            self._placeholder = True
            return
        self._worker = LineFollower(path, tail_bytes=LOG_TAIL_BYTES)
        if not os.path.exists(path):  # (False, not an error, where it cannot be looked at)
            view.write_lines(
                [
                    f"no {WORKER_LOG} for {run_name} yet: a run has one once a worker trains it",
                    f"(a study with jobs = 1 writes everything to {TRAINER_LOG})",
                ]
            )
            self._placeholder = True
        else:
            self._placeholder = False
            self._poll_worker()  # at once: the key shows the file, not an empty pane

    def _worker_log_path(self, run_name: str) -> Path | None:
        for run in self.follower.record.runs:
            if run.name == run_name:
                return run.paths.worker_log
        return None

    def poll(self) -> None:
        """Append what the logs followed gained since the last poll."""
        lines = self.follower.new_log_lines()
        if lines:
            self.query_one("#log", Log).write_lines(lines)
        self._poll_worker()

    def _poll_worker(self) -> None:
        if self._worker is None:
            return
        new = decoded(self._worker.poll())
        view = self.query_one("#worker-log", Log)
        if self._worker.reset or (new and self._placeholder):
            view.clear()
            self._placeholder = False
        if new:
            view.write_lines(new)
