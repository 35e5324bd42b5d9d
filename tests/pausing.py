"""A test's way to stop a worker at a named moment: in the middle of writing a file (last.pt, say)
its temp file half written, so that a kill lands there and nowhere else.

The pause is a `sitecustomize` module put first on the PYTHONPATH of the processes a test
starts (the driver and, through their inherited environment, its workers): it wraps
store.atomic.write_bytes_atomic, and in the process that writes the named file of the named
run for the n-th time it writes half the bytes to the temp file, records its pid in a marker
file and sleeps. Nothing of the product knows of it; a run that never reaches the moment never
pauses, and a test waits for the marker with a timeout.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.helpers import REPO

SITECUSTOMIZE = """
import os

_WHERE = os.environ.get("TUI_TRAINER_TEST_PAUSE")
if _WHERE:
    import time
    from pathlib import Path

    from tui_trainer.store import atomic

    _run, _name, _nth, _marker = _WHERE.split("|")
    _real = atomic.write_bytes_atomic
    _seen = [0]

    def write_bytes_atomic(path, data, *, durable=False):
        path = Path(path)
        if path.name == _name and path.parent.parent.name == _run:
            _seen[0] += 1
            if _seen[0] == int(_nth) and not Path(_marker).exists():
                temp = path.parent / (atomic.TEMP_PREFIX + path.name + ".paused")
                with open(temp, "wb") as handle:
                    handle.write(data[: len(data) // 2])
                    handle.flush()
                Path(_marker).write_text(str(os.getpid()))
                time.sleep(600)
        return _real(path, data, durable=durable)

    atomic.write_bytes_atomic = write_bytes_atomic
"""


def pausing_env(folder: Path, run: str, name: str, nth: int) -> tuple[dict[str, str], Path]:
    """The environment of a process whose worker of `run` pauses while writing `name` (under its
    run directory's subfolder, as checkpoints/last.pt) the `nth` time; and the marker file that
    holds the paused worker's pid once it pauses."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    marker = folder / "paused.pid"
    path = os.pathsep.join([str(folder), str(REPO), os.environ.get("PYTHONPATH", "")])
    env = {
        **os.environ,
        "PYTHONPATH": path.rstrip(os.pathsep),
        "TUI_TRAINER_TEST_PAUSE": f"{run}|{name}|{nth}|{marker}",
    }
    return env, marker


def paused_pid(marker: Path, timeout: float = 120) -> int:
    """The pid the marker names, once it does (AssertionError after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not (marker.exists() and marker.read_text()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for the pause ({marker})")
        time.sleep(0.05)
    return int(marker.read_text())
