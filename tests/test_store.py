"""The run-directory contract: writers, tolerant readers, liveness, study ids and lookup."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.helpers import fake_study
from tui_trainer.errors import UsageError
from tui_trainer.store import status as st
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.csvlog import CsvAppender, CsvFollower, parse_cell, read_rows
from tui_trainer.store.layout import StudyPaths, create_study_dir, is_safe_name
from tui_trainer.store.reader import list_studies, read_study, resolve, study_state
from tui_trainer.store.schema import (
    DeviceFigures,
    RunStatus,
    RunSummary,
    TrainerRecord,
    read_status,
    read_summary,
    write_status,
    write_summary,
)


def test_csv_round_trip_keeps_exact_values(tmp_path):
    path = tmp_path / "metrics.csv"
    rows = [
        {"epoch": 1, "loss": 0.1 + 0.2, "acc": 1 / 3, "note": None},
        {"epoch": 2, "loss": float("nan"), "acc": 1e-12, "note": None},
    ]
    with CsvAppender(path, ["epoch", "loss", "acc", "note"]) as log:
        for row in rows:
            log.append(row)
    read = read_rows(path)
    assert read[0] == {"epoch": 1, "loss": 0.1 + 0.2, "acc": 1 / 3, "note": None}
    assert read[1]["epoch"] == 2 and read[1]["acc"] == 1e-12
    assert read[1]["loss"] != read[1]["loss"]  # NaN survives as NaN


def test_rows_are_visible_to_readers_as_soon_as_appended(tmp_path):
    path = tmp_path / "m.csv"
    log = CsvAppender(path, ["epoch", "loss"])
    log.append({"epoch": 1, "loss": 0.5})
    assert read_rows(path) == [{"epoch": 1, "loss": 0.5}]  # flushed, not buffered
    log.close()


def test_torn_last_line_is_not_written_yet(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"epoch,loss\n1,0.5\n2,0.25\n3,0.12")  # the writer died mid-row
    assert read_rows(path) == [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]


def test_torn_header_reads_as_empty(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"epoch,lo")
    assert read_rows(path) == []


def test_damaged_row_is_skipped_not_misread(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"epoch,loss,acc\n1,0.5,0.9\n2,0.4\n3,0.3,0.95\n")
    assert [r["epoch"] for r in read_rows(path)] == [1, 3]


def test_follower_returns_only_new_complete_rows(tmp_path):
    path = tmp_path / "m.csv"
    follower = CsvFollower(path)
    assert follower.poll() == []  # not created yet
    path.write_bytes(b"epoch,loss\n1,0.5\n2,0.")
    assert follower.poll() == [{"epoch": 1, "loss": 0.5}]
    with open(path, "ab") as handle:
        handle.write(b"25\n")
    assert follower.poll() == [{"epoch": 2, "loss": 0.25}]
    assert follower.poll() == []
    path.write_bytes(b"epoch,loss\n1,0.7\n")  # replaced by a shorter file
    assert follower.poll() == [{"epoch": 1, "loss": 0.7}]
    assert follower.reset


def test_a_tail_follower_reads_the_last_rows_of_a_long_log_with_its_header(tmp_path):
    path = tmp_path / "steps.csv"
    path.write_bytes(b"step,loss\n" + b"".join(b"%d,0.%04d\n" % (i, i) for i in range(1, 1001)))
    follower = CsvFollower(path, tail_bytes=100)  # 100 bytes: the last 9 rows and a part
    rows = follower.poll()
    assert [r["step"] for r in rows] == list(range(992, 1001))
    assert rows[-1] == {"step": 1000, "loss": 0.1}
    with open(path, "ab") as handle:
        handle.write(b"1001,0.5\n")
    assert follower.poll() == [{"step": 1001, "loss": 0.5}]


def test_a_tail_follower_of_a_short_log_reads_every_row_and_not_the_header_as_one(tmp_path):
    path = tmp_path / "steps.csv"
    path.write_bytes(b"step,loss\n1,0.5\n2,0.25\n")
    assert CsvFollower(path, tail_bytes=4096).poll() == [
        {"step": 1, "loss": 0.5},
        {"step": 2, "loss": 0.25},
    ]
    assert CsvFollower(tmp_path / "missing.csv", tail_bytes=4096).poll() == []


def test_appender_cuts_a_torn_tail_before_appending(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"epoch,loss\n1,0.5\n2,0.4")
    with CsvAppender(path, ["epoch", "loss"]) as log:
        log.append({"epoch": 2, "loss": 0.3})
    assert path.read_bytes() == b"epoch,loss\n1,0.5\n2,0.3\n"


def test_appender_refuses_a_different_header(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"epoch,loss\n")
    with pytest.raises(ValueError, match="header"):
        CsvAppender(path, ["epoch", "acc"])


def test_parse_cell():
    assert parse_cell("3") == 3 and isinstance(parse_cell("3"), int)
    assert parse_cell("0.25") == 0.25
    assert parse_cell("") is None
    assert parse_cell("inf") == float("inf")
    assert parse_cell("lr=0.1") == "lr=0.1"


def test_toml_atomic_write_and_tolerant_read(tmp_path):
    path = tmp_path / "status.toml"
    write_toml_atomic(path, {"state": "running", "epoch": 3, "skip": None})
    assert read_toml(path) == {"state": "running", "epoch": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["status.toml"]  # no temp file left
    path.write_bytes(b"state = \xff")
    assert read_toml(path) is None
    assert read_toml(tmp_path / "missing.toml") is None


def _running(pid: int, beat_age_s: float = 0.0, **extra) -> RunStatus:
    beat = datetime.now(timezone.utc) - timedelta(seconds=beat_age_s)
    fields = {"state": "running", "pid": pid, "host": os.uname().nodename, "heartbeat": beat}
    return RunStatus(**{**fields, **extra})


def test_live_process_with_fresh_heartbeat_is_running():
    started = st.process_identity()["pid_started"]
    assert st.effective_state(_running(os.getpid(), pid_started=started)) == st.RUNNING


@pytest.mark.process
def test_dead_pid_reads_as_crashed():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert st.effective_state(_running(child.pid)) == st.CRASHED


def test_reused_pid_reads_as_crashed():
    status = _running(os.getpid(), pid_started=st.process_identity()["pid_started"] - 1000)
    assert st.effective_state(status) == st.CRASHED


def test_stale_heartbeat_reads_as_crashed_even_if_pid_lives():
    status = _running(os.getpid(), beat_age_s=st.HEARTBEAT_STALE_S + 5)
    assert st.effective_state(status) == st.CRASHED


def test_other_hosts_run_is_judged_by_its_heartbeat_changing_on_this_clock(monkeypatch):
    """Another host's clock may be hours off: its heartbeat's age means nothing here. Seen
    first, the run is running; it stays so while the heartbeat changes between looks, and is
    crashed once it has not changed for HEARTBEAT_STALE_S of this machine's own clock."""
    clock = [1000.0]
    monkeypatch.setattr(st.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(st, "_SEEN_BEATS", {})
    old = _running(999_999, beat_age_s=86_400, host="another-machine")  # a clock a day behind
    assert st.effective_state(old) == st.RUNNING
    clock[0] += st.HEARTBEAT_STALE_S + 5
    newer = _running(999_999, beat_age_s=86_399, host="another-machine")
    assert st.effective_state(newer) == st.RUNNING  # it changed: alive
    clock[0] += st.HEARTBEAT_STALE_S - 1
    assert st.effective_state(newer) == st.RUNNING
    clock[0] += 2
    assert st.effective_state(newer) == st.CRASHED  # unchanged for too long, seen from here


@pytest.mark.process
def test_other_hosts_silent_run_is_stalled_while_a_process_holds_it(tmp_path, monkeypatch):
    monkeypatch.setattr(st, "_SEEN_BEATS", {})
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.setattr(st.time, "monotonic", lambda: clock[0])
    clock = [1000.0]
    fresh = _running(999_999, host="another-machine")
    assert st.effective_state(fresh, run_dir=run) == st.RUNNING  # no sign of death yet
    clock[0] += st.HEARTBEAT_STALE_S + 1
    assert st.effective_state(fresh, run_dir=run) == st.CRASHED  # unchanged, nothing holds it
    fresh = _running(999_999, host="another-machine", pid_started=5.0)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from tui_trainer.store.lock import RunLocks; "
         f"RunLocks().acquire({str(run)!r}); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert st.effective_state(fresh, run_dir=run) == st.RUNNING
        clock[0] += st.HEARTBEAT_STALE_S + 1
        assert st.effective_state(fresh, run_dir=run) == st.STALLED  # held, but silent
    finally:
        holder.kill()
        holder.wait()


def test_written_final_states_are_kept_and_garbage_is_unknown():
    assert st.effective_state(RunStatus(state="completed", pid=1)) == "completed"
    assert st.effective_state(RunStatus(state="exploded")) == st.UNKNOWN
    assert st.effective_state(None) == st.UNKNOWN


def test_status_file_heartbeat_thread_keeps_writing(tmp_path):
    status = st.StatusFile(
        tmp_path / "status.toml",
        RunStatus(state="running"),
        sample=lambda: {"cpu_percent": 12.5},
    )
    status.start_heartbeat(interval=0.05)
    first = read_toml(tmp_path / "status.toml")["heartbeat"]
    status.update(epoch=2)
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        data = read_toml(tmp_path / "status.toml")
        if data and data["epoch"] == 2 and data["heartbeat"] > first:
            break
        time.sleep(0.02)
    status.finish("completed", test_acc=0.9)
    data = read_toml(tmp_path / "status.toml")
    assert data["state"] == "completed" and data["epoch"] == 2 and data["test_acc"] == 0.9
    assert data["device_figures"] == {"cpu_percent": 12.5}
    assert data["heartbeat"] > first


def test_study_state():
    alive, gone, stopped, unknown = (
        st.TrainerEnd.ALIVE,
        st.TrainerEnd.GONE,
        st.TrainerEnd.STOPPED,
        st.TrainerEnd.UNKNOWN,
    )
    assert study_state(["completed", "diverged"], unknown) == "completed"
    assert study_state(["completed", "running", "queued"], alive) == "running"
    assert study_state(["completed", "queued"], alive) == "running"  # between two runs
    assert study_state(["completed", "queued"], gone) == "crashed"  # trainer died between runs
    # stopped by a signal between runs (or in the last test evaluation): interrupted, not crashed
    assert study_state(["completed", "queued"], stopped) == "interrupted"
    assert study_state(["crashed", "queued"], gone) == "crashed"
    assert study_state(["completed", "interrupted", "queued"], gone) == "interrupted"
    # a parallel study's workers stop cleanly when their driver is killed: the study crashed
    assert study_state(["interrupted", "queued"], gone, workers=True) == "crashed"
    assert study_state(["interrupted", "queued"], stopped, workers=True) == "interrupted"
    assert study_state(["completed", "stalled", "queued"], alive) == "stalled"
    assert study_state(["failed", "completed"], unknown) == "failed"
    assert study_state(["queued", "queued"], unknown) == "queued"
    # a run whose status.toml cannot be read is no sign of a live trainer
    assert study_state(["unknown", "completed"], unknown) == "unknown"
    assert study_state(["unknown", "completed"], alive) == "running"


def test_two_studies_in_the_same_second_get_their_own_directories(tmp_path):
    when = datetime(2026, 11, 22, 3, 4, 5)
    first = create_study_dir(tmp_path, "lr", when)
    second = create_study_dir(tmp_path, "lr", when)
    assert first.name == "20261122-030405-lr"
    assert second.name == "20261122-030405-lr-2"


def _reserve(args):
    runs_dir, start = args
    from tui_trainer.store.layout import create_study_dir

    while time.time() < start:  # all processes try in the same instant
        pass
    return create_study_dir(Path(runs_dir), "lr", datetime(2026, 11, 22, 3, 4, 5)).name


def test_racing_processes_never_share_a_study_directory(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    start = time.time() + 1.0
    with ProcessPoolExecutor(max_workers=6) as pool:
        names = list(pool.map(_reserve, [(str(tmp_path), start)] * 24))
    assert len(set(names)) == 24
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_safe_names():
    assert is_safe_name("lr=0.05,wd=0.0005")
    for bad in ("..", ".", "a/b", "/abs", "", "a\\b", "x" * 201):
        assert not is_safe_name(bad)
    with pytest.raises(ValueError):
        StudyPaths(Path("/x")).run("../etc")


def test_list_and_resolve(runs_dir):
    fake_study(runs_dir, "20260101-000000-alpha", ["run"])
    fake_study(runs_dir, "20260102-000000-beta", ["lr=0.1", "lr=0.2"])
    fake_study(runs_dir, "20260103-000000-beta", ["run"])
    studies = list_studies(runs_dir)
    assert [s.id for s in studies] == [
        "20260103-000000-beta",
        "20260102-000000-beta",
        "20260101-000000-alpha",
    ]
    assert resolve(runs_dir, "latest")[0].id == "20260103-000000-beta"
    assert resolve(runs_dir, "alpha")[0].id == "20260101-000000-alpha"
    assert resolve(runs_dir, "20260102")[0].id == "20260102-000000-beta"
    _, run = resolve(runs_dir, "20260102/lr=0.2")
    assert run is not None and run.name == "lr=0.2" and run.best_val_acc == 0.5
    _, run = resolve(runs_dir, str(runs_dir / "20260102-000000-beta" / "lr=0.1"))
    assert run is not None and run.name == "lr=0.1"
    with pytest.raises(UsageError, match="matches several studies"):
        resolve(runs_dir, "beta")
    with pytest.raises(UsageError, match="no study matches 'gamma'"):
        resolve(runs_dir, "gamma")
    with pytest.raises(UsageError, match="has no run 'lr=9'"):
        resolve(runs_dir, "alpha/lr=9")


def test_a_runs_progress_is_its_whole_rows_not_a_status_a_full_disk_kept_from_being_written(
    runs_dir,
):
    """A disk that filled after epoch 1's row: status.toml still says epoch 0 of 3, failed, but
    the row (and the checkpoint a resume finishes from) is there: `runs` reads 1/3. A torn
    second row is not an epoch yet; a run with no metrics.csv at all keeps its status's figure."""
    from typer.testing import CliRunner

    from tui_trainer.cli import app

    root = fake_study(runs_dir, "20260101-000000-full", ["run", "other"], state="failed")
    write_toml_atomic(root / "run" / "status.toml", {"state": "failed", "epoch": 0, "epochs": 3})
    with CsvAppender(root / "run" / "metrics.csv", ["epoch", "val_acc"]) as rows:
        rows.append({"epoch": 1, "val_acc": 0.5})
    with open(root / "run" / "metrics.csv", "a", encoding="utf-8") as torn:
        torn.write("2,0.")
    run, other = read_study(root).runs
    assert (run.epoch, run.epochs, other.epoch) == (1, 3, 2)
    listed = CliRunner().invoke(app, ["runs", "--runs-dir", str(runs_dir)])
    assert listed.exit_code == 0, listed.output
    assert "1/3" in listed.output and "0/3" not in listed.output


def test_hostile_run_names_in_study_toml_are_ignored(runs_dir):
    root = fake_study(
        runs_dir, "20260101-000000-x", ["run"], launch_runs=["run", "../../etc", "/abs"]
    )
    assert [r.name for r in read_study(root).runs] == ["run"]


def test_symlinked_run_directory_is_not_followed(runs_dir, tmp_path):
    root = fake_study(runs_dir, "20260101-000000-x", ["run"], launch_runs=["run", "evil"])
    outside = tmp_path / "outside"
    outside.mkdir()
    write_toml_atomic(outside / "status.toml", {"state": "completed"})
    (root / "evil").symlink_to(outside)
    assert [r.name for r in read_study(root).runs] == ["run"]


def test_parse_cell_takes_only_what_the_writer_writes():
    assert parse_cell("1_5") == "1_5"
    assert parse_cell("\u0663") == "\u0663"  # an Arabic-Indic digit is not a number here
    assert parse_cell("-1.5e-3") == -1.5e-3 and parse_cell("NaN") != parse_cell("NaN")


def test_oversized_header_field_reads_as_no_rows(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b'"' + b"x" * 200_000 + b'"\n1\n')
    assert read_rows(path) == []


def test_another_users_process_is_not_called_dead(monkeypatch):
    import psutil

    def denied(pid):
        raise psutil.AccessDenied(pid)

    monkeypatch.setattr(st.psutil, "Process", denied)
    assert st.process_alive({"pid": 1, "host": os.uname().nodename}) is None
    assert st.effective_state(_running(1)) == st.RUNNING  # judged by its fresh heartbeat


def test_a_path_that_is_not_a_study_is_refused(runs_dir, tmp_path):
    fake_study(runs_dir, "20260101-000000-alpha", ["run"])
    for ident in (str(tmp_path), "/", "./nothing", "x" * 5000):
        with pytest.raises(UsageError):
            resolve(runs_dir, ident)


def test_tables_survive_hostile_values(runs_dir):
    from typer.testing import CliRunner

    from tui_trainer.cli import app

    root = fake_study(runs_dir, "20260101-000000-x", ["run"])
    study = read_toml(root / "study.toml")
    study["launch"].update(overrides=[1, "a=b"], time=datetime(1, 1, 1))
    write_toml_atomic(root / "study.toml", study)
    write_toml_atomic(
        root / "run" / "summary.toml", {"wall_time_s": float("nan"), "test_acc": float("inf")}
    )
    (root / "run" / "metrics.csv").write_bytes(b"epoch,loss\n1,\xff\xfe\n2,0.5\n3,0.")
    for args in (["runs"], ["show", "latest"], ["show", "latest/run"]):
        result = CliRunner().invoke(app, [*args, "--runs-dir", str(runs_dir)])
        assert result.exit_code == 0, (args, result.output)


def test_status_and_summary_round_trip_through_their_one_writer(tmp_path):
    beat = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    status = RunStatus(
        state="running",
        pid=42,
        epoch=3,
        epochs=10,
        swept={"optim.lr": 0.05},
        best_val_acc=0.5,
        heartbeat=beat,
        device_figures=DeviceFigures(cpu_percent=12.5, gpu_mem_total_mb=81559.0),
    )
    write_status(tmp_path / "status.toml", status)
    assert read_status(tmp_path / "status.toml") == status
    summary = RunSummary(run="lr=0.05", test_acc=0.75, test_images=359, epochs=10)
    write_summary(tmp_path / "summary.toml", summary)
    assert read_summary(tmp_path / "summary.toml") == summary
    assert "test_loss" not in read_toml(tmp_path / "summary.toml")  # None is left out


def test_a_value_of_the_wrong_type_reads_as_absent_never_as_a_crash(tmp_path):
    path = tmp_path / "status.toml"
    write_toml_atomic(
        path,
        {
            "state": "completed",
            "epoch": "3",
            "epochs": True,
            "best_val_acc": 7,
            "test_acc": 10**400,
            "swept": ["not", "a", "table"],
            "device_figures": {"rss_mb": "lots", "cpu_percent": 50},
            "from_a_newer_version": 1,
        },
    )
    status = read_status(path)
    assert status == RunStatus(
        state="completed",
        best_val_acc=7.0,  # an integer where a float belongs is that float
        device_figures=DeviceFigures(cpu_percent=50.0),
    )
    assert read_status(tmp_path / "missing.toml") is None


def test_the_status_writer_refuses_a_field_status_toml_does_not_have(tmp_path):
    status = st.StatusFile(tmp_path / "status.toml", RunStatus(state="running"))
    with pytest.raises(TypeError, match="no field 'epcoh'"):
        status.update(epcoh=3)


def test_the_live_trainer_is_the_newest_record_whose_process_lives():
    from tests.helpers import dead_trainer

    alive = TrainerRecord(**st.process_identity(), runs=["a"])
    dead = TrainerRecord(**dead_trainer(), runs=["b"])
    elsewhere = TrainerRecord(pid=1, host="another-machine", runs=["c"])
    # `resume S/a` still trains after a later `resume S/b` has ended
    assert st.live_trainer([dead, alive, dead]) is alive
    assert st.trainer_end([dead, alive, dead]) is st.TrainerEnd.ALIVE
    assert st.live_trainer([alive, dead]) is alive
    assert st.live_trainer([dead, dead]) is None
    assert st.trainer_end([dead, dead]) is st.TrainerEnd.GONE
    ended = TrainerRecord(**st.process_identity(), runs=["d"], ended=datetime.now(timezone.utc))
    assert st.live_trainer([ended]) is None  # alive, but done: it wrote its end
    assert st.trainer_end([dead, ended]) is st.TrainerEnd.STOPPED
    # nothing alive here: the newest decides, and another host's trainer cannot be judged
    assert st.trainer_end([dead, elsewhere]) is st.TrainerEnd.UNKNOWN
    assert st.trainer_end([]) is st.TrainerEnd.UNKNOWN


def test_readers_and_the_stop_key_find_the_same_live_trainer(runs_dir):
    from tests.helpers import dead_trainer
    from tui_trainer.launch import trainer_pid

    root = fake_study(runs_dir, "20260101-000000-x", ["a", "b"], state="queued")
    study = read_toml(root / "study.toml")
    study["launch"].update(dead_trainer())
    study["resumes"] = [st.process_identity(), dead_trainer()]
    write_toml_atomic(root / "study.toml", study)
    (record,) = list_studies(runs_dir)
    assert record.state == st.QUEUED  # a live trainer between runs: not crashed
    assert st.live_trainer(record.trainers).pid == os.getpid()
    # the stop key signals only a process proved to be that trainer: this one is pytest
    assert trainer_pid(root) is None


def test_a_run_listed_twice_is_read_once_reported_and_never_resumed(runs_dir):
    from tui_trainer.store import resumable

    root = fake_study(runs_dir, "20260101-000000-x", ["a", "b"], launch_runs=["a", "b", "a"])
    study = read_study(root)
    assert [run.name for run in study.runs] == ["a", "b"]
    assert study.problems == ["study.toml lists run 'a' more than once"]
    with pytest.raises(UsageError, match=r"refusing to resume .*lists run 'a' more than once"):
        resumable.plan(study)


@pytest.mark.process
def test_a_study_this_user_cannot_read_is_listed_as_unreadable():
    """A study whose directory is closed to the user (root reads everything, so as root the
    listing runs as nobody) is listed as unreadable, not left out."""
    import shutil
    import tempfile

    as_user: list[str] = []
    if os.getuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv is not installed")
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    shared = Path(tempfile.mkdtemp(prefix="tui-trainer-perm-", dir="/tmp"))
    try:
        shared.chmod(0o755)
        runs = shared / "runs"
        open_study = fake_study(runs, "20260101-000000-open", ["a"])
        closed = fake_study(runs, "20260102-000000-closed", ["a"])
        for path in [runs, *runs.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        closed.chmod(0o700 if as_user else 0o000)
        result = subprocess.run(
            [*as_user, sys.executable, "-m", "tui_trainer", "runs", "--runs-dir", runs],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[1:]}
        assert rows[closed.name] == "unreadable" and rows[open_study.name] == "completed"
    finally:
        closed.chmod(0o755)
        shutil.rmtree(shared, ignore_errors=True)


def test_a_study_directory_still_being_set_up_is_not_called_unreadable(tmp_path):
    """The app reserves the directory, and its trainer writes study.toml once its data is
    loaded (minutes, for a download): meanwhile the monitor shows it without alarm."""
    reserved = tmp_path / "runs" / "20260101-000000-x"
    reserved.mkdir(parents=True)
    (reserved / "trainer.log").write_text("loading...\n")
    study = read_study(reserved)
    assert study.problems == [] and study.state == "unknown"
    assert list_studies(tmp_path / "runs") == []


def test_a_file_system_that_refuses_chmod_still_gets_its_files(tmp_path, monkeypatch):
    """vfat, some FUSE and CIFS mounts: fchmod fails with EPERM; the write must not."""
    from tui_trainer.store import atomic

    def refuse(fd, mode):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "fchmod", refuse)
    write_toml_atomic(tmp_path / "status.toml", {"state": "running"})
    assert read_toml(tmp_path / "status.toml") == {"state": "running"}


def test_an_unreadable_study_says_why(tmp_path, monkeypatch):
    root = fake_study(tmp_path / "runs", "20260101-000000-x", ["a"])
    (root / "study.toml").unlink()
    (root / "study.toml").mkdir()  # there, but not a file
    (study,) = list_studies(tmp_path / "runs")
    assert study.state == "unreadable"
    assert study.problems == ["cannot read study.toml: not a regular file (a directory)"]


def test_a_50_mb_torn_last_line_is_read_once_not_on_every_poll(tmp_path, monkeypatch):
    from tui_trainer.store import lines

    path = tmp_path / "metrics.csv"
    path.write_bytes(b"epoch,loss\n1,0.5\n" + b"x" * (50 << 20))
    read: list[int] = []
    real_open = lines.open_regular

    def counting_open(target):
        handle = real_open(target)
        original = handle.read

        def counted(size=-1):
            data = original(size)
            read.append(len(data))
            return data

        handle.read = counted
        return handle

    monkeypatch.setattr(lines, "open_regular", counting_open)
    follower = CsvFollower(path)
    assert follower.poll() == [{"epoch": 1, "loss": 0.5}]
    first = sum(read)
    assert first >= 50 << 20
    for _ in range(3):  # idle polls: nothing read again
        assert follower.poll() == []
    assert sum(read) == first
    with open(path, "ab") as handle:  # the writer ends the line (damaged: skipped), adds a row
        handle.write(b"\n2,0.25\n")
    assert follower.poll() == [{"epoch": 2, "loss": 0.25}]
    assert sum(read) - first == len(b"\n2,0.25\n")


def test_files_are_created_with_the_umask_like_the_appended_ones(tmp_path):
    from tui_trainer.store.atomic import write_bytes_atomic

    previous = os.umask(0o027)
    try:
        write_bytes_atomic(tmp_path / "status.toml", b"x = 1\n")
        write_bytes_atomic(tmp_path / "last.pt", b"...", durable=True)
        with CsvAppender(tmp_path / "metrics.csv", ["epoch"]) as log:
            log.append({"epoch": 1})
    finally:
        os.umask(previous)
    modes = {path.name: path.stat().st_mode & 0o777 for path in tmp_path.iterdir()}
    assert modes == {"status.toml": 0o640, "last.pt": 0o640, "metrics.csv": 0o640}


def test_a_refused_replace_names_the_file_meant_not_the_temp_file(tmp_path, monkeypatch):
    """An immutable study.toml (chattr +i) refuses the rename with both names; the error names
    study.toml."""
    import errno

    from tui_trainer.store import atomic

    def immutable(source, target):
        raise PermissionError(errno.EPERM, "Operation not permitted", source, None, target)

    monkeypatch.setattr(atomic.os, "replace", immutable)
    with pytest.raises(PermissionError) as caught:
        write_toml_atomic(tmp_path / "study.toml", {"a": 1})
    assert caught.value.filename == str(tmp_path / "study.toml")
    assert str(caught.value) == f"[Errno 1] Operation not permitted: '{tmp_path / 'study.toml'}'"
    assert list(tmp_path.iterdir()) == []  # nor is the temp file left behind
