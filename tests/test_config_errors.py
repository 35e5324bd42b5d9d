"""Each kind of config error: its message, its location, exit code 2, and no directory created."""

from __future__ import annotations

import re
from types import UnionType
from typing import Literal, Union, get_args, get_origin

import pytest
from typer.testing import CliRunner

from tests.helpers import TINY_PRESET
from tui_trainer.cli import app
from tui_trainer.config import load_preset
from tui_trainer.config.schema import SECTION_MODELS
from tui_trainer.errors import ConfigError

runner = CliRunner()


def errors_of(path, overrides=()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_preset(path, overrides)
    return info.value.lines()


def cli_fails(args, runs_dir) -> str:
    result = runner.invoke(app, ["run", *args, "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2, result.output
    assert not runs_dir.exists(), "a config error must not create the runs directory"
    assert "Traceback" not in result.output
    return result.output


def test_toml_syntax_error_names_file_line_and_column(write_preset, runs_dir):
    path = write_preset(TINY_PRESET.replace("lr = 0.1", "lr = 0.1.2"))
    line = TINY_PRESET.splitlines().index("lr = 0.1") + 1
    output = cli_fails([str(path)], runs_dir)
    assert f"{path}:{line}:" in output
    assert "TOML syntax" in output


def test_unterminated_table_header(write_preset):
    path = write_preset("[study\nname = 'x'\n")
    (message,) = errors_of(path)
    assert message.startswith(f"{path}:1:")


def test_wrong_type_names_key_and_line(write_preset, runs_dir):
    path = write_preset(TINY_PRESET.replace("epochs = 2", 'epochs = "two"'))
    line = TINY_PRESET.splitlines().index("epochs = 2") + 1
    output = cli_fails([str(path)], runs_dir)
    assert f"{path}:{line}:1: train.epochs: expected an integer, got a string 'two'" in output


def test_string_is_never_taken_for_a_number(write_preset):
    path = write_preset(TINY_PRESET.replace("lr = 0.1", 'lr = "0.1"'))
    (message,) = errors_of(path)
    assert "optim.lr: expected a number, got a string '0.1'" in message


def test_a_misspelt_key_is_answered_with_the_closest_key_not_the_whole_list(write_preset, runs_dir):
    path = write_preset(TINY_PRESET.replace("batch_size = 64", "batchsize = 64"))
    line = TINY_PRESET.splitlines().index("batch_size = 64") + 1
    output = cli_fails([str(path)], runs_dir)
    assert (
        output
        == f"error: {path}:{line}:1: data.batchsize: unknown key (did you mean 'batch_size'?)\n"
    )


def test_an_unknown_key_like_no_other_lists_the_allowed_ones(write_preset):
    path = write_preset(TINY_PRESET.replace("batch_size = 64", "batch_size = 64\nzzz = 1"))
    (message,) = errors_of(path)
    allowed = ", ".join(SECTION_MODELS["data"].model_fields)
    assert message.endswith(f"data.zzz: unknown key (expected one of: {allowed})")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'arch = "mobilenet_v1"',
            'arch = "mobilenetv2"',
            "model.arch: unknown value 'mobilenetv2' (did you mean 'mobilenet_v2', "
            "'mobilenet_v1' or 'mobilenet_v3_small'?)",
        ),
        (
            'dataset = "digits"',
            'dataset = "cifar-10"',
            "data.dataset: unknown value 'cifar-10' (did you mean 'cifar10' or 'cifar100'?)",
        ),
        ("[train]", "[trian]", "trian: unknown section (did you mean 'train'?)"),
    ],
)
def test_a_misspelt_value_or_section_is_answered_with_the_closest_ones(
    write_preset, old, new, expected
):
    path = write_preset(TINY_PRESET.replace(old, new, 1))
    messages = errors_of(path)
    assert expected in [m.split(": ", 1)[1] for m in messages]


def test_unknown_section(write_preset):
    path = write_preset(TINY_PRESET + "\n[trainer]\nx = 1\n")
    (message,) = errors_of(path)
    assert "trainer: unknown section" in message
    assert f"{path}:{TINY_PRESET.count(chr(10)) + 2}:1" in message


