"""The monitor's study progress and ETA (ui/study_progress.py): queued runs spread over as many
lanes as runs are running, each lane freeing at its running run's ETA; with one run running,
exactly the one-at-a-time estimate it always was."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from tui_trainer.store import status as st
from tui_trainer.store.follow import RunSeries
from tui_trainer.store.schema import RunStatus
from tui_trainer.ui.study_progress import lanes_finish, run_eta, study_progress


def run(state, epoch=0, epochs=10, elapsed_s=None, eta_s=None, name=None):
    status = RunStatus(state=state, epoch=epoch, epochs=epochs, elapsed_s=elapsed_s, eta_s=eta_s)
    return RunSeries(name or f"run{id(status)}", status=status, state=state)


def one_at_a_time(series):
    """The estimate before parallel studies (monitor.py at eb02194): the first running run's
    ETA plus every queued epoch at the mean pace."""
    remaining = [s.status.eta_s for s in series if s.state == st.RUNNING]
    paces = [
        s.status.elapsed_s / s.status.epoch for s in series if s.status.elapsed_s and s.status.epoch
    ]
    queued = sum(s.status.epochs for s in series if s.state == st.QUEUED)
    if not remaining or remaining[0] is None:
        return None
    return remaining[0] + (sum(paces) / len(paces) * queued if paces else 0)


def test_one_running_run_gives_its_eta_plus_the_queued_epochs_at_the_mean_pace():
    series = [
        run(st.COMPLETED, epoch=5, epochs=5, elapsed_s=50.0),  # 10 s/epoch
        run(st.RUNNING, epoch=2, epochs=5, elapsed_s=24.0, eta_s=100.0),  # 12 s/epoch
        run(st.QUEUED, epochs=10),
        run(st.QUEUED, epochs=5),
    ]
    assert study_progress(series) == (25, 7, 100.0 + 11.0 * 15)


@given(
    epochs=hs.lists(hs.integers(1, 300), min_size=1, max_size=6),
    done=hs.lists(hs.integers(0, 300), min_size=6, max_size=6),
    elapsed=hs.lists(hs.floats(0.1, 1e5), min_size=6, max_size=6),
    eta=hs.floats(0, 1e6),
)
def test_with_one_lane_it_is_exactly_the_one_at_a_time_estimate(epochs, done, elapsed, eta):
    series = [
        run(st.COMPLETED, epoch=epochs[0], epochs=epochs[0], elapsed_s=elapsed[0]),
        run(st.RUNNING, epoch=min(done[1], epochs[0]), epochs=epochs[0], elapsed_s=elapsed[1],
            eta_s=eta),
        *(run(st.QUEUED, epochs=n) for n in epochs[1:]),
    ]  # fmt: skip
    assert study_progress(series)[2] == one_at_a_time(series)


def test_queued_runs_go_to_the_lane_that_frees_first():
    series = [
        run(st.RUNNING, epoch=4, elapsed_s=40.0, eta_s=60.0),  # every pace 10 s/epoch
        run(st.RUNNING, epoch=2, elapsed_s=20.0, eta_s=80.0),
        *(run(st.QUEUED, epochs=10) for _ in range(3)),
    ]
    # lane 1: 60 -> 160 -> 260 (the third queued run); lane 2: 80 -> 180
    assert study_progress(series) == (50, 6, 260.0)
    assert one_at_a_time(series) == 360.0  # what one lane would have said


def test_the_hand_written_parallel_study_ends_when_its_third_lane_does(tmp_path):
    from tests.helpers import parallel_study
    from tui_trainer.store.follow import StudyFollower

    follower = StudyFollower(parallel_study(tmp_path / "runs"))
    follower.poll()
    # running ETAs 60, 70, 80; two queued runs of 10 epochs at 10 s: 60+100, 70+100, 80
    assert study_progress(list(follower.runs.values())) == (60, 19, 170.0)


def test_a_long_running_run_can_outlast_every_queued_one():
    series = [
        run(st.RUNNING, epoch=1, elapsed_s=10.0, eta_s=1000.0),
        run(st.RUNNING, epoch=1, elapsed_s=10.0, eta_s=10.0),
        run(st.QUEUED, epochs=5),
        run(st.QUEUED, epochs=5),
    ]
    assert study_progress(series)[2] == 1000.0  # both queued runs fit in the second lane


def test_no_eta_while_a_running_run_has_none_or_nothing_runs():
    assert study_progress([run(st.RUNNING, eta_s=50.0), run(st.RUNNING)])[2] is None
    assert study_progress([run(st.COMPLETED, epoch=10), run(st.QUEUED)])[2] is None
    assert study_progress([run(st.STALLED, eta_s=5.0), run(st.QUEUED)])[2] is None


def test_without_a_finished_epoch_queued_runs_count_as_nothing():
    series = [run(st.RUNNING, eta_s=30.0), run(st.RUNNING, eta_s=40.0), run(st.QUEUED)]
    assert study_progress(series)[2] == 40.0


def in_epoch_1(first_row_elapsed_s: float) -> RunSeries:
    """A run of 2 epochs of 10 steps, at step 5 of epoch 1, with one step row logged."""
    series = RunSeries(f"run{first_row_elapsed_s}", state=st.RUNNING)
    series.status = RunStatus(state=st.RUNNING, epoch=0, epochs=2, step=5, steps_per_epoch=10)
    series.steps = [{"epoch": 1, "step": 5, "elapsed_s": first_row_elapsed_s}]
    return series


def test_in_epoch_1_one_step_row_gives_each_run_an_eta_and_queued_runs_the_step_pace():
    """1 s a step: each running run has 15 steps left; the queued run's 2 epochs of 10 steps
    take 20 s on the lane that frees first."""
    series = [in_epoch_1(5.0), in_epoch_1(5.0), run(st.QUEUED, epochs=2)]
    assert [run_eta(s) for s in series[:2]] == [15.0, 15.0]
    assert study_progress(series)[2] == 35.0


def test_lanes_finish_breaks_ties_to_the_first_lane_and_needs_a_lane():
    assert lanes_finish([10.0, 10.0], [1, 1, 1], pace=5.0) == 20.0  # 10+10 and 10+5
    assert lanes_finish([0.0], [], pace=None) == 0.0
    with pytest.raises(ValueError):
        lanes_finish([], [3], pace=1.0)


def test_hostile_figures_give_no_eta_rather_than_a_wrong_one():
    series = [run(st.RUNNING, eta_s=math.inf), run(st.QUEUED, epochs=-5)]
    assert study_progress(series) == (10, 0, None)  # -5 epochs is no count


def test_a_parallel_study_whose_driver_starts_its_workers_reads_starting_as_its_runs_do():
    from types import SimpleNamespace

    from tui_trainer.ui.study_progress import shown_state
    from tui_trainer.ui.watched_state import watched_state

    def queued(waiting: str) -> SimpleNamespace:
        status = SimpleNamespace(epoch=0, step=0, waiting=waiting)
        return SimpleNamespace(state="queued", status=status, steps=[])

    runs = {"lr=0.1": queued("starting"), "lr=0.2": queued("waiting for a free job")}
    follower = SimpleNamespace(state="queued", runs=runs)
    assert [shown_state(run) for run in runs.values()] == ["starting", "queued"]
    assert watched_state(follower) == "starting"
    follower.runs = {"lr=0.2": queued("waiting for a free job")}
    assert watched_state(follower) == "queued"
