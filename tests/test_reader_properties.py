"""Property-based tests (Hypothesis) of the readers of the run directory: metrics.csv and
steps.csv as CsvAppender writes them and as a killed writer or a damaged disk leaves them, and
TOML files. Readers never crash, never hang, and never return a value that was not written."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.csvlog import CsvAppender, CsvFollower, parse_cell, read_rows

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
