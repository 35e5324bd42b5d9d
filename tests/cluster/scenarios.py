"""Cluster scenarios, run by tests/test_cluster.py inside a namespace that has only loopback
(Ray binds the machine's own address even when told 127.0.0.1), with its own process ids: when
the namespace's first process ends, every Ray process started in it ends too.

One Ray head for all of them (fake GPUs: two, and one CPU, so that one run fits at a time),
started and stopped here; scenarios that need more nodes add them, each a `ray start --block`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers import TINY_PRESET
from tui_trainer.store.atomic import read_toml
from tui_trainer.store.csvlog import read_rows

pytestmark = pytest.mark.process  # every scenario starts a study, most of them Ray nodes

PORT = 6379
HEAD = f"127.0.0.1:{PORT}"
THREE_EPOCHS = TINY_PRESET.replace("epochs = 2", "epochs = 3")
RAY = str(Path(sys.executable).parent / "ray")
ENV = {
    **os.environ,
    "RAY_USAGE_STATS_ENABLED": "0",
    # Ray 2.59+ turns token authentication on for a head once a token file exists in ~/.ray,
    # which a driver given an explicit address does not read: the test cluster runs without
    "RAY_AUTH_MODE": "disabled",
    "RAY_BACKEND_LOG_LEVEL": "error",
    # a killed node is known dead after 3 failed health checks a second apart (Ray's default:
    # 5, 3 s apart), which the lost-node scenarios wait for twice each; a node merely slow to
    # answer still has Ray's 10 s per check before a check counts as failed
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
    "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
}
TWO_RUNS = THREE_EPOCHS.replace('device = "cpu"', 'device = "auto"') + (
    '\n[sweep]\n"optim.lr" = [0.05, 0.1]\n'
)


def ray_start(*args: str, block: bool = False, prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    command = [*prefix, RAY, "start", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    command += ["--object-store-memory=100000000"]  # (Ray's default: a third of the RAM)
    command += [*args] + (["--block"] if block else [])
    return subprocess.Popen(
        command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )


def alive_nodes() -> int:
    code = f"import ray; ray.init(address={HEAD!r}, logging_level='ERROR'); "
    code += "print('alive nodes:', sum(n['Alive'] for n in ray.nodes()), flush=True)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=60
    )
    # (Ray may print its own lines to stdout, such as a warning about lagging heartbeats)
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("alive nodes:")]
    return int(line.split(":", 1)[1])


def wait_for(condition, timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def tui_trainer(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", *args],
        env={**ENV, **env}, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


STARTED: list[subprocess.Popen] = []


def start_study(*args: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", *args],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    STARTED.append(process)
    return process


@pytest.fixture(autouse=True)
def no_study_left_running():
    """A scenario that fails midway leaves no driver to disturb the next one."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.communicate()


def the_study(runs_dir: Path) -> Path:
    (study,) = [p for p in runs_dir.iterdir() if (p / "study.toml").exists()]
    return study


def has_rows(run: Path) -> bool:
    return len(read_rows(run / "metrics.csv")) >= 1


@pytest.fixture(scope="session", autouse=True)
def head(tmp_path_factory):
    temp = tmp_path_factory.mktemp("ray")
    started = ray_start(
        "--head", f"--port={PORT}", "--num-cpus=1", "--num-gpus=2",
        "--include-dashboard=false", f"--temp-dir={temp}",
    )  # fmt: skip
    assert started.wait(timeout=120) == 0
    yield HEAD
    subprocess.run([RAY, "stop", "--force"], env=ENV, capture_output=True, timeout=60)


@pytest.fixture
def preset(tmp_path) -> Path:
    path = tmp_path / "two.toml"
    path.write_text(TWO_RUNS)
    return path


