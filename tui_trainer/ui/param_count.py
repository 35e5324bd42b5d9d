"""The parameter counts of the editor's form: `tui-trainer params` (which needs torch, which the
app never imports) run on the form's preset in another process. Called from a thread worker;
gives up early when the worker is cancelled (a newer form took over) and says what went wrong
when the count fails, so the editor never shows "counting…" for ever."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.text import Text

PARAMS_COMMAND = [sys.executable, "-m", "tui_trainer", "params"]  # + the preset file
PARAMS_TIMEOUT_S = 120.0


def count_parameters(
    preset_text: str, cancelled: Callable[[], bool], timeout: float | None = None
) -> Text | None:
    """`parameters: N total, M trainable` from `tui-trainer params` run on `preset_text` in
    another process; what went wrong instead when it fails, times out or prints something that
    is not its JSON; None when `cancelled()` turns true first (the process is killed)."""
    timeout = PARAMS_TIMEOUT_S if timeout is None else timeout
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as handle:
        handle.write(preset_text)
    try:
        process = subprocess.Popen(
            [*PARAMS_COMMAND, handle.name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                stdout, stderr = process.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if cancelled() or time.monotonic() > deadline:
                    process.kill()
                    process.communicate()
                    if cancelled():
                        return None
                    return not_counted(f"`tui-trainer params` took over {timeout:g} s")
    except OSError as error:
        return not_counted(f"cannot start `tui-trainer params`: {error.strerror or error}")
    finally:
        Path(handle.name).unlink(missing_ok=True)
    if process.returncode != 0:
        return not_counted((stderr.strip().splitlines() or [f"exit {process.returncode}"])[-1])
    try:
        counts = json.loads(stdout)
        totals = [(int(c["total"]), int(c["trainable"])) for c in counts.values()]
        total, trainable = totals[0]
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return not_counted("`tui-trainer params` did not answer with its JSON")
    text = Text(f"parameters: {total:,} total, {trainable:,} trainable")
    if len(set(totals)) > 1:
        text.append(f" (first of {len(totals)} runs; they differ)", style="dim")
    return text


def not_counted(why: str) -> Text:
    """The params line when there is no count: why."""
    return Text(f"parameters: not counted: {why}", style="red")
