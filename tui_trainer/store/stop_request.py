"""A request to stop one run early, for a reason of the study's own (a search prunes a trial):
written by the study's trainer into the run directory, read by whoever trains the run (the
in-process RunTrainer, or a worker on any host) at its next status heartbeat and at each epoch's
end. Through the run directory, because the run's trainer may be on another machine, where a
signal to a pid means nothing; and a signal could not carry the reason.

The run then checkpoints where it is and ends in the final state `pruned`, the reason as its
status message. The file stays as the record of why; a run that ended otherwise before it read
the request is not changed by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.clock import utc_now

MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class StopRequest:
    reason: str
    time: datetime | None = None


def write_stop_request(path: Path, reason: str) -> None:
    """Ask the run whose stop-request.toml is `path` to stop early (atomically: a reader sees
    the whole request or none). OSError when it cannot be written."""
    now = utc_now().astimezone()
    write_toml_atomic(path, {"reason": reason[:MAX_REASON_CHARS], "time": now})


def read_stop_request(path: Path) -> StopRequest | None:
    """The request in `path`, or None when there is none (or it is not a request: a reason is
    a string)."""
    data = read_toml(path)
    if data is None:
        return None
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        reason = "stopped early by the study"
    when = data.get("time")
    return StopRequest(reason[:MAX_REASON_CHARS], when if isinstance(when, datetime) else None)


__all__ = ["StopRequest", "read_stop_request", "write_stop_request"]
