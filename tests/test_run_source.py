"""The run source and the stop request, on both executors: a source that grows (a run added when
one ends, as a sampler will) and a source that asks a run to stop early after its first epoch row
(as a pruner will). The stopped run ends `pruned`, its reason as its message, its row and
checkpoint on disk; the others complete; the study exits 0. Tiny studies on digits: the local
workers case starts real `worker-run` processes with `--jobs 2`."""

from __future__ import annotations

import pytest

from tests.helpers import TINY_PRESET, Recorder
from tui_trainer.config.load import load_preset
from tui_trainer.config.schema import ParallelSection
from tui_trainer.config.sweep import RunSpec
from tui_trainer.console.plain import with_study_log
from tui_trainer.errors import ExitCode, UsageError
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import read_rows
from tui_trainer.store.reader import read_study
from tui_trainer.store.schema import read_status
from tui_trainer.store.study_files import NewRun, add_run
from tui_trainer.study import lifecycle
from tui_trainer.study.source import GridSource, SourceRun

ONE_EPOCH = TINY_PRESET.replace("epochs = 2", "epochs = 1")
# one run that would train long, one that ends at once: only the long one is asked to stop
LONG_AND_SHORT = TINY_PRESET + '\n[sweep]\n"train.epochs" = [30, 1]\n'
REASON = "pruned at epoch 1: val_acc below the median"


def in_process(settings: ParallelSection):
    from tui_trainer.train.in_process import InProcessExecutor

    return InProcessExecutor()


def local_workers(settings: ParallelSection):
    from tui_trainer.parallel.workers import WorkerExecutor

    return WorkerExecutor(settings.model_copy(update={"jobs": 2}), print)


EXECUTORS = [
    pytest.param(in_process, id="in-process"),
    pytest.param(local_workers, id="workers", marks=pytest.mark.process),
]


class GrowsOnce(GridSource):
    """The grid, and one run more, made when the first run ends (a sampler's new trial)."""

    def __init__(self, runs: list[SourceRun], extra: RunSpec):
        super().__init__(runs)
        self.extra: RunSpec | None = extra
        self.ended: list[tuple[str, str]] = []

    def begin(self, paths, locks):
        self.paths, self.locks = paths, locks

    def run_ended(self, name, state):
        self.ended.append((name, state))
        if self.extra is not None:
            spec, self.extra = self.extra, None
            run = NewRun(spec.name, spec.config.model_dump(), spec.config.train.epochs, {})
            add_run(self.paths, run, self.locks)
            self.add(SourceRun(spec))


class StopsTheLongRun(GridSource):
    """Asks the 30-epoch run to stop once its first epoch row lands."""

    def __init__(self, runs: list[SourceRun]):
        super().__init__(runs)
        self.rows: list[tuple[str, int]] = []

    def epoch_ended(self, name, row):
        self.rows.append((name, row["epoch"]))
        return REASON if name == "epochs=30" else None


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_source_that_grows_has_its_new_run_trained_after_the_first_ends(
    executor, write_preset, runs_dir
):
    loaded = load_preset(write_preset(ONE_EPOCH))
    (first,) = loaded.runs
    extra = RunSpec("grown", {}, first.config.model_copy(deep=True))
    source = GrowsOnce([SourceRun(first)], extra)
    result = lifecycle.start_study(
        loaded,
        runs_dir,
        executor(loaded.preset.parallel),
        with_study_log(Recorder()),
        argv=["test"],
        source=source,
    )
    assert source.ended == [("run", st.COMPLETED), ("grown", st.COMPLETED)]
    assert result.states == {"run": st.COMPLETED, "grown": st.COMPLETED}
    assert result.exit_code == ExitCode.OK
    grown = result.study_dir / "grown"
    assert read_status(grown / "status.toml").state == st.COMPLETED
    assert [row["epoch"] for row in read_rows(grown / "metrics.csv")] == [1]
    assert read_toml(grown / "config.toml") == read_toml(result.study_dir / "run" / "config.toml")


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_run_the_source_stops_early_ends_pruned_with_its_rows_and_checkpoint(
    executor, write_preset, runs_dir
):
    loaded = load_preset(write_preset(LONG_AND_SHORT))
    source = StopsTheLongRun([SourceRun(run) for run in loaded.runs])
    events = Recorder()
    result = lifecycle.start_study(
        loaded,
        runs_dir,
        executor(loaded.preset.parallel),
        with_study_log(events),
        argv=["test"],
        source=source,
    )
    assert result.states == {"epochs=30": st.PRUNED, "epochs=1": st.COMPLETED}
    assert result.exit_code == ExitCode.OK
    pruned = result.study_dir / "epochs=30"
    status = read_status(pruned / "status.toml")
    assert (status.state, status.message) == (st.PRUNED, REASON)
    epochs = [row["epoch"] for row in read_rows(pruned / "metrics.csv")]
    # in-process: stopped at the end of the very epoch; a worker reads it at its next heartbeat
    assert epochs[0] == 1 and len(epochs) < 30
    if executor is in_process:
        assert epochs == [1]
    assert (pruned / "checkpoints" / "last.pt").is_file()
    assert not (pruned / "summary.toml").exists()
    assert read_toml(pruned / "stop-request.toml")["reason"] == REASON
    assert ("run_finished", "epochs=30", st.PRUNED, None, REASON) in events.events
    assert ("epochs=30", 1) in source.rows
    short = result.study_dir / "epochs=1"
    assert read_status(short / "status.toml").state == st.COMPLETED
    assert not (short / "stop-request.toml").exists()
    # final: `resume` leaves a pruned run as it is
    study = read_study(result.study_dir)
    assert {run.name: run.state for run in study.runs} == result.states
    with pytest.raises(UsageError, match=r"epochs=30 was pruned \(stopped early by its study"):
        lifecycle.resume_study(study, "epochs=30", executor(loaded.preset.parallel), Recorder())
    with pytest.raises(UsageError, match="nothing to resume"):
        lifecycle.resume_study(study, None, executor(loaded.preset.parallel), Recorder())