def test_out_of_range_value(write_preset, runs_dir):
    path = write_preset(TINY_PRESET.replace("lr = 0.1", "lr = -0.1"))
    line = TINY_PRESET.splitlines().index("lr = 0.1") + 1
    output = cli_fails([str(path)], runs_dir)
    assert f"{path}:{line}:1: optim.lr: must be > 0 (got -0.1)" in output


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("epochs = 2", "epochs = 0", "train.epochs: must be >= 1 (got 0)"),
        (
            'dataset = "digits"',
            'dataset = "mnist"',
            "data.dataset: must be one of 'digits', 'cifar10', 'cifar100' or 'imagefolder' "
            "(got 'mnist')",
        ),
        ('arch = "mobilenet_v1"', 'arch = "resnet50"', "model.arch: must be one of 'mobilenet_v1'"),
        (
            'augment = ["crop"]',
            'augment = ["crop", "crop"]',
            "data.augment: each augmentation may appear once",
        ),
        (
            'augment = ["crop"]',
            'augment = ["jitter"]',
            "data.augment[0]: must be one of 'crop', 'hflip', 'rotate' or 'mixup'",
        ),
        ('name = "tiny"', 'name = "my study"', "study.name: use only letters, digits"),
        (
            'name = "sgd"',
            'name = "adam"',
            "optim.nesterov: needs optim.name = 'sgd' and momentum > 0",
        ),
        ('device = "cpu"', 'device = "tpu"', "train.device: must match"),
    ],
)
def test_schema_errors(write_preset, old, new, expected):
    assert old in TINY_PRESET
    path = write_preset(TINY_PRESET.replace(old, new, 1))
    messages = errors_of(path)
    assert any(expected in m for m in messages), messages
    assert all(m.startswith(f"{path}:") for m in messages)


def test_val_fraction_of_one_is_rejected(write_preset):
    path = write_preset(
        TINY_PRESET.replace('dataset = "digits"', 'dataset = "digits"\nval_fraction = 1.0')
    )
    (message,) = errors_of(path)
    assert "data.val_fraction: must be < 1 (got 1.0)" in message


def test_missing_required_key(write_preset):
    path = write_preset(TINY_PRESET.replace("lr = 0.1\n", ""))
    (message,) = errors_of(path)
    assert "optim.lr: required key is missing" in message


def test_missing_file_and_directory(tmp_path, runs_dir):
    output = cli_fails([str(tmp_path / "nope.toml")], runs_dir)
    assert "nope.toml: no such preset file" in output
    (message,) = errors_of(tmp_path)
    assert "is a directory" in message


def test_non_utf8_bytes_are_located(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(TINY_PRESET.replace("tiny test study", "caf\xe9").encode("latin-1"))
    (message,) = errors_of(path)
    assert message.startswith(f"{path}:3:")
    assert "not valid UTF-8 (byte 0xe9)" in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("optim.lr=-1", "--set optim.lr=-1: optim.lr: must be > 0 (got -1)"),
        ("optim.lr=abc", "--set optim.lr=abc: optim.lr: expected a number, got a string 'abc'"),
        ("optim.lrr=0.1", "--set optim.lrr=0.1: optim.lrr: unknown key (did you mean 'lr'?)"),
        ("optim.lr", "--set optim.lr: expected KEY=VALUE"),
        ("lr=0.1", "--set lr=0.1: lr: the key must be a dotted path"),
        ("optim.lr=", "--set optim.lr=: optim.lr: no value after '='"),
        ("optim.lr=[1,", "--set optim.lr=[1,: optim.lr: not a valid TOML value"),
        ("bogus.key=1", "--set bogus.key=1: bogus: unknown section"),
        (
            "train.epochs=1.5",
            "--set train.epochs=1.5: train.epochs: expected an integer, got a float 1.5",
        ),
        ("optim.lr.x=1", "--set optim.lr.x=1: optim.lr: is a value, not a table"),
    ],
)
def test_bad_set_overrides(write_preset, runs_dir, override, expected):
    path = write_preset()
    output = cli_fails([str(path), "--set", override], runs_dir)
    assert expected in output


def test_good_overrides_are_typed_by_the_schema(write_preset):
    study = load_preset(
        write_preset(),
        [
            "optim.lr=0.05",
            "train.epochs=3",
            "schedule.name=constant",
            "data.augment=[]",
            "optim.nesterov=false",
        ],
    )
    config = study.runs[0].config
    assert config.optim.lr == 0.05
    assert config.train.epochs == 3
    assert config.schedule.name == "constant"
    assert config.data.augment == []
    assert config.optim.nesterov is False


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        ('"optim.lr" = []', 'sweep."optim.lr": needs at least one value'),
        ('"optim.lr" = 0.1', 'sweep."optim.lr": expected a list'),
        (
            '"optim.lr" = [0.1, "fast"]',
            "sweep.\"optim.lr\"[1]: expected a number, got a string 'fast'",
        ),
        ('"optim.lr" = [0.1, 0.0]', 'sweep."optim.lr"[1]: must be > 0 (got 0.0)'),
        ('"optim.lr" = [0.1, 0.1]', 'sweep."optim.lr": value 0.1 appears twice'),
        ('"optim.speed" = [1]', 'sweep."optim.speed": unknown key (expected one of: name, lr,'),
        ('"optim.lrr" = [1]', "sweep.\"optim.lrr\": unknown key (did you mean 'lr'?)"),
        ('"study.name" = ["a"]', "sweep keys are 'section.key' with section one of data, model"),
        ('"lr" = [0.1]', "sweep keys are 'section.key'"),
    ],
)
def test_sweep_errors_point_at_the_sweep_line(write_preset, sweep, expected):
    text = TINY_PRESET + "\n[sweep]\n" + sweep + "\n"
    path = write_preset(text)
    sweep_line = text.splitlines().index(sweep) + 1
    messages = errors_of(path)
    assert any(expected in m for m in messages), messages
    assert any(m.startswith(f"{path}:{sweep_line}:1:") for m in messages), messages


