"""A replay of a finished study in the monitor, as a value: the epoch shown (charts and table as
they were then), the speed in epochs per second, paused or playing. Each key gives a new Replay;
the monitor redraws when its Replay changes (no textual, no torch)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

MIN_SPEED, MAX_SPEED = 0.25, 64.0  # epochs per second


@dataclass(frozen=True)
class Replay:
    epoch: float | None = None  # None: no replay, everything there is is shown
    speed: float = 2.0
    paused: bool = False

    @property
    def shown_epoch(self) -> float | None:
        """The epoch whose rows are shown: the replay clock's whole epochs (a row is one epoch,
        so nothing drawn changes between two of them)."""
        return None if self.epoch is None else float(math.floor(self.epoch))

    def shown(self) -> tuple[float | None, float, bool]:
        """What a person sees of this replay: the screen redraws only when it changes."""
        return self.shown_epoch, self.speed, self.paused

    def started(self) -> Replay:
        """`p`: from epoch 1, playing."""
        return dataclasses.replace(self, epoch=1.0, paused=False)

    def advanced(self, seconds: float, last: int) -> Replay:
        """`seconds` later; over at the `last` epoch (epoch None)."""
        if self.epoch is None or self.paused:
            return self
        epoch = self.epoch + self.speed * seconds
        return dataclasses.replace(self, epoch=epoch if epoch < last else None)

    def toggled(self) -> Replay:
        """`space`: pause or play (nothing outside a replay)."""
        return self if self.epoch is None else dataclasses.replace(self, paused=not self.paused)

    def scrubbed(self, step: int, last: int) -> Replay:
        """`left`/`right`: an epoch back or on, paused; nothing outside a replay (scrubbing
        belongs to a replay: a live study must never be shown as one)."""
        if self.epoch is None or last == 0:
            return self
        return dataclasses.replace(
            self, epoch=min(max(1.0, int(self.epoch) + step), float(last)), paused=True
        )

    def ended(self) -> Replay:
        """`p` in a replay: back to everything there is (live, for a study still running)."""
        return dataclasses.replace(self, epoch=None, paused=False)

    def faster(self, factor: float) -> Replay:
        """`+`/`-`: the speed times `factor`, within MIN_SPEED..MAX_SPEED."""
        speed = min(MAX_SPEED, max(MIN_SPEED, self.speed * factor))
        return dataclasses.replace(self, speed=speed)

    def words(self, last: int) -> str | None:
        """'replay epoch 3/15 x2  paused' for the title; None outside a replay."""
        if self.epoch is None:
            return None
        paused = "  paused" if self.paused else ""
        return f"replay epoch {min(int(self.epoch), last)}/{last} x{self.speed:g}{paused}"
