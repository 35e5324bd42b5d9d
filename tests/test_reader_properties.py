"""Property-based tests (Hypothesis) of the readers of the run directory: metrics.csv and
steps.csv as CsvAppender writes them and as a killed writer or a damaged disk leaves them, TOML
files, and every file of a study directory holding anything at all (any TOML types, extreme
numbers, control characters, random log bytes). Readers never crash, never hang, never return a
value that was not written, and nothing they hand out puts a control character on a terminal."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import math
import re
import typing
from datetime import timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from textual_plotext.plotext_plot import Plot

from tui_trainer.console.export import to_csv, to_markdown
from tui_trainer.errors import TuiTrainerError
from tui_trainer.store import resumable
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.compare import comparison
from tui_trainer.store.csvlog import CsvAppender, CsvFollower, parse_cell, read_rows
from tui_trainer.store.follow import StudyFollower
from tui_trainer.store.reader import list_studies, read_run_details
from tui_trainer.store.schema import (
    STEP_COLUMNS,
    RunStatus,
    RunSummary,
    TrainerRecord,
    read_status,
)

COLUMNS = ["epoch", "train_loss", "lr", "note"]

cells = st.one_of(
    st.none(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    # text that does not read as a number: what the writer puts in text cells (run names)
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_=.,+-]{0,12}", fullmatch=True).filter(
        lambda text: text.lower() not in ("nan", "inf", "infinity")
    ),
)
rows = st.lists(st.fixed_dictionaries({name: cells for name in COLUMNS}), max_size=12)
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def same(read, written) -> bool:
    if isinstance(written, float) and math.isnan(written):
        return isinstance(read, float) and math.isnan(read)
    return read == written and type(read) is type(written)


def same_rows(read, written) -> bool:
    return len(read) == len(written) and all(
        set(r) == set(w) and all(same(r[k], w[k]) for k in w)
        for r, w in zip(read, written, strict=True)
    )


def write(path: Path, table: list[dict]) -> bytes:
    with CsvAppender(path, COLUMNS) as log:
        for row in table:
            log.append(row)
    return path.read_bytes()


@SETTINGS
@given(table=rows)
def test_what_the_appender_writes_reads_back_exactly(tmp_path_factory, table):
    path = tmp_path_factory.mktemp("csv") / "metrics.csv"
    write(path, table)
    assert same_rows(read_rows(path), table)


@SETTINGS
@given(table=rows, cut=st.floats(min_value=0.0, max_value=1.0))
def test_a_file_cut_anywhere_reads_as_a_prefix_of_what_was_written(tmp_path_factory, table, cut):
    """A writer killed mid-row, or a disk that lost the tail: the rows read are the first k
    rows written, exactly, for some k; never a row with a shortened value."""
    path = tmp_path_factory.mktemp("csv") / "metrics.csv"
    data = write(path, table)
    path.write_bytes(data[: int(len(data) * cut)])
    got = read_rows(path)
    assert len(got) <= len(table)
    assert same_rows(got, table[: len(got)])


@SETTINGS
@given(table=rows, cut=st.floats(min_value=0.0, max_value=1.0), more=rows)
def test_appending_after_a_cut_keeps_every_complete_row(tmp_path_factory, table, cut, more):
    """The next writer (a resumed run) cuts the torn tail and appends: the file then holds a
    prefix of the old rows followed by the new ones, each exact."""
    path = tmp_path_factory.mktemp("csv") / "metrics.csv"
    data = write(path, table)
    kept = data[: int(len(data) * cut)]
    path.write_bytes(kept)
    header_survived = b"\n" in kept
    write(path, more)
    got = read_rows(path)
    complete = kept.count(b"\n") - 1 if header_survived else 0
    assert same_rows(got, table[:complete] + more)


@SETTINGS
@given(blob=st.binary(max_size=2000))
def test_random_bytes_never_crash_the_csv_reader(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("csv") / "steps.csv"
    path.write_bytes(blob)
    follower = CsvFollower(path)
    got = follower.poll()
    assert isinstance(got, list) and all(isinstance(row, dict) for row in got)
    header = follower.header or []
    assert all(list(row) == header for row in got)
    path.write_bytes(blob + b"\n" + blob)  # grows, or is replaced: still no crash
    assert isinstance(follower.poll(), list)


@SETTINGS
@given(text=st.text(max_size=40))
def test_parse_cell_never_crashes_and_numbers_are_finite_or_named(text):
    value = parse_cell(text)
    if isinstance(value, float) and not math.isfinite(value):
        assert text.strip().lower().lstrip("+-") in ("nan", "inf", "infinity")


toml_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False),
        st.text(max_size=20),
    ),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@SETTINGS
@given(data=st.dictionaries(st.text(min_size=1, max_size=10), toml_values, max_size=6))
def test_toml_written_atomically_reads_back_equal(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("toml") / "status.toml"
    write_toml_atomic(path, data)
    assert read_toml(path) == data


@SETTINGS
@given(blob=st.binary(max_size=2000))
def test_random_bytes_never_crash_the_toml_reader(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("toml") / "status.toml"
    path.write_bytes(blob)
    got = read_toml(path)
    assert got is None or isinstance(got, dict)


@SETTINGS
@given(
    data=st.dictionaries(st.text(min_size=1, max_size=10), toml_values, max_size=6),
    cut=st.floats(0, 1),
)
def test_cut_toml_never_crashes_the_reader(tmp_path_factory, data, cut):
    path = tmp_path_factory.mktemp("toml") / "status.toml"
    write_toml_atomic(path, data)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * cut)])
    got = read_toml(path)
    assert got is None or isinstance(got, dict)


# -- every file of a run directory, with any values: readers and what shows them ----------------
#
# A study directory is built from arbitrary TOML for study.toml, status.toml, summary.toml and
# config.toml (any key, any TOML type, extreme numbers, control characters), arbitrary rows
# (extreme and unparseable cells) for metrics.csv and steps.csv, and arbitrary bytes for
# trainer.log. Whatever is there: no reader raises, every table and the monitor's text and
# charts are built, nothing printed holds a control character, and resume either plans or
# refuses with a user error.

EXTREMES = st.sampled_from(
    [0.0, -0.0, 1e308, -1e308, 1.7976931348623157e308, 5e-324, 1e-320, 2**63 - 1, -(2**63)]
)
MARKUP = st.sampled_from(["[/x]", "[/]", "[bold]", "[link=file:///etc]x[/link]", "[red"])
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12) | MARKUP.map(
    lambda markup: markup + "\x1b]0;t\x07"
)  # TOML cannot hold lone surrogates; Rich markup (an unmatched tag raises) and escapes
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    EXTREMES,
    any_text,
    st.datetimes(timezones=st.sampled_from([None, timezone.utc, timezone(timedelta(hours=-12))])),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=6,
)


def record_table(record) -> st.SearchStrategy[dict]:
    """A TOML table with some of `record`'s keys (each with any value) and unknown ones."""
    keys = [spec.name for spec in dataclasses.fields(record)]
    return st.dictionaries(st.sampled_from(keys) | any_text, values, max_size=10)


