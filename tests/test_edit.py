"""The editor's core: a field for every key, text <-> values, validation by key, and a save
that keeps comments."""

from __future__ import annotations

from tests.helpers import REPO
from tui_trainer import tomlcompat
from tui_trainer.config import edit
from tui_trainer.config.load import load_preset
from tui_trainer.config.schema import SECTION_MODELS


def test_every_schema_key_is_an_editable_field_of_the_right_kind():
    specs = {spec.key: spec for spec in edit.field_specs()}
    for section, model in SECTION_MODELS.items():
        for name in model.model_fields:
            assert f"{section}.{name}" in specs
    assert specs["optim.name"].kind == "choice" and specs["optim.name"].choices == (
        "sgd",
        "adam",
        "adamw",
    )
    assert (
        specs["model.activation_override"].kind == "choice"
        and specs["model.activation_override"].optional
    )
    assert specs["optim.nesterov"].kind == "switch"
    assert specs["study.name"].textual and specs["data.augment"].kind == "text"
    assert specs["data.resize"].optional


def test_values_round_trip_through_text():
    specs = {spec.key: spec for spec in edit.field_specs()}
    for key, value in (
        ("optim.lr", 0.05),
        ("data.augment", ["crop", "hflip"]),
        ("optim.betas", [0.9, 0.999]),
        ("train.epochs", 15),
        ("data.resize", None),
        ("study.name", "x-1"),
        ("optim.eps", 1e-8),
    ):
        spec = specs[key]
        text = edit.format_value(value, spec)
        assert "\n" not in text
        assert edit.parse_text(text, spec) == value


def test_check_keys_errors_and_expands_the_sweep():
    data = load_preset(REPO / "presets" / "quickstart.toml").preset.model_dump()
    data["optim"]["lr"] = -1.0
    data["train"]["epochs"] = "many"
    checked = edit.check(data)
    assert checked.errors == {
        "optim.lr": "must be > 0 (got -1.0)",
        "train.epochs": "expected an integer, got a string 'many'",
    }
    data["optim"]["lr"], data["train"]["epochs"] = 0.1, 3
    data["sweep"] = {"optim.lr": [0.1, 0.2], "train.seed": [0, 1]}
    checked = edit.check(data)
    assert not checked.errors and [r.name for r in checked.runs][:2] == [
        "lr=0.1,seed=0",
        "lr=0.1,seed=1",
    ]
    data["sweep"] = {"optim.nope": [1]}
    assert "unknown key" in edit.check(data).errors["sweep"]


def test_saving_keeps_comments_and_changes_only_what_changed(tmp_path):
    source = REPO / "presets" / "quickstart.toml"
    original = source.read_text()
    loaded = load_preset(source)
    baseline = loaded.preset.model_dump()
    edited = loaded.preset.model_copy(deep=True)
    edited.optim.lr = 0.02
    edited.data.resize = 40
    edited.sweep = {"train.seed": [0, 1]}
    path = tmp_path / "mine.toml"
    edit.save_preset(path, original, edited, baseline)
    text = path.read_text()
    assert "# pad 4 + random 32x32 crop; no flips" in text  # an inline comment survives
    assert text.startswith("# The offline quickstart")
    assert "lr = 0.02" in text and "resize = 40" in text
    assert "test_fraction = 0.2" in text and "pct_start" not in text  # untouched defaults stay out
    again = load_preset(path)
    assert again.preset.optim.lr == 0.02 and [r.name for r in again.runs] == ["seed=0", "seed=1"]
    assert tomlcompat.loads(text)["sweep"] == {"train.seed": [0, 1]}


def test_a_save_that_would_not_load_back_is_refused_located_and_writes_nothing(tmp_path):
    import pytest

    from tui_trainer.errors import ConfigError

    source = REPO / "presets" / "quickstart.toml"
    loaded = load_preset(source)
    named = loaded.preset.model_copy(
        update={"study": loaded.preset.study.model_copy(update={"name": "my lr"})}
    )
    path = tmp_path / "user-presets" / "my lr.toml"
    with pytest.raises(ConfigError) as raised:
        edit.save_preset(path, source.read_text(), named, loaded.preset.model_dump())
    assert raised.value.lines() == [
        f"{path}:9:1: study.name: use only letters, digits, '.', '_' and '-' (got 'my lr')"
    ]
    assert not (tmp_path / "user-presets").exists()


def test_a_save_says_where_it_came_from_returns_its_text_and_writes_through_a_link(tmp_path):
    from datetime import datetime

    source = REPO / "presets" / "quickstart.toml"
    loaded = load_preset(source)
    real = tmp_path / "dotfiles" / "real.toml"
    real.parent.mkdir()
    real.write_text("# an older version\n")
    link = tmp_path / "mine.toml"
    link.symlink_to(real)
    text = edit.save_preset(
        link,
        source.read_text(),
        loaded.preset,
        loaded.preset.model_dump(),
        edited_from="quickstart (presets/quickstart.toml)",
        when=datetime(2026, 1, 2, 3, 4),
    )
    assert link.is_symlink() and real.read_text() == text
    assert text.splitlines()[0] == (
        "# Edited from quickstart (presets/quickstart.toml) in tui-trainer's editor on "
        "2026-01-02 03:04."
    )
    assert load_preset(link).preset == loaded.preset
