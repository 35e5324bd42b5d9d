"""The runs browser reads first. It reads every study on the UI thread when it shows (it lists
them as they are now), while the app's start-up workers (the presets' time estimates, the search
for a running study) may still be reading the same studies in threads. Run together they share
one interpreter lock, and with 500 studies the browser pressed at once read them in 2 s instead
of 0.5. So a worker, before each study, waits while the browser reads and draws the list (at
most WAIT_S at a time, so that nothing waits on a frame that never comes); a cancelled worker
stops there."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from textual.app import App
from textual.worker import Worker

WAIT_S = 2.0


class BrowserFirst:
    """One per app: the browser says when it reads, the workers ask before each study."""

    def __init__(self) -> None:
        self._idle = threading.Event()
        self._idle.set()

    @contextmanager
    def reading(self, app: App) -> Iterator[None]:
        """Around the browser's read of the studies (on the UI thread, which never waits here):
        the workers wait from its start until `app` has drawn the frame after it."""
        self._idle.clear()
        try:
            yield
        finally:
            app.call_after_refresh(self._idle.set)

    def stopped(self, worker: Worker) -> Callable[[], bool]:
        """For a worker that reads every study (store.timing.setup_timings' and
        ui.reopen.study_to_reopen's `stopped`): before each study, wait while the browser
        reads; then say whether the worker was cancelled, to stop."""

        def stopped() -> bool:
            self._idle.wait(WAIT_S)
            return worker.is_cancelled

        return stopped