def test_sweep_of_a_million_runs_is_refused_without_expanding(write_preset):
    axes = "\n".join(
        f'"train.{k}" = [{", ".join(str(i + 1) for i in range(100))}]'
        for k in ("seed", "epochs", "log_every_steps")
    )
    path = write_preset(TINY_PRESET + "\n[sweep]\n" + axes + "\n")
    (message,) = errors_of(path)
    assert "sweep: expands to 1,000,000 runs; at most 1000 allowed" in message


def test_invalid_combination_in_a_sweep(write_preset):
    # nesterov needs momentum > 0: valid axis by axis, invalid in one combination.
    text = TINY_PRESET + '\n[sweep]\n"optim.momentum" = [0.9, 0.0]\n'
    messages = errors_of(write_preset(text))
    assert any("run momentum=0.0: optim.nesterov: needs" in m for m in messages), messages


def test_every_problem_is_reported_at_once(write_preset):
    text = TINY_PRESET.replace("lr = 0.1", "lr = -1").replace("epochs = 2", "epochs = 0")
    messages = errors_of(write_preset(text))
    assert len(messages) == 2
    assert {m.split(": ")[1] for m in messages} == {"optim.lr", "train.epochs"}


# -- found in review: inputs that once gave a traceback, a wrong line, or a silent success --------


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("schedule.warmup_epochs=inf", "schedule.warmup_epochs: must be a finite number (got inf)"),
        ("optim.lr=nan", "optim.lr: must be a finite number (got nan)"),
        ("schedule.min_lr=0.5", "schedule.min_lr: must be <= optim.lr (0.1)"),
        ("data.batch_size=1", "data.batch_size: must be >= 2 (got 1)"),
        ("train.seed=4294967296", "train.seed: must be <= 4294967295"),
        ("train.device=cuda:99999999999999999999", "train.device: must match"),
        ("sweep.train.device=['cpu']", 'sweep."train.device": cannot be swept'),
    ],
)
def test_values_that_cannot_train_sensibly_are_config_errors(write_preset, override, expected):
    messages = errors_of(write_preset(), [override])
    assert any(expected in m for m in messages), messages


def _takes_text(annotation) -> bool:
    """Whether a schema type takes a TOML string: str, a Literal of names, or either or None."""
    if annotation is str or get_origin(annotation) is Literal:
        return True
    return get_origin(annotation) in (Union, UnionType) and any(
        _takes_text(arm) for arm in get_args(annotation)
    )


TEXT_KEYS = [
    f"{section}.{name}"
    for section, model in SECTION_MODELS.items()
    for name, info in model.model_fields.items()
    if info.annotation is str or info.annotation == str | None
]


def test_the_text_keys_are_the_ones_the_schema_types_as_text():
    assert TEXT_KEYS == [
        "study.name",
        "study.description",
        "data.data_dir",
        "train.device",
        "parallel.cluster",
    ]


@pytest.mark.parametrize("key", TEXT_KEYS)
def test_a_text_key_set_to_an_integer_is_a_located_error_and_creates_nothing(
    write_preset, runs_dir, key
):
    output = cli_fails([str(write_preset()), "--set", f"{key}=5"], runs_dir)
    assert output.splitlines() == [
        f"error: --set {key}=5: {key}: expected a string, got an integer 5; for the text, "
        f"quote it: --set '{key}=\"5\"'"
    ]


@pytest.mark.parametrize(
    "key",
    [
        f"{section}.{name}"
        for section, model in SECTION_MODELS.items()
        for name in model.model_fields
    ],
)
def test_every_key_set_to_a_value_of_another_toml_type_is_one_located_line(
    write_preset, runs_dir, key
):
    section, name = key.split(".")
    text = _takes_text(SECTION_MODELS[section].model_fields[name].annotation)
    value = "5" if text else '"5"'  # an integer where text belongs, else a string
    output = cli_fails([str(write_preset()), "--set", f"{key}={value}"], runs_dir)
    (line,) = output.splitlines()
    assert line.startswith(f"error: --set {key}={value}: {key}: "), line


