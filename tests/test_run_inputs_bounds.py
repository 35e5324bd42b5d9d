"""A run's inputs.toml is read back under the bounds the schema puts on the same data keys: a
hand-edited or damaged value is one line naming the file and the key (exit 2), never NaN
probabilities for every image, one constant class, or a 30 GB allocation per image."""

from __future__ import annotations

import pytest

from tui_trainer.errors import ConfigError, ExitCode, UnavailableError
from tui_trainer.train.inputs import RunInputs, read_inputs, write_inputs

VALID = {
    "dataset": '"digits"',
    "classes": '["zero", "one", "two"]',
    "channels": "3",
    "image_size": "32",
    "resize": "64",
    "mean": "[0.1, 0.2, 0.3]",
    "std": "[0.25, 0.5, 0.75]",
    "grayscale_to_rgb": "true",
}


def inputs_file(tmp_path, **changed: str | None):
    """inputs.toml of VALID with `changed` keys replaced (as TOML text) or, given None, left out."""
    table = {**VALID, **changed}
    lines = [f"{key} = {value}" for key, value in table.items() if value is not None]
    path = tmp_path / "inputs.toml"
    path.write_text("[inputs]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def problems_of(path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        read_inputs(path)
    assert info.value.exit_code == ExitCode.USAGE
    return info.value.lines()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("std", "[nan, nan, nan]", "inputs.std[0]: must be a finite number (got nan)"),
        ("std", "inf", "inputs.std: expected a list, e.g. [1, 2], got a float inf"),
        ("std", "[0.25, 0.0, 0.75]", "inputs.std[1]: must be > 0 (got 0.0)"),
        ("std", "[0.25, -1.0, 0.75]", "inputs.std[1]: must be > 0 (got -1.0)"),
        ("mean", "nan", "inputs.mean: expected a list, e.g. [1, 2], got a float nan"),
        ("mean", "[0.1, inf, 0.3]", "inputs.mean[1]: must be a finite number (got inf)"),
        ("image_size", "100000", "inputs.image_size: must be <= 1024 (got 100000)"),
        ("resize", "100000", "inputs.resize: must be <= 1024 (got 100000)"),
        ("resize", "0", "inputs.resize: must be >= 8 (got 0)"),
        ("resize", '"64"', "inputs.resize: expected an integer, got a string '64'"),
        ("resize", None, "inputs.resize: required key is missing"),
        (
            "channels",
            "1",
            "inputs.channels: must be 3, as many as mean and std have values (got 1)",
        ),
        (
            "std",
            "[0.25, 0.5]",
            "inputs.std: list should have at least 3 items after validation, not 2",
        ),
        (
            "classes",
            '["zero"]',
            "inputs.classes: list should have at least 2 items after validation, not 1",
        ),
        (
            "classes",
            '["zero", "one", "zero"]',
            "inputs.classes: each class name may appear once ('zero' repeats)",
        ),
        (
            "dataset",
            '"imagenet"',
            "inputs.dataset: unknown value 'imagenet' (did you mean 'imagefolder'?)",
        ),
        ("grayscale_to_rgb", "1", "inputs.grayscale_to_rgb: expected true or false, got an "
         "integer 1"),
    ],
)  # fmt: skip
def test_a_value_outside_the_schemas_bounds_is_one_line_naming_the_file_and_key(
    tmp_path, key, value, expected
):
    path = inputs_file(tmp_path, **{key: value})
    assert problems_of(path) == [f"{path}: {expected}"]


def test_each_bad_key_is_its_own_line(tmp_path):
    path = inputs_file(tmp_path, mean="[nan, 0.2, nan]", image_size="100000")
    assert problems_of(path) == [
        f"{path}: inputs.image_size: must be <= 1024 (got 100000)",
        f"{path}: inputs.mean[0]: must be a finite number (got nan)",
    ]


def test_a_damaged_file_or_a_missing_table_is_a_usage_error_and_a_missing_file_unavailable(
    tmp_path,
):
    path = tmp_path / "inputs.toml"
    path.write_text("[inputs\nstd = 1\n", encoding="utf-8")
    assert problems_of(path) == [f"{path}: not a readable TOML file"]
    path.write_text("[other]\nstd = 1\n", encoding="utf-8")
    assert problems_of(path) == [f"{path}: inputs: required table is missing"]
    path.write_text('inputs = "x"\n', encoding="utf-8")
    assert problems_of(path) == [f"{path}: inputs: expected a table"]
    path.unlink()
    with pytest.raises(UnavailableError) as info:
        read_inputs(path)
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert str(info.value) == (
        f"{path}: missing; `tui-trainer backfill RUN` writes it from the run's config and dataset"
    )


def test_what_a_run_writes_reads_back_the_same_and_unknown_keys_are_ignored(tmp_path):
    inputs = RunInputs(
        dataset="imagefolder",
        classes=("cat", "dog"),
        channels=3,
        image_size=8,
        resize=1024,
        mean=(0.5, 0.25, 0.125),
        std=(1e-6, 0.5, 2.0),
        grayscale_to_rgb=False,
    )
    path = tmp_path / "inputs.toml"
    write_inputs(path, inputs)
    assert read_inputs(path) == inputs
    path.write_text(path.read_text() + "newer_key = [1]\n", encoding="utf-8")
    assert read_inputs(path) == inputs
    assert read_inputs(inputs_file(tmp_path, grayscale_to_rgb=None)).grayscale_to_rgb is False


@pytest.mark.parametrize(
    ("arch", "head"),
    [
        ("mobilenet_v1", "default"),
        ("mobilenet_v2", "default"),
        ("mobilenet_v2", "mlp"),
        ("mobilenet_v3_small", "default"),
        ("mobilenet_v3_small", "mlp"),
    ],
)
def test_the_output_count_of_a_checkpoint_is_its_models_class_count(arch, head):
    from tui_trainer.config.schema import ModelSection
    from tui_trainer.train.models import build_model
    from tui_trainer.train.run_model import output_count

    width = 0.25 if arch == "mobilenet_v1" else 1.0
    model = build_model(ModelSection(arch=arch, head=head, width_mult=width), 7)
    assert output_count(model.state_dict()) == 7
    assert output_count({}) is None