def test_a_study_runs_on_the_cluster_with_its_share_of_a_gpu(preset, tmp_path):
    """As docs/parallel.md says: a head started with `ray start --head`, RAY_ADDRESS naming it, and
    `--cluster auto`."""
    runs_dir = tmp_path / "runs"
    result = tui_trainer(
        "run", str(preset), "--runs-dir", str(runs_dir), "--cluster", "auto",
        "--runs-per-gpu", "2", RAY_ADDRESS=HEAD,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "each run takes 0.5 GPU and 1 CPU" in result.stdout
    assert result.stderr == ""  # nothing of Ray's own logging on the user's terminal
    study = the_study(runs_dir)
    for name in ("lr=0.05", "lr=0.1"):
        status = read_toml(study / name / "status.toml")
        assert status["state"] == "completed" and status["attempt"] == 1
        assert [row["epoch"] for row in read_rows(study / name / "metrics.csv")] == [1, 2, 3]
    launch = read_toml(study / "study.toml")
    assert launch["parallel"]["cluster"] == "auto" and launch["launch"]["device"] == "ray:cpu"


def test_a_worker_killed_on_the_cluster_is_resumed_from_its_checkpoint(preset, tmp_path):
    runs_dir = tmp_path / "runs"
    driver = start_study(
        "run", str(preset), "--runs-dir", str(runs_dir), "--cluster", HEAD,
        "--set", 'sweep.optim.lr=[0.1]',
    )  # fmt: skip
    wait_for(lambda: runs_dir.is_dir() and any(runs_dir.glob("*/study.toml")), what="the study")
    run = the_study(runs_dir) / "lr=0.1"
    wait_for(lambda: has_rows(run), what="a first row")
    os.kill(read_toml(run / "status.toml")["pid"], signal.SIGKILL)
    output, _ = driver.communicate(timeout=300)
    assert driver.returncode == 0, output
    assert "lr=0.1: its worker killed by SIGKILL (attempt 1 of 3); resuming it" in output
    status = read_toml(run / "status.toml")
    assert status["state"] == "completed" and status["attempt"] == 2
    assert [row["epoch"] for row in read_rows(run / "metrics.csv")] == [1, 2, 3]


def test_sigterm_to_the_driver_checkpoints_the_running_run_and_resume_finishes(preset, tmp_path):
    """One CPU, so one run at a time: the other waits for the cluster, and says so. SIGTERM to
    the driver cancels the running task, whose worker checkpoints at its step and stops."""
    runs_dir = tmp_path / "runs"
    driver = start_study("run", str(preset), "--runs-dir", str(runs_dir), "--cluster", HEAD)
    wait_for(lambda: runs_dir.is_dir() and any(runs_dir.glob("*/study.toml")), what="the study")
    study = the_study(runs_dir)
    wait_for(lambda: has_rows(study / "lr=0.05"), what="a first row")
    waiting = read_toml(study / "lr=0.1" / "status.toml")
    assert waiting["state"] == "queued"
    assert waiting["waiting"] == (
        "waiting for the cluster: a run needs 1 GPU and 1 CPU; free now: 1 GPU, 0 CPU"
    ), waiting
    driver.send_signal(signal.SIGTERM)
    output, _ = driver.communicate(timeout=120)
    assert driver.returncode == 143, output
    states = {n: read_toml(study / n / "status.toml")["state"] for n in ("lr=0.05", "lr=0.1")}
    assert states == {"lr=0.05": "interrupted", "lr=0.1": "queued"}
    again = tui_trainer("resume", str(study), "--runs-dir", str(runs_dir))
    assert again.returncode == 0, again.stdout + again.stderr
    for name in ("lr=0.05", "lr=0.1"):
        assert [row["epoch"] for row in read_rows(study / name / "metrics.csv")] == [1, 2, 3]


def test_a_run_of_a_lost_node_resumes_on_another_node(preset, tmp_path):
    """Two nodes of one CPU each: each takes one run. The second node is killed (its raylet,
    workers and the run's worker with them, as a machine that dies): the driver sees the run
    lost and resumes it on the node that is left, once that one has room."""
    node = ray_start(f"--address={HEAD}", "--num-cpus=1", "--num-gpus=1", block=True)
    try:
        wait_for(lambda: alive_nodes() == 2, what="the second node")
        runs_dir = tmp_path / "runs"
        driver = start_study("run", str(preset), "--runs-dir", str(runs_dir), "--cluster", HEAD)
        wait_for(lambda: runs_dir.is_dir() and any(runs_dir.glob("*/study.toml")), what="study")
        study = the_study(runs_dir)

        def on_node(name: str) -> bool:
            pid = (read_toml(study / name / "status.toml") or {}).get("pid")
            if not pid or not psutil.pid_exists(pid):
                return False
            return node.pid in [p.pid for p in psutil.Process(pid).parents()]

        wait_for(
            lambda: any(has_rows(study / n) and on_node(n) for n in ("lr=0.05", "lr=0.1")),
            what="a run on the second node",
        )
        lost = next(n for n in ("lr=0.05", "lr=0.1") if on_node(n))
        for process in [
            *psutil.Process(node.pid).children(recursive=True),
            psutil.Process(node.pid),
        ]:
            process.kill()
        output, _ = driver.communicate(timeout=300)
        assert driver.returncode == 0, output
        assert f"{lost}: its worker was lost with its Ray worker or node" in output
        status = read_toml(study / lost / "status.toml")
        assert status["state"] == "completed" and status["attempt"] == 2
        assert [row["epoch"] for row in read_rows(study / lost / "metrics.csv")] == [1, 2, 3]
    finally:
        node.kill()
        node.wait()
        wait_for(lambda: alive_nodes() == 1, timeout=120, what="the lost node to be known dead")


def test_a_node_that_cannot_see_the_runs_directory_is_refused_before_any_study(preset, tmp_path):
    shared = tmp_path / "shared"
    (shared / "runs").mkdir(parents=True)
    # a node whose file system has another, empty directory where the runs directory is
    hide = ("unshare", "--mount", "sh", "-c", f'mount -t tmpfs none "{shared}" && exec "$0" "$@"')
    node = ray_start(f"--address={HEAD}", "--num-cpus=1", block=True, prefix=hide)
    try:
        wait_for(lambda: alive_nodes() == 2, what="the node without shared storage")
        result = tui_trainer(
            "run", str(preset), "--runs-dir", str(shared / "runs"), "--cluster", HEAD
        )
        assert result.returncode == 3, result.stdout + result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert "cannot see the runs directory" in line and str(shared / "runs") in line
        assert "every node must see it at the same path" in line
        assert list((shared / "runs").iterdir()) == []
    finally:
        node.kill()
        node.wait()
        wait_for(lambda: alive_nodes() == 1, timeout=120, what="the node to leave")


def test_an_address_where_no_head_answers_is_one_line_and_exit_3_within_seconds(preset, tmp_path):
    runs_dir = tmp_path / "runs"
    started = time.monotonic()
    result = tui_trainer(
        "run", str(preset), "--runs-dir", str(runs_dir), "--cluster", "127.0.0.1:1"
    )
    assert time.monotonic() - started < 30
    assert result.returncode == 3
    (line,) = result.stderr.strip().splitlines()
    assert "--cluster 127.0.0.1:1: no Ray head answers there" in line
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []
