"""How states and durations look, wherever they are shown (CLI tables, live display, the app)."""

from __future__ import annotations

import math

STATE_STYLES = {
    "running": "bold cyan",
    "completed": "green",
    "failed": "red",
    "crashed": "bold red",
    "diverged": "magenta",
    "interrupted": "yellow",
    "queued": "dim",
    "unknown": "dim",
}


def duration(seconds: float | None) -> str:
    """m:ss, or h:mm:ss from an hour on; '-' when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