STATES = st.sampled_from(["running", "queued", "completed", "failed", "interrupted", "diverged"])
METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "elapsed_s"]
cell_texts = st.one_of(
    st.from_type(float).map(repr),
    EXTREMES.map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.just("9" * 5000),
    st.just("1" + "0" * 400),
    any_text.filter(lambda text: "\n" not in text and "\r" not in text),
)


def csv_text(columns: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


hostile_study = st.fixed_dictionaries(
    {
        "study": record_table(TrainerRecord),
        "launch": record_table(TrainerRecord),
        "status": record_table(RunStatus),
        "state": STATES,
        "summary": record_table(RunSummary),
        "config": st.dictionaries(any_text, values, max_size=4),
        "metrics": st.lists(
            st.lists(cell_texts, min_size=len(METRIC_COLUMNS), max_size=len(METRIC_COLUMNS)),
            max_size=5,
        ),
        "log": st.binary(max_size=300),
        "description": any_text,
    }
)


def render(renderable) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def write_hostile(root: Path, parts: dict) -> Path:
    study = root / "20260101-000000-hostile"
    run = study / "run"
    run.mkdir(parents=True)
    launch = {**parts["launch"], "runs": ["run"]}
    tomli_w_safe = {"study": {"name": "x", "description": parts["description"]}, "launch": launch}
    tomli_w_safe.update({k: v for k, v in parts["study"].items() if k not in ("launch", "study")})
    write_toml_atomic(study / "study.toml", tomli_w_safe)
    write_toml_atomic(run / "status.toml", {**parts["status"], "state": parts["state"]})
    write_toml_atomic(run / "summary.toml", parts["summary"])
    write_toml_atomic(run / "config.toml", parts["config"])
    (run / "metrics.csv").write_text(csv_text(METRIC_COLUMNS, parts["metrics"]))
    (run / "steps.csv").write_text(csv_text(list(STEP_COLUMNS), parts["metrics"]))
    (study / "trainer.log").write_bytes(parts["log"])
    return study


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=hostile_study)
def test_any_run_directory_is_read_shown_and_charted_without_a_crash(tmp_path_factory, parts):
    from tui_trainer.console.tables import run_view, studies_table, study_view
    from tui_trainer.ui.study_progress import study_progress
    from tui_trainer.ui.widgets.charts import draw
    from tui_trainer.ui.widgets.device_panel import device_text

    root = tmp_path_factory.mktemp("hostile")
    study = write_hostile(root, parts)

    (record,) = list_studies(root)
    (run,) = record.runs
    printed = render(studies_table([record])) + render(study_view(record))
    printed += render(run_view(record, read_run_details(run)))
    assert not CONTROL.search(printed)
    table = comparison(record)
    assert isinstance(to_markdown(table), str) and isinstance(to_csv(table), str)

    follower = StudyFollower(study)
    follower.poll()
    lines = follower.new_log_lines()
    assert all(not CONTROL.search(line) for line in lines)
    series = list(follower.runs.values())
    total, done, eta = study_progress(series)
    assert 0 <= done <= total and (eta is None or math.isfinite(eta))
    assert not CONTROL.search(device_text(series).plain)
    plot = Plot()
    plot.plotsize(60, 15)
    for column in ("train_loss", "val_loss", "lr"):
        for log_y in (False, True):
            draw(plot, [("run", *series[0].column(column), "cyan", "braille")], column, log_y, 60)
            plot.build()
    draw(plot, [("run", *series[0].recent_steps(), "cyan", "braille")], "steps", False, 60)
    plot.build()

    with contextlib.suppress(TuiTrainerError):  # refused, with a message: never a crash
        resumable.plan(record)