def test_text_keys_take_bare_words_addresses_and_quoted_numbers(write_preset):
    study = load_preset(
        write_preset(),
        ["parallel.cluster=10.0.0.1:6379", 'study.name="2024"', 'study.description="true"'],
    )
    assert study.preset.parallel.cluster == "10.0.0.1:6379"
    assert (study.preset.study.name, study.preset.study.description) == ("2024", "true")
    assert load_preset(write_preset(), ["parallel.cluster=auto"]).preset.parallel.cluster == "auto"


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + TINY_PRESET.encode())
    assert load_preset(path).runs[0].config.optim.lr == 0.1


def test_error_at_the_end_of_a_file_without_final_newline(write_preset):
    path = write_preset('[study]\nname = "x"\ndescription = "abc')
    (message,) = errors_of(path)
    assert message.startswith(f"{path}:3:")


def test_unicode_line_separators_do_not_shift_line_numbers(write_preset):
    text = TINY_PRESET.replace("# ", "").replace(
        'description = "tiny test study"', 'description = "a\u2028b"'
    )
    text = text.replace("epochs = 2", "epochs = 0")
    path = write_preset(text)
    line = text.split("\n").index("epochs = 0") + 1
    (message,) = errors_of(path)
    assert message.startswith(f"{path}:{line}:1: train.epochs")


def test_deeply_nested_arrays_are_an_error_not_a_crash(write_preset, runs_dir):
    path = write_preset(TINY_PRESET + "x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert errors_of(path) == [f"{path}: TOML nested too deeply"]
    output = cli_fails([str(write_preset()), "--set", "optim.lr=" + "[" * 5000], runs_dir)
    assert "optim.lr" in output


def test_unquoted_dotted_sweep_key_gets_a_hint(write_preset):
    messages = errors_of(write_preset(TINY_PRESET + "\n[sweep]\noptim.lr = [0.1]\n"))
    assert any('write a sweep key in quotes: "section.key" = [values]' in m for m in messages)


def test_an_absurdly_long_preset_path(runs_dir):
    output = cli_fails(["x" * 5000 + ".toml"], runs_dir)
    assert "cannot read: File name too long" in output


# -- the hostile-input corpus: every malformed preset gets one located line and exit 2 --------

HOSTILE_PRESETS = {
    "syntax error": TINY_PRESET.replace("lr = 0.1", "lr = = 0.1"),
    "unterminated string": TINY_PRESET.replace('name = "tiny"', 'name = "tiny'),
    "wrong type": TINY_PRESET.replace("epochs = 2", 'epochs = "two"'),
    "negative learning rate": TINY_PRESET.replace("lr = 0.1", "lr = -0.1"),
    "zero learning rate": TINY_PRESET.replace("lr = 0.1", "lr = 0.0"),
    "infinite learning rate": TINY_PRESET.replace("lr = 0.1", "lr = inf"),
    "zero epochs": TINY_PRESET.replace("epochs = 2", "epochs = 0"),
    "val fraction of one": TINY_PRESET.replace(
        "batch_size = 64", "batch_size = 64\nval_fraction = 1.0"
    ),
    "val fraction above one": TINY_PRESET.replace(
        "batch_size = 64", "batch_size = 64\nval_fraction = 1.5"
    ),
    "unknown dataset": TINY_PRESET.replace('"digits"', '"imagenet"'),
    "unknown architecture": TINY_PRESET.replace('"mobilenet_v1"', '"vgg16"'),
    "unknown key": TINY_PRESET.replace("seed = 0", "seed = 0\nseeds = 1"),
    "empty sweep": TINY_PRESET + '\n[sweep]\n"optim.lr" = []\n',
    "a sweep of a million runs": TINY_PRESET
    + "\n[sweep]\n"
    + "\n".join(
        f'"train.{k}" = [{", ".join(str(i + 1) for i in range(100))}]'
        for k in ("seed", "epochs", "log_every_steps")
    )
    + "\n",
    "wrong type inside a sweep": TINY_PRESET + '\n[sweep]\n"train.epochs" = [1, "2"]\n',
    "a table where a value belongs": TINY_PRESET.replace("lr = 0.1", "lr = {value = 0.1}"),
}


@pytest.mark.parametrize("case", [*HOSTILE_PRESETS, "non-UTF-8 bytes"])
def test_hostile_presets_get_one_located_line_and_exit_2(tmp_path, case):
    path = tmp_path / "hostile.toml"
    if case == "non-UTF-8 bytes":
        path.write_bytes(TINY_PRESET.replace('"tiny test study"', '"caf\xe9"').encode("latin-1"))
    else:
        path.write_text(HOSTILE_PRESETS[case], encoding="utf-8")
    runs_dir = tmp_path / "runs"
    output = cli_fails([str(path)], runs_dir)
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    (line,) = lines
    assert re.match(rf"error: {re.escape(str(path))}:\d+(:\d+)?: \S", line), line
