"""Sweep expansion and run naming."""

from __future__ import annotations

import ast

import pytest

from tests.helpers import REPO, TINY_PRESET
from tui_trainer import tomlcompat
from tui_trainer.config import load_preset
from tui_trainer.config.positions import KeyPositions, split_dotted_key
from tui_trainer.config.sweep import axis_labels, format_value, run_names
from tui_trainer.errors import ConfigError


def test_no_sweep_is_one_run_named_run(write_preset):
    study = load_preset(write_preset())
    assert [r.name for r in study.runs] == ["run"]
    assert study.runs[0].values == {}


def test_cartesian_product_in_file_order(write_preset):
    text = (
        TINY_PRESET
        + '\n[sweep]\n"optim.lr" = [0.01, 0.05]\n"optim.weight_decay" = [0.0005, 0.0001]\n'
    )
    study = load_preset(write_preset(text))
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
    study = load_preset(write_preset(text), ["optim.lr=0.2"])
    assert [r.name for r in study.runs] == ["seed=0", "seed=1"]
    assert {r.config.optim.lr for r in study.runs} == {0.2}


def test_set_can_add_a_sweep_axis(write_preset):
    study = load_preset(write_preset(), ["sweep.data.augment=[[], ['crop', 'hflip']]"])
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
    study = load_preset(write_preset(TINY_PRESET.replace("lr = 0.1", "lr = 1")))
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


def test_a_sweep_expands_without_a_file_and_names_its_problems_by_key_path():
    from tui_trainer.config.schema import StudyPreset
    from tui_trainer.config.sweep import SweepError, SweepProblem, expand_sweep

    data = tomlcompat.loads(TINY_PRESET)
    data["sweep"] = {"optim.lr": [0.1, -1.0], "optim.nope": [1]}
    with pytest.raises(SweepError) as raised:
        expand_sweep(StudyPreset.model_validate(data))
    assert raised.value.problems == [
        SweepProblem(
            ("sweep", "optim.nope"),
            "unknown key (expected one of: name, lr, momentum, nesterov, weight_decay, betas, eps)",
        )
    ]
    data["sweep"] = {"optim.lr": [0.1, -1.0]}
    with pytest.raises(SweepError) as raised:
        expand_sweep(StudyPreset.model_validate(data))
    (problem,) = raised.value.problems
    assert problem.render() == 'sweep."optim.lr"[1]: must be > 0 (got -1.0)'


def test_the_loader_locates_a_sweep_problem_in_the_file(write_preset):
    text = TINY_PRESET + '\n[sweep]\n"optim.lr" = [0.1, -1.0]\n'
    with pytest.raises(ConfigError) as raised:
        load_preset(write_preset(text))
    line = text.splitlines().index('"optim.lr" = [0.1, -1.0]') + 1
    (message,) = raised.value.lines()
    assert message.endswith(f':{line}:1: sweep."optim.lr"[1]: must be > 0 (got -1.0)')


def test_expanding_a_sweep_does_not_import_the_file_loader():
    """No cycle between config/load.py and config/sweep.py, type-checking imports included."""
    tree = ast.parse((REPO / "tui_trainer" / "config" / "sweep.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "tui_trainer.config.sweep" in {
        node.module
        for node in ast.walk(ast.parse((REPO / "tui_trainer" / "config" / "load.py").read_text()))
        if isinstance(node, ast.ImportFrom)
    }  # the check looks at the real import statements
    assert "tui_trainer.config.load" not in imported
