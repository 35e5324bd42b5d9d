"""What the app checks before it offers or starts `tui-trainer resume`, and how it asks.

The same rules as the command (store.resumable.plan), plus one the app needs: a study whose
trainer is alive between two runs has no running run, yet its queued runs are that trainer's to
start, so it is not resumed. Reads the study once, on a key press: never on the monitor's poll.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from tui_trainer.errors import UnavailableError
from tui_trainer.store import status as st
from tui_trainer.store.reader import StudyRecord, read_study
from tui_trainer.store.resumable import ResumeTarget, plan

# The study states for which the monitor and the runs browser say that `r` resumes.
OFFERED_STATES = (st.CRASHED, st.INTERRUPTED, st.FAILED)


def resume_plan(
    study_dir: Path, run_name: str | None = None
) -> tuple[StudyRecord, list[ResumeTarget]]:
    """The study and the runs `tui-trainer resume` would continue or start. UsageError when
    there is nothing to resume, UnavailableError while a trainer of the study is alive."""
    study = read_study(Path(study_dir))
    targets = plan(study, run_name)
    live = st.live_trainer(study.trainers)
    if live is not None:
        raise UnavailableError(
            f"{study.id}: the study is still running (trainer pid {live.pid}): its queued runs "
            "are that trainer's to start"
        )
    return study, targets


def question(study: StudyRecord, targets: list[ResumeTarget]) -> str:
    """The confirmation asked before resuming: how many runs, from checkpoints or from scratch."""
    resumed = sum(1 for target in targets if target.from_checkpoint)
    queued = len(targets) - resumed
    if resumed and queued:
        text = (
            f"Resume {resumed} run(s) of {study.id} from their last checkpoints "
            f"and start {queued} queued?"
        )
    elif resumed:
        text = f"Resume {resumed} run(s) of {study.id} from their last checkpoints?"
    else:
        text = f"Start the {queued} queued run(s) of {study.id}?"
    names = ", ".join(target.name for target in targets)
    names = names if len(names) <= 160 else names[:157] + "..."
    return escape(f"{text}\n{names}")  # the Confirm shows markup: a name may hold brackets
