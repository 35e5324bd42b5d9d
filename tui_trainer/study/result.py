"""What a study's trainer returns (study/lifecycle.py, whichever executor trained it): the state
of each of its runs, the signal that stopped it, and the exit code both give."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

from tui_trainer.errors import ExitCode
from tui_trainer.store import status as st


@dataclass
class StudyResult:
    study_dir: Path
    states: dict[str, str] = field(default_factory=dict)
    signal_number: int | None = None

    @property
    def exit_code(self) -> ExitCode:
        if all(state in (st.COMPLETED, st.PRUNED) for state in self.states.values()):
            # a pruned run ended as its study asked; and OK even when a signal came during
            # the last run's test evaluation
            return ExitCode.OK
        if self.signal_number == signal.SIGTERM:
            return ExitCode.TERMINATED
        if self.signal_number is not None:
            return ExitCode.INTERRUPTED
        return ExitCode.RUN_FAILED
