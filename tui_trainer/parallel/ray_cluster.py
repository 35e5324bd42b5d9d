"""The backend of a Ray cluster (`--cluster ADDRESS`): each run a Ray task (Ray core: the run
directory already is the trial store) that executes `tui-trainer worker-run RUN_DIR` on whichever
node has room, asking for its share of a GPU (1 / runs_per_gpu) and of the CPUs.

Nothing is synced: every node must see the runs directory, the data directory and the driver's
working directory at the same paths (NFS, a cluster file system). Before the study is created,
a check on every node proves it: it reads back a file the driver has just written into the runs
directory, looks for the data directory, and compares tui-trainer's version with the driver's.
Ray is an optional extra (pip install 'tui-trainer[cluster]'); it is imported only here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_trainer import __version__
from tui_trainer.config.schema import ParallelSection
from tui_trainer.errors import UnavailableError
from tui_trainer.parallel.backend import Exit, Job, Started, worker_command
from tui_trainer.parallel.placement import WorkerPlan, check_command, parse_check
from tui_trainer.printable import printable
from tui_trainer.store.study_files import DeviceRecord

CONNECT_TIMEOUT_S = 5.0  # how long a head may take to answer before `--cluster` gives up
CHECK_TIMEOUT_S = 120.0  # the node checks and the study's check, each
CHECK_FILE_PREFIX = ".tui-trainer-cluster-check-"


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UnavailableError(
            "--cluster: Ray is not installed; install the cluster extra: "
            "pip install 'tui-trainer[cluster]'"
        ) from None
    return ray


def head_address(address: str) -> str:
    """The address `ray.init` is given: 'auto' is $RAY_ADDRESS when set, else the head
    started on this machine (`ray start --head`)."""
    if address == "auto":
        return os.environ.get("RAY_ADDRESS") or "auto"
    return address


def _check_reachable(address: str) -> None:
    """A host:port where no head answers fails here within seconds, with one line, rather
    than in Ray's own retries."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UnavailableError(f"--cluster {address}: give the head's address as host:port")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UnavailableError(
            f"--cluster {address}: no Ray head answers there ({reason}); start one with "
            "`ray start --head` on that machine, or check the address"
        ) from None


def connect(address: str) -> Any:
    """Connect this process to the cluster as its driver; UnavailableError (exit 3) in one
    line when no head answers."""
    ray = _ray()
    target = head_address(address)
    _check_reachable(target)
    if ray.is_initialized():
        return ray
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Without these, a driver given an address where something answers but no head does retries
    # for about 14 minutes; with them it gives up within seconds (a live head answers at once).
    os.environ.setdefault("RAY_gcs_rpc_server_connect_timeout_s", "5")
    os.environ.setdefault("RAY_py_gcs_connect_timeout_s", "10")
    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "2")
    try:
        with _stderr_aside():
            ray.init(
                address=target,
                namespace="tui-trainer",
                log_to_driver=False,
                logging_level="ERROR",
                configure_logging=True,
                include_dashboard=False,
            )
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError: Ray's own words
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnavailableError(f"--cluster {address}: cannot connect: {first}") from None
    return ray


