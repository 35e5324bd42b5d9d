"""Where a screen wants to go, and what it wants done to a study, said as typed messages.

A screen never imports another screen nor calls the app's methods to move on: it posts one of
these, the message bubbles from the screen to the app, and the app's handlers
(`on_open_monitor`, `on_trainer_stop`, ...) are the one place that pushes screens and starts or
stops trainers. So the screens import no screen (no import cycles, no imports inside functions),
and a test can post a message to drive the app the way a key would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from textual.message import Message


class Open:
    """Open a screen on top of the current one (`esc` comes back), or go back to the presets."""

    @dataclass
    class Presets(Message):
        """Back to the list of presets, closing the screens above it."""

    @dataclass
    class Runs(Message):
        """The runs browser: every study in the runs directory."""

    @dataclass
    class Launch(Message):
        """The launch screen of a preset: overrides, then a detached trainer."""

        preset: Path

    @dataclass
    class Editor(Message):
        """The editor of a preset: every key as a field."""

        preset: Path

    @dataclass
    class Monitor(Message):
        """A study, live or finished, in the monitor."""

        study_dir: Path

    @dataclass
    class Inspect(Message):
        """One run's test split: confusion matrix, per-class figures, sample images."""

        run_dir: Path
        study_id: str = ""

    @dataclass
    class Compare(Message):
        """Studies side by side."""

        study_dirs: list[Path]

    @dataclass
    class Help(Message):
        """The keys, opened at the section of the screen that asked (None: at the top)."""

        section: str | None = None


class Trainer:
    """Start, resume or stop a study's trainer (the app keeps the processes it started)."""

    @dataclass
    class Launch(Message):
        """Start `preset` with `overrides` as a study named `name`, then watch it."""

        preset: Path
        overrides: list[str] = field(default_factory=list)
        name: str = ""

    @dataclass
    class Resume(Message):
        """Resume the study (asks first; says why when there is nothing to resume)."""

        study_dir: Path

    @dataclass
    class Stop(Message):
        """Stop the study's trainer (asks first; says so when none is alive)."""

        study_dir: Path


@dataclass
class PresetSaved(Message):
    """The editor wrote a preset: it joins the presets screen's list."""

    path: Path
