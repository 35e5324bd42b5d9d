"""The time estimates' source (store.timing.setup_timings) over many studies: each study is read
once, then again only when a file its timings come from changes size or time."""

from __future__ import annotations

import socket

from tui_trainer.store import reader, timing
from tui_trainer.store.atomic import read_toml, write_toml_atomic
from tui_trainer.store.synthetic import write_many_studies
from tui_trainer.store.timing import SetupTiming, setup_timings

V1 = ("mobilenet_v1", "digits", 1.0, None)
V2 = ("mobilenet_v2", "digits", 1.0, None)


def test_a_studys_timings_are_read_again_only_when_one_of_its_files_changed(tmp_path, monkeypatch):
    """Three runs of 3 epochs ending at 2, 4 and 6 s, wall time 6 s: 2 s per epoch, none
    outside. The newest study's first run rewritten with a wall time of 10 s: 4 s outside its
    epochs, read from that study alone."""
    runs_dir = tmp_path / "runs"
    older, newer = write_many_studies(runs_dir, 2, host=socket.gethostname())
    read = []
    read_study = reader.read_study

    def counted(path, *args, **kwargs):
        read.append(path)
        return read_study(path, *args, **kwargs)

    monkeypatch.setattr(reader, "read_study", counted)
    monkeypatch.setattr(timing, "read_study", counted, raising=False)

    steady = {V1: SetupTiming(2.0, 0.0), V2: SetupTiming(2.0, 0.0)}
    assert setup_timings(runs_dir) == steady
    assert setup_timings(runs_dir) == steady
    assert read == [newer, older]

    summary = newer / "lr=0.01" / "summary.toml"
    write_toml_atomic(summary, {**read_toml(summary), "wall_time_s": 10.0})
    assert setup_timings(runs_dir) == {V1: SetupTiming(2.0, 4.0), V2: SetupTiming(2.0, 0.0)}
    assert read == [newer, older, newer]