@SETTINGS
@given(table=record_table(RunStatus))
def test_a_status_of_any_types_reads_as_a_record_of_the_right_types(tmp_path_factory, table):
    path = tmp_path_factory.mktemp("status") / "status.toml"
    write_toml_atomic(path, table)
    status = read_status(path)
    hints = typing.get_type_hints(RunStatus)
    for spec in dataclasses.fields(RunStatus):
        value = getattr(status, spec.name)
        if value is None or spec.name in ("swept", "device_figures"):
            continue
        allowed = typing.get_args(hints[spec.name]) or (hints[spec.name],)
        assert isinstance(value, tuple(t for t in allowed if isinstance(t, type))), spec.name
        if isinstance(value, str):
            assert not CONTROL.search(value)


@SETTINGS
@given(blob=st.binary(max_size=3000), zip_like=st.booleans())
def test_any_bytes_as_a_checkpoint_are_refused_with_a_message(tmp_path_factory, blob, zip_like):
    """last.pt and best.pt: whatever they hold, loading raises CheckpointError (a located line),
    never another exception."""
    from tui_trainer.train.checkpoint import CheckpointError, load

    path = tmp_path_factory.mktemp("ckpt") / "last.pt"
    path.write_bytes((b"PK\x03\x04" if zip_like else b"") + blob)
    try:
        payload = load(path)
    except CheckpointError as error:
        assert str(error).startswith(f"{path}: ")
    else:  # only a real checkpoint loads: a dict of weights
        assert isinstance(payload, dict) and "model" in payload


@SETTINGS
@given(blob=st.binary(max_size=200))
def test_any_lock_file_is_probed_without_a_crash(tmp_path_factory, blob):
    from tui_trainer.store.lock import RunLocks, is_locked

    run = tmp_path_factory.mktemp("run")
    (run / ".lock").write_bytes(blob)
    assert is_locked(run) is False
    with RunLocks() as locks:
        locks.acquire(run)
        assert is_locked(run) is True
