"""The state the monitor shows for its study: the follower's, except while the trainer loads.

A trainer takes seconds to import torch, read the data and build the model before it writes
anything; until then the study reads `unknown` (no study.toml yet) or `running` with every run
at step 0, which look like a stuck study. Both show as `starting`, for as long as the trainer
launched for it is alive (this app's child, or one whose trainer.log changed lately). So does a
parallel study whose runs are all still queued while its driver starts their workers: its runs
read `starting`, and the study says the same word, not `queued`."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from tui_trainer.store import status as st
from tui_trainer.store.follow import StudyFollower
from tui_trainer.ui.study_progress import shown_state


def watched_state(follower: StudyFollower, launched: Iterable = ()) -> str:
    """The study's state, `starting` while its trainer loads. `launched`: the app's trainers
    (items with `study_dir` and `process`)."""
    state = follower.state
    shown = {shown_state(run) for run in follower.runs.values()}
    if state in (st.RUNNING, st.QUEUED) and st.STARTING in shown and st.RUNNING not in shown:
        return st.STARTING
    if state == st.UNKNOWN and not follower.runs and _trainer_starting(follower, launched):
        return st.STARTING
    return state


def _trainer_starting(follower: StudyFollower, launched: Iterable) -> bool:
    root = follower.paths.root.absolute()
    for item in launched:
        if Path(item.study_dir).absolute() == root:
            return item.process.poll() is None
    try:
        age = time.time() - follower.paths.log.stat().st_mtime
    except OSError:
        return False
    return age < st.HEARTBEAT_STALE_S
