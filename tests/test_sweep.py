"""Sweep expansion and run naming."""

from __future__ import annotations

from tests.conftest import TINY_PRESET
from tui_trainer.config import load_study
from tui_trainer.config.positions import KeyPositions, split_dotted_key
from tui_trainer.config.sweep import axis_labels, format_value, run_names


def test_no_sweep_is_one_run_named_run(write_preset):
    study = load_study(write_preset())
    assert [r.name for r in study.runs] == ["run"]
    assert study.runs[0].values == {}


def test_cartesian_product_in_file_order(write_preset):
    text = (
        TINY_PRESET
        + '\n[sweep]\n"optim.lr" = [0.01, 0.05]\n"optim.weight_decay" = [0.0005, 0.0001]\n'
    )
    study = load_study(write_preset(text))
    assert [r.name for r in study.runs] == [
        "lr=0.01,wd=0.0005",
        "lr=0.01,wd=0.0001",
        "lr=0.05,wd=0.0005",
        "lr=0.05,wd=0.0001",
    ]
    last = study.runs[-1]
    assert last.values == {"optim.lr": 0.05, "optim.weight_decay": 0.0001}
    assert last.config.optim.lr == 0.05
    assert last.config.optim.weight_decay == 0.0001
    # everything else comes from the base config
    assert last.config.train.epochs == 2
    assert last.config.model.width_mult == 0.25


def test_set_of_a_swept_key_fixes_it(write_preset):
    text = TINY_PRESET + '\n[sweep]\n"optim.lr" = [0.01, 0.05]\n"train.seed" = [0, 1]\n'
    study = load_study(write_preset(text), ["optim.lr=0.2"])
    assert [r.name for r in study.runs] == ["seed=0", "seed=1"]
    assert {r.config.optim.lr for r in study.runs} == {0.2}


def test_set_can_add_a_sweep_axis(write_preset):
    study = load_study(write_preset(), ["sweep.data.augment=[[], ['crop', 'hflip']]"])
    assert [r.name for r in study.runs] == ["augment=none", "augment=crop+hflip"]
    assert study.runs[1].config.data.augment == ["crop", "hflip"]


def test_labels_clash_falls_back_to_full_keys():
    assert axis_labels(["optim.lr", "optim.weight_decay"]) == ["lr", "wd"]
    assert axis_labels(["model.dropout", "data.dropout"]) == ["model.dropout", "data.dropout"]


def test_value_formatting():
    assert format_value(0.05) == "0.05"
    assert format_value(5e-5) == "5e-05"
    assert format_value(True) == "true"
    assert format_value(["crop", "hflip"]) == "crop+hflip"
    assert format_value([]) == "none"
    assert format_value(128) == "128"


def test_run_names_are_unique_and_safe():
    names = run_names(["model.activation"], [["a/b"], ["a b"]])
    assert names == ["activation=a_b", "activation=a_b-2"]


def test_integer_learning_rate_is_accepted_as_float(write_preset):
    study = load_study(write_preset(TINY_PRESET.replace("lr = 0.1", "lr = 1")))
    assert isinstance(study.runs[0].config.optim.lr, float)


def test_key_positions_follow_tables_quotes_and_dots():
    text = (
        "# comment\n"
        "[data]\n"
        "  batch_size = 3\n"
        'description = """\n'
        "fake = 1\n"
        '"""\n'
        "[sweep]\n"
        '"optim.lr" = [\n'
        "  0.1,\n"
        "]\n"
        "model.arch = 'x'\n"
    )
    positions = KeyPositions(text)
    assert positions.find(("data", "batch_size")).line == 3
    assert positions.find(("data", "batch_size")).col == 3
    assert not positions.has(("data", "fake"))
    assert positions.find(("sweep", "optim.lr")).line == 8
    assert positions.find(("sweep", "model", "arch")).line == 11
    assert positions.find(("data", "missing")).line == 2  # nearest written ancestor
    assert positions.find(("nothing",)) is None
    assert split_dotted_key('a."b.c".d') == ("a", "b.c", "d")
