"""Parallel studies on one machine: slots (GPU packing with mocked devices, CPU cores split), the
driver's verdict on a worker that ended, `worker-run` idempotent and resuming exactly, and the
real CLI with `--jobs 2`: the same rows as one run after another, a killed worker retried, the
driver stopped (SIGTERM) or killed (SIGKILL) and the study resumed, nothing lost."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers import TIMING_COLUMNS, TINY_PRESET, interrupted_study, train
from tests.pausing import paused_pid, pausing_env
from tui_trainer.errors import ExitCode, UnavailableError
from tui_trainer.parallel.backend import Exit, Job, worker_command
from tui_trainer.parallel.schedule import BUSY_TRIES, BUSY_WAIT_S, judge
from tui_trainer.parallel.slots import pack_gpus, plan_slots, visible_gpus
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.csvlog import read_rows
from tui_trainer.store.reader import read_study

RUNS = ("lr=0.05", "lr=0.1", "lr=0.2")
THREE_RUNS = TINY_PRESET.replace("epochs = 2", "epochs = 3") + (
    '\n[sweep]\n"optim.lr" = [0.05, 0.1, 0.2]\n'
)


def cores() -> int:
    return len(os.sched_getaffinity(0))


def learned(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]


def cli(
    *args: str, env: dict | None = None, timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def wait_for(condition, timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def the_study(runs_dir: Path) -> Path:
    (study,) = [p for p in runs_dir.iterdir() if (p / "study.toml").exists()]
    return study


def rows_of(study: Path, names: tuple[str, ...] = RUNS) -> dict[str, list[dict]]:
    return {name: learned(read_rows(study / name / "metrics.csv")) for name in names}


def has_rows(run: Path) -> bool:
    return len(read_rows(run / "metrics.csv")) >= 1


def training_with_jobs_2(
    preset: Path, runs_dir: Path, *options: str, row_of: str = "lr=0.05"
) -> tuple[subprocess.Popen, Path]:
    """`run PRESET --jobs 2 OPTIONS` started, once its run `row_of` has finished an epoch."""
    driver = start("run", str(preset), "--runs-dir", str(runs_dir), "--jobs", "2", *options)
    wait_for(lambda: any(runs_dir.glob("*/study.toml")), what="the study")
    study = the_study(runs_dir)
    wait_for(lambda: has_rows(study / row_of), what="a first row")
    return driver, study


@pytest.fixture(scope="module")
def preset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("preset") / "three.toml"
    path.write_text(THREE_RUNS)
    return path


@pytest.fixture(scope="module")
def reference(preset, tmp_path_factory) -> dict[str, list[dict]]:
    """The three runs trained one after another in one process, at the thread count each
    worker of `--jobs 2` gets: what every parallel run must reproduce bit for bit."""
    runs_dir = tmp_path_factory.mktemp("serial")
    threads = str(max(1, cores() // 2))
    result = cli("run", str(preset), "--runs-dir", str(runs_dir), env={"OMP_NUM_THREADS": threads})
    assert result.returncode == 0, result.stdout + result.stderr
    return rows_of(the_study(runs_dir))


# -- slots -----------------------------------------------------------------------------------------


def test_two_runs_per_gpu_over_two_gpus_fill_gpu_0_first():
    assert pack_gpus(["0", "1"], 2) == ["0", "0", "1", "1"]
    plan = plan_slots("cuda", ["0", "1"], [], runs_per_gpu=2, jobs=0, cores=16)
    assert [s.gpu for s in plan.slots] == ["0", "0", "1", "1"]
    assert {s.share for s in plan.slots} == {2} and {s.threads for s in plan.slots} == {4}
    assert plan.device == "cuda" and plan.warnings == []


def test_gpus_are_named_as_cuda_visible_devices_maps_them():
    visible = visible_gpus(2, "2,3")
    assert visible == ["2", "3"]
    plan = plan_slots("cuda", visible, [1], runs_per_gpu=1, jobs=0, cores=8)
    assert [s.gpu for s in plan.slots] == ["3"]
    assert visible_gpus(3, None) == ["0", "1", "2"]
    assert visible_gpus(1, "GPU-1f2e, GPU-9a") == ["GPU-1f2e"]


def test_jobs_beyond_the_gpu_slots_are_said_and_capped():
    plan = plan_slots("cuda", ["0"], [], runs_per_gpu=2, jobs=5, cores=8)
    assert [s.gpu for s in plan.slots] == ["0", "0"]
    assert "at most 2 runs train at once" in plan.warnings[0]
    plan = plan_slots("cuda", ["0", "1"], [], runs_per_gpu=4, jobs=3, cores=12)
    assert [s.gpu for s in plan.slots] == ["0", "0", "0"]


def test_the_cores_are_split_between_the_runs_that_can_be_at_once():
    plan = plan_slots("cpu", [], [], runs_per_gpu=1, jobs=8, cores=16, runs=2)
    assert [s.threads for s in plan.slots] == [8, 8] and plan.warnings == []


def test_cpu_jobs_split_the_cores_and_more_jobs_than_cores_is_said():
    plan = plan_slots("cpu", [], [], runs_per_gpu=1, jobs=4, cores=16)
    assert [s.threads for s in plan.slots] == [4, 4, 4, 4] and plan.warnings == []
    plan = plan_slots("cpu", [], [], runs_per_gpu=1, jobs=3, cores=2)
    assert [s.threads for s in plan.slots] == [1, 1, 1]
    assert "more than this machine's 2 CPU cores" in plan.warnings[0]


def test_gpus_that_are_not_there_are_refused():
    with pytest.raises(UnavailableError, match="shows 2 GPU"):
        plan_slots("cuda", ["0", "1"], [2], runs_per_gpu=1, jobs=0, cores=4)
    with pytest.raises(UnavailableError, match="not on CUDA GPUs"):
        plan_slots("cpu", [], [0], runs_per_gpu=1, jobs=2, cores=4)


def test_a_worker_command_names_its_run_attempt_parent_and_share():
    job = Job("lr=0.1", Path("/r/s/lr=0.1"), attempt=2)
    command = worker_command(job, "cuda", 4, 77, gpu_share=2, python="py")
    assert command == [
        "py", "-m", "tui_trainer", "worker-run", "/r/s/lr=0.1", "--device", "cuda",
        "--attempt", "2", "--threads", "4", "--parent", "77", "--gpu-share", "2",
    ]  # fmt: skip


def test_the_driver_lets_go_of_a_run_however_its_path_is_written(tmp_path, monkeypatch):
    from tui_trainer.store.lock import RunLocks, is_locked

    monkeypatch.chdir(tmp_path)
    Path("runs/s/a").mkdir(parents=True)
    with RunLocks() as locks:
        locks.acquire(Path("runs/s/a"))
        locks.release_one(Path("runs/s/a").absolute())
        assert is_locked(tmp_path / "runs/s/a") is False


# -- the verdict on a worker that ended ------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "exit", "attempt", "stopping", "state", "retry"),
    [
        (st.COMPLETED, Exit(0), 1, False, st.COMPLETED, False),
        (st.FAILED, Exit(1), 1, False, st.FAILED, False),  # a result, never retried
        (st.DIVERGED, Exit(1), 1, False, st.DIVERGED, False),
        (st.PRUNED, Exit(0), 1, False, st.PRUNED, False),  # stopped as its study asked
        (st.PRUNED, Exit(-9), 1, False, st.PRUNED, False),  # killed after it was pruned
        (st.INTERRUPTED, Exit(143), 1, True, st.INTERRUPTED, False),  # the study stopped
        (st.INTERRUPTED, Exit(143), 1, False, st.INTERRUPTED, True),  # a drain's SIGTERM
        (st.RUNNING, Exit(75), 1, False, st.CRASHED, True),  # held elsewhere: again later
        (st.RUNNING, Exit(75), 1, True, st.CRASHED, False),
        (st.RUNNING, Exit(3), 1, False, st.CRASHED, False),
        (st.RUNNING, Exit(74), 1, False, st.CRASHED, False),  # unwritable: the study stops
        (st.FAILED, Exit(74), 1, False, st.FAILED, False),
        (st.RUNNING, Exit(-9), 1, False, st.CRASHED, True),  # kill -9: resumed
        (st.RUNNING, Exit(-9), 3, False, st.CRASHED, False),  # retries (2) used up
        (st.RUNNING, Exit(None, lost="its node died"), 2, False, st.CRASHED, True),
        (st.RUNNING, Exit(-9), 1, True, st.CRASHED, False),  # the study is stopping
        (st.QUEUED, Exit(2), 1, False, st.QUEUED, False),  # refused: would refuse again
        (st.QUEUED, Exit(3), 1, False, st.QUEUED, False),
        (st.QUEUED, Exit(-9), 1, False, st.QUEUED, True),  # killed while it loaded its data
    ],
)
def test_the_driver_retries_only_a_worker_that_died(written, exit, attempt, stopping, state, retry):
    verdict = judge(written, exit, attempt, retries=2, stopping=stopping)
    assert (verdict.state, verdict.retry) == (state, retry)


def test_a_run_held_by_another_process_is_tried_again_after_a_wait_until_its_tries_run_out():
    """The busy retries are judge's alone: a wait of BUSY_WAIT_S and no retry used, each time
    until BUSY_TRIES, then left as it is."""
    first = judge(st.QUEUED, Exit(75), 1, retries=0, stopping=False, busy=0)
    last = judge(st.QUEUED, Exit(75), 1, retries=0, stopping=False, busy=BUSY_TRIES - 1)
    over = judge(st.QUEUED, Exit(75), 1, retries=0, stopping=False, busy=BUSY_TRIES)
    assert (first.retry, first.wait_s) == (True, BUSY_WAIT_S) == (True, 10.0)
    assert (last.retry, last.wait_s) == (True, 10.0)
    assert (over.state, over.retry, over.wait_s) == (st.QUEUED, False, 0.0)


def test_a_worker_that_could_write_nothing_stops_the_study_naming_its_run_directory(tmp_path):
    """Exit 74 with neither status.toml nor worker.log written (the disk had no room even for
    them): the study stops all the same, its one line naming the run directory."""
    from tests.helpers import Recorder
    from tui_trainer.parallel.schedule import Schedule
    from tui_trainer.signals import StopSignals
    from tui_trainer.store.layout import StudyPaths
    from tui_trainer.study.source import GridSource

    paths = StudyPaths(tmp_path / "study")
    paths.run("run").root.mkdir(parents=True)
    events = Recorder()
    states: dict[str, str] = {}
    schedule = Schedule(
        paths,
        GridSource([]),
        None,
        1,
        2,
        events,
        None,
        StopSignals(),
        states,  # type: ignore[arg-type]
    )
    schedule._ended(Job("run", paths.run("run").root), Exit(74))
    assert schedule.unwritable == (
        f"cannot write {paths.run('run').root}: its worker found it full or read-only"
    )
    assert schedule.stopping and schedule.states == {"run": st.QUEUED}
    assert ("note", f"run: {schedule.unwritable}; the study stops") in events.events


def test_an_exit_says_how_the_worker_ended():
    assert Exit(-9).describe() == "killed by SIGKILL"
    assert Exit(1).describe() == "exited with status 1"
    assert Exit(None, lost="lost with node 10.0.0.7").describe() == "lost with node 10.0.0.7"


# -- worker-run ------------------------------------------------------------------------------------


@pytest.mark.process
def test_worker_run_of_a_completed_run_changes_nothing(write_preset, runs_dir):
    _, result = train(write_preset, runs_dir)
    run = result.study_dir / "run"
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.is_file()}
    done = cli("worker-run", str(run))
    assert done.returncode == 0, done.stderr
    assert "already completed; nothing to do" in done.stdout
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.is_file()}
    assert after == before


@pytest.mark.process
def test_worker_run_resumes_an_interrupted_run_exactly(write_preset, runs_dir, tmp_path):
    reference_dir = tmp_path / "reference"
    _, whole = train(write_preset, reference_dir)
    study = interrupted_study(write_preset(), runs_dir)
    result = cli("worker-run", str(study / "run"), "--attempt", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    status = read_toml(study / "run" / "status.toml")
    assert status["state"] == st.COMPLETED and status["attempt"] == 2 and status["resumes"] == 1
    assert learned(read_rows(study / "run" / "metrics.csv")) == learned(
        read_rows(whole.study_dir / "run" / "metrics.csv")
    )


@pytest.mark.process
def test_worker_run_refuses_a_run_another_trainer_holds(write_preset, runs_dir, monkeypatch):
    from tui_trainer.store.lock import RunLocks
    from tui_trainer.train import worker

    study = interrupted_study(write_preset(), runs_dir)
    monkeypatch.setattr(worker, "LOCK_WAIT_S", 0.2)
    with RunLocks() as locks:
        locks.acquire(study / "run")
        code = subprocess.run(
            [sys.executable, "-c", "import sys; from tui_trainer.train import worker; "
             "worker.LOCK_WAIT_S = 0.2; from tui_trainer.cli import main; sys.argv = "
             f"['tui-trainer', 'worker-run', {str(study / 'run')!r}]; main()"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert code.returncode == ExitCode.BUSY  # the driver tries again later
    assert "another process holds it" in code.stderr
    assert read_toml(study / "run" / "status.toml")["state"] == st.INTERRUPTED


# -- the CLI with --jobs 2 -------------------------------------------------------------------------


@pytest.mark.process
def test_jobs_2_gives_every_run_the_rows_of_one_after_another(preset, reference, tmp_path):
    runs_dir = tmp_path / "runs"  # given relative, as the default ./runs is
    result = cli("run", str(preset), "--runs-dir", "runs", "--jobs", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    study = the_study(runs_dir)
    assert rows_of(study) == reference
    for name in RUNS:
        status = read_toml(study / name / "status.toml")
        assert status["attempt"] == 1 and status["threads"] == max(1, cores() // 2)
        assert "waiting" not in status
        assert "completed" in (study / name / "worker.log").read_text()
    recorded = read_toml(study / "study.toml")
    assert recorded["parallel"]["jobs"] == 2
    log = (study / "trainer.log").read_text()
    assert "3 run(s), at most 2 at once" in log and "study finished: 3 completed" in log
    assert "holds it" not in log  # each worker found its run's lock let go by the driver


@pytest.mark.process
def test_a_worker_killed_is_resumed_and_its_rows_equal_an_uninterrupted_run(
    preset, reference, tmp_path
):
    runs_dir = tmp_path / "runs"
    driver, study = training_with_jobs_2(preset, runs_dir)
    pid = read_toml(study / "lr=0.05" / "status.toml")["pid"]
    os.kill(pid, signal.SIGKILL)
    output, _ = driver.communicate(timeout=300)
    assert driver.returncode == 0, output
    assert "lr=0.05: its worker killed by SIGKILL (attempt 1 of 3); resuming it" in output
    status = read_toml(study / "lr=0.05" / "status.toml")
    assert status["state"] == st.COMPLETED and status["attempt"] == 2
    assert rows_of(study) == reference


@pytest.mark.process
def test_sigterm_to_the_driver_interrupts_the_running_keeps_the_queued_and_resume_finishes(
    preset, reference, tmp_path
):
    runs_dir = tmp_path / "runs"
    driver, study = training_with_jobs_2(preset, runs_dir)
    queued = read_toml(study / "lr=0.2" / "status.toml")
    assert queued["state"] == st.QUEUED and "2 of 2 are training" in queued["waiting"]
    # the driver stays small: torch is loaded by its workers only
    mapped = [m.path for m in psutil.Process(driver.pid).memory_maps()]
    assert not [path for path in mapped if "libtorch" in path]
    assert [m.path for w in psutil.Process(driver.pid).children() for m in w.memory_maps()
            if "libtorch_cpu" in m.path]  # fmt: skip
    driver.send_signal(signal.SIGTERM)
    output, _ = driver.communicate(timeout=120)
    assert driver.returncode == ExitCode.TERMINATED, output
    states = {run.name: run.state for run in read_study(study).runs}
    assert states == {"lr=0.05": st.INTERRUPTED, "lr=0.1": st.INTERRUPTED, "lr=0.2": st.QUEUED}
    assert "waiting" not in read_toml(study / "lr=0.2" / "status.toml")
    assert read_study(study).state == st.INTERRUPTED

    again = cli("resume", str(study), "--runs-dir", str(runs_dir))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "at most 2 at once" in again.stdout  # the study's --jobs 2, from study.toml
    assert rows_of(study) == reference


@pytest.mark.process
def test_a_driver_killed_leaves_workers_that_stop_and_a_study_that_resumes(
    preset, reference, tmp_path
):
    runs_dir = tmp_path / "runs"
    driver, study = training_with_jobs_2(preset, runs_dir)
    workers = [psutil.Process(p.pid) for p in psutil.Process(driver.pid).children()]
    assert len(workers) == 2
    driver.kill()
    driver.communicate(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == []  # they noticed the driver was gone, checkpointed, and stopped
    runs = {run.name: run for run in read_study(study).runs}
    assert {runs[n].state for n in ("lr=0.05", "lr=0.1")} <= {st.INTERRUPTED, st.COMPLETED}
    assert runs["lr=0.2"].state == st.QUEUED
    assert read_study(study).state == st.CRASHED  # the driver left no end

    again = cli("resume", str(study), "--runs-dir", str(runs_dir))
    assert again.returncode == 0, again.stdout + again.stderr
    assert rows_of(study) == reference


@pytest.mark.process
def test_a_worker_killed_writing_last_pt_resumes_alone_on_the_threads_it_started_with(
    preset, reference, tmp_path
):
    """Killed with `--retries 0` while its epoch-2 last.pt is half written, the run is resumed
    by itself (`resume STUDY/RUN`), a worker with every core to itself: it still trains on the
    one share of the cores it started with, and writes the rows of an uninterrupted run."""
    runs_dir = tmp_path / "runs"
    env, marker = pausing_env(tmp_path / "pause", "lr=0.05", "last.pt", 2)
    driver = start(
        "run", str(preset), "--runs-dir", str(runs_dir), "--jobs", "2", "--retries", "0",
        "--set", "sweep.optim.lr=[0.05, 0.1]", env=env,
    )  # fmt: skip
    os.kill(paused_pid(marker), signal.SIGKILL)
    output, _ = driver.communicate(timeout=300)
    assert driver.returncode == ExitCode.RUN_FAILED, output
    study = the_study(runs_dir)
    run = study / "lr=0.05"
    assert [row["epoch"] for row in read_rows(run / "metrics.csv")] == [1, 2]
    assert read_study(study).runs[0].state == st.CRASHED
    share = read_toml(run / "status.toml")["threads"]
    assert share == max(1, cores() // 2)

    again = cli("resume", f"{study.name}/lr=0.05", "--runs-dir", str(runs_dir))
    assert again.returncode == 0, again.stdout + again.stderr
    assert learned(read_rows(run / "metrics.csv")) == reference["lr=0.05"]
    assert read_toml(run / "status.toml")["threads"] == share


# -- the faults of README's list, each at its moment -----------------------------------------------

TWO_RUNS = ("--set", "sweep.optim.lr=[0.05, 0.1]")  # the first two runs of `preset`


@pytest.mark.process
def test_a_driver_killed_while_its_workers_start_leaves_none_training_and_resume_completes(
    preset, reference, tmp_path
):
    """The driver killed the moment both workers exist, before either has loaded torch: each
    finds its driver gone as it starts, stops without training, and `resume` completes both."""
    runs_dir = tmp_path / "runs"
    driver = start("run", str(preset), "--runs-dir", str(runs_dir), "--jobs", "2", *TWO_RUNS)
    process = psutil.Process(driver.pid)
    wait_for(lambda: len(process.children()) == 2, what="two workers")
    workers = process.children()
    study = the_study(runs_dir)
    starting = [read_toml(study / n / "status.toml")["state"] for n in ("lr=0.05", "lr=0.1")]
    driver.kill()
    driver.communicate(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=60)
    assert alive == []
    assert starting == [st.QUEUED, st.QUEUED]  # (queued, "starting"): the kill was in start-up
    assert not [r for r in read_study(study).runs if r.state == st.RUNNING]

    again = cli("resume", str(study), "--runs-dir", str(runs_dir))
    assert again.returncode == 0, again.stdout + again.stderr
    assert rows_of(study, RUNS[:2]) == {n: reference[n] for n in RUNS[:2]}


@pytest.mark.process
def test_resume_while_the_driver_lives_is_refused_and_sigterm_twice_ends_the_study_with_143(
    preset, tmp_path
):
    runs_dir = tmp_path / "runs"
    driver, study = training_with_jobs_2(preset, runs_dir, *TWO_RUNS)
    refused = cli("resume", str(study), "--runs-dir", str(runs_dir))
    assert refused.returncode == ExitCode.UNAVAILABLE, refused.stdout + refused.stderr
    assert "a trainer is still writing lr=0.05 (pid" in refused.stderr
    assert "Traceback" not in refused.stderr and driver.poll() is None
    driver.send_signal(signal.SIGTERM)
    driver.send_signal(signal.SIGTERM)
    output, _ = driver.communicate(timeout=60)
    assert driver.returncode == ExitCode.TERMINATED, output
    assert {run.state for run in read_study(study).runs} == {st.INTERRUPTED}


@pytest.mark.process
def test_a_drained_worker_is_resumed_with_the_rows_of_an_uninterrupted_run(
    preset, reference, tmp_path
):
    runs_dir = tmp_path / "runs"
    driver, study = training_with_jobs_2(preset, runs_dir, *TWO_RUNS, row_of="lr=0.1")
    os.kill(read_toml(study / "lr=0.1" / "status.toml")["pid"], signal.SIGTERM)  # a node drain
    output, _ = driver.communicate(timeout=300)
    assert driver.returncode == 0, output
    assert "lr=0.1: its worker exited with status 143 (attempt 1 of 3); resuming it" in output
    assert read_toml(study / "lr=0.1" / "status.toml")["attempt"] == 2
    assert rows_of(study, RUNS[:2]) == {n: reference[n] for n in RUNS[:2]}


@pytest.mark.process
def test_a_run_directory_deleted_mid_study_ends_the_study_without_a_traceback(
    preset, reference, tmp_path
):
    runs_dir = tmp_path / "runs"
    driver, study = training_with_jobs_2(preset, runs_dir, *TWO_RUNS, row_of="lr=0.1")
    shutil.rmtree(study / "lr=0.1")
    output, _ = driver.communicate(timeout=300)
    assert driver.returncode == ExitCode.RUN_FAILED, output
    assert "Traceback" not in output + (study / "trainer.log").read_text()
    assert "lr=0.05 completed" in output
    assert learned(read_rows(study / "lr=0.05" / "metrics.csv")) == reference["lr=0.05"]


@pytest.mark.process
def test_worker_run_resumes_a_run_left_running_by_a_host_that_is_gone(write_preset, runs_dir):
    """status.toml says running on node7, its heartbeat no longer changing: the worker watches
    it for a few seconds (st.OTHER_HOST_WATCH_S), then resumes it."""
    study = interrupted_study(write_preset(), runs_dir)
    status = read_toml(study / "run" / "status.toml")
    status.update(state="running", host="node7", pid=4242, pid_started=1.0)
    write_toml_atomic(study / "run" / "status.toml", status)
    result = cli("worker-run", str(study / "run"), "--attempt", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [row["epoch"] for row in read_rows(study / "run" / "metrics.csv")] == [1, 2]
    assert read_toml(study / "run" / "status.toml")["host"] == socket.gethostname()


@pytest.mark.process
def test_cluster_without_ray_installed_names_the_extra_and_exits_3(tmp_path):
    preset = tmp_path / "p.toml"
    preset.write_text(THREE_RUNS)
    code = (
        "import sys; sys.modules['ray'] = None; from tui_trainer.cli import main; "
        f"sys.argv = ['tui-trainer', 'run', {str(preset)!r}, '--cluster', 'auto', "
        f"'--runs-dir', {str(tmp_path / 'runs')!r}]; main()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == ExitCode.UNAVAILABLE
    assert result.stderr.strip() == (
        "error: --cluster: Ray is not installed; install the cluster extra: "
        "pip install 'tui-trainer[cluster]'"
    )
    assert not (tmp_path / "runs").exists()


def test_workers_on_mocked_gpus_get_their_gpu_through_cuda_visible_devices(monkeypatch, tmp_path):
    """Two GPUs found by worker-check, 2 runs per GPU: the four workers see GPUs 0, 0, 1, 1,
    each told it shares its GPU with one other and given a quarter of the cores."""
    from tui_trainer.config.schema import ParallelSection
    from tui_trainer.parallel import local
    from tui_trainer.parallel.placement import local_plan

    started = []

    class FakePopen:
        def __init__(self, command, env, **kwargs):
            started.append((command, env.get("CUDA_VISIBLE_DEVICES")))
            self.pid = 1000 + len(started)

        def poll(self):
            return None

    monkeypatch.setattr(local.subprocess, "Popen", FakePopen)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    found = {"device": "cuda", "gpus": ["H200 a", "H200 b"], "cores": 16}
    settings = ParallelSection(runs_per_gpu=2)
    placement = local_plan(settings, found, run_count=5, note=print)
    assert placement.jobs == 4 and placement.device.name == "H200 a, H200 b"
    for i in range(5):
        run_dir = tmp_path / f"run{i}"
        run_dir.mkdir()
        if placement.backend.waiting() is None:
            placement.backend.start(Job(f"run{i}", run_dir))
    assert [gpu for _, gpu in started] == ["0", "0", "1", "1"]
    assert all(c[-2:] == ["--gpu-share", "2"] for c, _ in started)
    assert all(c[c.index("--threads") + 1] == "4" for c, _ in started)
    assert (
        placement.backend.waiting()
    ) == "waiting for a GPU slot: all 4 are training (GPU 0, 1, 2 run(s) each)"


def test_out_of_memory_on_a_shared_gpu_fails_the_run_naming_the_gpu_and_its_sharers(
    write_preset, runs_dir, monkeypatch
):
    import torch

    from tui_trainer.console.plain import PlainLog
    from tui_trainer.train import loop, worker
    from tui_trainer.train.worker import WorkerOptions, run_worker

    study = interrupted_study(write_preset(), runs_dir)

    def out_of_memory(self, session, start):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(loop.RunTrainer, "_train", out_of_memory)
    monkeypatch.setattr(worker, "gpu_of", lambda device: "0")
    code = run_worker(study / "run", WorkerOptions(gpu_share=4), PlainLog())
    assert code == ExitCode.RUN_FAILED
    status = read_toml(study / "run" / "status.toml")
    assert status["state"] == st.FAILED and status["gpu"] == "0" and status["gpu_share"] == 4
    assert status["message"].startswith("out of GPU memory on GPU 0 (")
    assert status["message"].endswith(
        "shared by 4 runs (--runs-per-gpu 4): resume it with fewer runs per GPU, or a smaller "
        "data.batch_size"
    )