@contextlib.contextmanager
def _stderr_aside() -> Any:
    """Ray's C++ core writes warnings to the process's stderr as it connects (no route to the
    internet, which a cluster inside a private network never has): they would cut into the
    study's output. Its errors come back as the exception, so what it writes meanwhile is
    dropped."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# -- what runs on the nodes ------------------------------------------------------------------------


def _node_check(check_file: str, token: str, data_dirs: list[str], cwd: str) -> dict[str, Any]:
    """On one node: its host name, its tui-trainer version, and what of the shared storage it
    cannot see."""
    import tui_trainer

    problems = []
    try:
        with open(check_file, encoding="utf-8") as handle:
            if handle.read() != token:
                problems.append(f"{Path(check_file).parent} is another directory there")
    except OSError:
        problems.append(f"cannot see the runs directory {Path(check_file).parent}")
    for directory in data_dirs:
        if not os.path.isdir(directory):
            problems.append(f"cannot see the data directory {directory}")
    if not os.path.isdir(cwd):
        problems.append(f"cannot see the working directory {cwd}")
    return {
        "host": socket.gethostname(),
        "version": tui_trainer.__version__,
        "problems": problems,
    }


def _execute(command: list[str], cwd: str | None, log: str | None) -> tuple[int, str, str]:
    """On a node: run `command` (worker-check or a worker) as a child of this task, which it
    watches (--parent), in the driver's working directory. A cancelled task (the study stops)
    passes SIGTERM on and waits for the worker to checkpoint. Returns (exit status, stdout,
    stderr); a worker's output goes to its run's worker.log instead."""
    import signal
    import sys

    from tui_trainer.store.files import open_for_append

    command = [sys.executable, *command[1:]]
    if command[3] == "worker-run":
        command += ["--parent", str(os.getpid())]
    if cwd is not None and not os.path.isdir(cwd):
        cwd = None
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = None
    try:
        if log is not None:
            with open_for_append(Path(log), binary=True) as output:
                child = subprocess.Popen(
                    command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=output,
                    stderr=subprocess.STDOUT, env=env,
                )  # fmt: skip
        else:
            child = subprocess.Popen(
                command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, env=env,
            )  # fmt: skip
        # Waited for in short slices: Ray delivers a cancel (KeyboardInterrupt) only between
        # Python bytecodes, never inside one long blocking wait.
        while True:
            try:
                out, err = child.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                continue
    except KeyboardInterrupt:  # ray.cancel: the study is stopping
        if child is None:  # cancelled before the worker started
            return -int(signal.SIGTERM), "", ""
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate()
    return child.returncode, out or "", err or ""


# -- the backend -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """What one run asks of the cluster."""

    gpus: float
    cpus: int

    def describe(self) -> str:
        gpus = f"{self.gpus:g} GPU and " if self.gpus else ""
        return f"{gpus}{self.cpus} CPU"


class RayBackend:
    def __init__(self, ray: Any, share: Share, device: str, jobs: int):
        self.ray = ray
        self.share = share
        self.device = device
        self.jobs = jobs
        self._in_flight: dict[Any, Share] = {}
        self._remote = ray.remote(_execute).options(
            num_cpus=share.cpus, num_gpus=share.gpus, max_retries=0
        )

    def _totals(self) -> dict[str, float]:
        try:
            return dict(self.ray.cluster_resources())
        except Exception:
            return {}

    def waiting(self) -> str | None:
        """None when a run fits: within what the cluster has less this study's runs in
        flight (Ray's own count lags a submission), and within what Ray says is free now
        (other jobs' tasks)."""
        totals = self._totals()
        used_gpus = sum(s.gpus for s in self._in_flight.values())
        used_cpus = sum(s.cpus for s in self._in_flight.values())
        try:
            available = dict(self.ray.available_resources())
        except Exception:
            available = totals
        free_gpus = min(totals.get("GPU", 0.0) - used_gpus, available.get("GPU", 0.0))
        free_cpus = min(totals.get("CPU", 0.0) - used_cpus, available.get("CPU", 0.0))
        if free_gpus + 1e-9 >= self.share.gpus and free_cpus + 1e-9 >= self.share.cpus:
            return None
        return (
            f"waiting for the cluster: a run needs {self.share.describe()}; free now: "
            f"{max(free_gpus, 0):g} GPU, {max(free_cpus, 0):g} CPU"
        )

    def start(self, job: Job) -> Started:
        from tui_trainer.store.layout import RunPaths

        command = worker_command(job, self.device, self.share.cpus, None, self._gpu_share())
        log = str(RunPaths(job.run_dir).worker_log)
        ref = self._remote.remote(command, os.getcwd(), log)
        self._in_flight[ref] = self.share
        where = f"the cluster ({self.share.describe()})"
        return Started(job, ref, where)

    def _gpu_share(self) -> int | None:
        return round(1 / self.share.gpus) if self.share.gpus else None

    def poll(self, started: Started) -> Exit | None:
        ref = started.handle
        ready, _ = self.ray.wait([ref], timeout=0)
        if not ready:
            return None
        self._in_flight.pop(ref, None)
        try:
            code, _, _ = self.ray.get(ref)
            return Exit(code)
        except self.ray.exceptions.TaskCancelledError:
            return Exit(None, lost="was cancelled")
        except self.ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            return Exit(None, lost=f"was lost with its Ray worker or node ({type(exc).__name__}"
                        f"{': ' + first if first else ''})")  # fmt: skip

    def send(self, started: Started, signum: int) -> None:
        import signal

        with contextlib.suppress(Exception):
            self.ray.cancel(started.handle, force=signum == signal.SIGINT)

    def close(self) -> None:
        deadline_refs = list(self._in_flight)
        if deadline_refs:
            with contextlib.suppress(Exception):
                self.ray.wait(deadline_refs, num_returns=len(deadline_refs), timeout=60)
        with contextlib.suppress(Exception):
            self.ray.shutdown()


# -- before the study ------------------------------------------------------------------------------


def check_nodes(ray: Any, runs_dir: Path, data_dirs: list[Path]) -> list[str]:
    """Run the node check on every alive node; the hosts that passed. UnavailableError naming
    the host and the path (or version) when a node fails it."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    runs_dir = runs_dir.absolute()
    runs_dir.mkdir(parents=True, exist_ok=True)
    check_file = runs_dir / (CHECK_FILE_PREFIX + secrets.token_hex(8))
    token = secrets.token_hex(16)
    check_file.write_text(token, encoding="utf-8")
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        remote = ray.remote(_node_check)
        refs = {
            remote.options(
                num_cpus=0,
                max_retries=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False),
            ).remote(str(check_file), token, [str(d) for d in data_dirs], os.getcwd()): n
            for n in nodes
        }
        hosts = []
        for ref, node in refs.items():
            where = node.get("NodeManagerHostname") or node.get("NodeManagerAddress") or "a node"
            try:
                found = ray.get(ref, timeout=CHECK_TIMEOUT_S)
            except (ray.exceptions.TaskUnschedulableError, ray.exceptions.NodeDiedError):
                continue  # a node that has left (Ray lists a dead node alive for some seconds)
            except Exception as exc:
                reason = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else ""
                raise UnavailableError(
                    f"--cluster: node {printable(where)}: the check failed ({reason}); is "
                    "tui-trainer installed there?"
                ) from None
            host = printable(str(found.get("host") or where))
            if found.get("version") != __version__:
                theirs = printable(str(found.get("version")))
                raise UnavailableError(
                    f"--cluster: node {host} runs tui-trainer {theirs}, this machine "
                    f"{__version__}: install the same version on every node"
                )
            for problem in found.get("problems") or []:
                raise UnavailableError(
                    f"--cluster: node {host} {printable(str(problem))}: every node must see it "
                    "at the same path (shared storage, docs/parallel.md: Clusters)"
                )
            hosts.append(host)
        if not hosts:
            raise UnavailableError("--cluster: no node of the cluster answered its check")
        return hosts
    finally:
        with contextlib.suppress(OSError):
            check_file.unlink()


def run_share(ray: Any, settings: ParallelSection, device_spec: str, run_count: int) -> Share:
    """A run's share: 1/runs_per_gpu of a GPU when the study trains on CUDA and the cluster has
    GPUs; the CPUs split between the runs in flight (at least one each, at most a node's)."""
    totals = dict(ray.cluster_resources())
    gpus = 0.0
    if device_spec not in ("cpu", "mps") and totals.get("GPU", 0) > 0:
        gpus = 1.0 / settings.runs_per_gpu
    node_cpus = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")] or [1]
    if gpus:
        share = Share(gpus, 1)
    else:
        in_flight = min(settings.jobs or run_count, run_count) or 1
        cpus = int(totals.get("CPU", 1)) // in_flight
        share = Share(0.0, max(1, min(cpus, int(max(node_cpus)))))
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    if not any(
        r.get("GPU", 0) + 1e-9 >= share.gpus and r.get("CPU", 0) >= share.cpus for r in nodes
    ):
        raise UnavailableError(
            f"--cluster: no node of the cluster has {share.describe()} for a run "
            f"(--runs-per-gpu {settings.runs_per_gpu})"
        )
    return share


def cluster_plan(
    settings: ParallelSection,
    check_args: list[str],
    run_count: int,
    note: Any,
    runs_dir: Path,
    data_dirs: list[Path],
    device_spec: str,
) -> WorkerPlan:
    """Connect, check every node, then the study itself on a node with a run's resources."""
    ray = connect(settings.cluster)
    try:
        check_nodes(ray, runs_dir, [])  # the runs directory, the versions
        share = run_share(ray, settings, device_spec, run_count)
        probe = ray.remote(_execute).options(
            num_cpus=share.cpus, num_gpus=share.gpus, max_retries=0
        )
        try:
            code, out, err = ray.get(
                probe.remote(check_command(check_args), os.getcwd(), None),
                timeout=CHECK_TIMEOUT_S * 5,
            )
        except ray.exceptions.GetTimeoutError:
            raise UnavailableError(
                f"--cluster: no node had {share.describe()} free for the study's check within "
                f"{CHECK_TIMEOUT_S * 5:.0f} s"
            ) from None
        found = parse_check(code, out, err)
        # the data, once the check has found it (or downloaded it) on one node
        hosts = (
            check_nodes(ray, runs_dir, data_dirs) if data_dirs else check_nodes(ray, runs_dir, [])
        )
    except BaseException:
        with contextlib.suppress(Exception):
            ray.shutdown()
        raise
    device = str(found.get("device", "cpu"))  # as the node resolved train.device
    jobs = min(settings.jobs or run_count, run_count)
    note(
        f"cluster {printable(head_address(settings.cluster))}: {len(hosts)} node(s) "
        f"({', '.join(hosts)}); each run takes {share.describe()}"
    )
    name = f"Ray cluster of {len(hosts)} node(s)"
    return WorkerPlan(
        RayBackend(ray, share, device, jobs), jobs, DeviceRecord(f"ray:{device}", name)
    )


__all__ = ["RayBackend", "check_nodes", "cluster_plan", "connect", "run_share"]
