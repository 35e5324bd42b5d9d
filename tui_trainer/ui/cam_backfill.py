"""The activation maps of a run's sample sheet, when it has none yet: `tui-trainer backfill
RUN_DIR --cam` (which needs torch and the run's checkpoint, which the app never imports) run in
another process from a thread worker of the inspect screen, the way the editor counts parameters
(ui/param_count.py). Its stdout says how far it is, one line `<what> <done>/<total>` at a time
(`cam 3/40`); each such line is handed to `progress` as it comes. Gives up when the worker is
cancelled (the screen closed) and says what went wrong when the command fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BACKFILL_COMMAND = [sys.executable, "-m", "tui_trainer", "backfill"]  # + RUN_DIR --cam
PROGRESS_RE = re.compile(r"^(?P<what>\S+) (?P<done>\d+)/(?P<total>\d+)$")


@dataclass(frozen=True)
class BackfillProgress:
    """One progress line of the command: `cam 3/40`."""

    what: str
    done: int
    total: int

    def words(self) -> str:
        return f"{self.what} {self.done}/{self.total}"


def parse_progress(line: str) -> BackfillProgress | None:
    """A `<what> <done>/<total>` line; None for any other line (those are not progress)."""
    match = PROGRESS_RE.match(line.strip())
    if match is None:
        return None
    return BackfillProgress(match["what"], int(match["done"]), int(match["total"]))


def backfill_cam(
    run_dir: Path, progress: Callable[[BackfillProgress], None], cancelled: Callable[[], bool]
) -> str | None:
    """Run the backfill; None when it wrote the maps (exit 0), else why not: the last line it
    wrote on stderr, or its exit code, or why it could not start. `cancelled()` is looked at
    after every line and every half second; when true the process is killed and the answer is
    `"cancelled"`."""
    try:
        process = subprocess.Popen(
            [*BACKFILL_COMMAND, str(run_dir), "--cam"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
    except OSError as error:
        return f"cannot start `tui-trainer backfill`: {error.strerror or error}"
    stderr_lines: list[str] = []
    drain = threading.Thread(
        target=lambda: stderr_lines.extend(process.stderr or ()), daemon=True
    )  # a chatty stderr must never fill its pipe and stall the process
    drain.start()
    watchdog = threading.Thread(target=_kill_when, args=(process, cancelled), daemon=True)
    watchdog.start()
    assert process.stdout is not None
    for line in process.stdout:
        step = parse_progress(line)
        if step is not None and not cancelled():
            progress(step)
    code = process.wait()
    drain.join(timeout=5)
    if cancelled():
        return "cancelled"
    if code == 0:
        return None
    said = [line.strip() for line in stderr_lines if line.strip()]
    return said[-1] if said else f"`tui-trainer backfill` exited with {code}"


def _kill_when(process: subprocess.Popen[str], cancelled: Callable[[], bool]) -> None:
    while process.poll() is None:
        if cancelled():
            process.kill()
            return
        try:
            process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            continue
