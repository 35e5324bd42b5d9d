"""The one wall clock of the run directory's timestamps (heartbeats, starts, ends, resumes).

Every time written is an aware datetime taken from `utc_now()`, so a reader compares times that
a trainer on another host wrote without guessing their zone; study.toml shows them in the
writer's local zone (`utc_now().astimezone()`), still aware. Durations are not taken from it:
those use time.perf_counter, which no clock change moves."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(timezone.utc)
