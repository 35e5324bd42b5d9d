"""How a trainer takes SIGINT and SIGTERM: the first asks it to stop after its current step (it
checkpoints there and the run reads `interrupted`); a second SIGINT stops it at once. The same for
the in-process trainer, a parallel study's driver and each of its workers. No torch.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class StopSignals:
    """First SIGINT/SIGTERM: set `event` (stop after the current step). Second SIGINT: raise
    KeyboardInterrupt at once. Restores the previous handlers on exit."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_number: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_number = signum
        self.event.set()

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals can only be handled on the main thread (tests call from others)
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
