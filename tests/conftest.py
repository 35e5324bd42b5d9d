"""Shared fixtures: tiny presets written into a temporary directory."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# A real study small enough for tests: quarter-width MobileNet v1 on digits, CPU, a few epochs.
TINY_PRESET = """\
[study]
name = "tiny"
description = "tiny test study"

[data]
dataset = "digits"
augment = ["crop"]
batch_size = 64

[model]
arch = "mobilenet_v1"
width_mult = 0.25

[optim]
name = "sgd"
lr = 0.1
momentum = 0.9
nesterov = true
weight_decay = 5e-4

[schedule]
name = "cosine"

[train]
epochs = 2
seed = 0
device = "cpu"
log_every_steps = 5
"""


@pytest.fixture
def write_preset(tmp_path: Path) -> Callable[..., Path]:
    """Write TOML text (dedented) to a file in tmp_path and return its path."""

    def write(text: str = TINY_PRESET, name: str = "preset.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"
