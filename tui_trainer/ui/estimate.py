"""How long a study will take here, from runs of the same setups that finished on this machine
(store.timing): the presets screen shows it short (`~0:40`), the launch screen in words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tui_trainer.config.sweep import RunSpec
from tui_trainer.console.formats import duration
from tui_trainer.store.timing import SetupKey, SetupTiming, setup_key


@dataclass(frozen=True)
class Estimate:
    seconds: float  # the runs whose setup was timed here
    timed: int  # how many runs that is
    runs: int

    @property
    def short(self) -> str:
        """'~1:02:03' when every run's setup has been timed here, '≥…' when some have, else '-'."""
        if self.timed == 0:
            return "-"
        return ("≥" if self.timed < self.runs else "~") + duration(self.seconds)

    @property
    def words(self) -> str:
        """The estimate as the launch screen says it, with what it rests on."""
        if self.timed == 0:
            return "time: no estimate yet: no run of this setup has finished here"
        if self.timed < self.runs:
            return (
                f"time: at least {duration(self.seconds)} ({self.timed} of {self.runs} runs "
                "have a setup timed here)"
            )
        return f"time: about {duration(self.seconds)} (runs of this setup timed here)"


def estimate(runs: Sequence[RunSpec], timings: Mapping[SetupKey | None, SetupTiming]) -> Estimate:
    """The study's time: each run's epochs at its setup's steady pace, plus its start-up."""
    seconds, timed = 0.0, 0
    for run in runs:
        timing = timings.get(setup_key(run.config.model_dump()))
        if timing is not None:
            seconds += timing.run_seconds(run.config.train.epochs)
            timed += 1
    return Estimate(seconds, timed, len(runs))
