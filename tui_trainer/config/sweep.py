"""Expand a study's sweep into one run config per combination, each named from its values.

Problems are reported by config key path (SweepError); where that key is written, a file line or
a --set, is the loader's to add (config/load.py), so expanding a sweep needs no file.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tui_trainer.config.messages import describe_error, render_key, unknown_name
from tui_trainer.config.schema import (
    SECTION_MODELS,
    SWEEPABLE_SECTIONS,
    UNSWEEPABLE_KEYS,
    RunConfig,
    StudyPreset,
)

MAX_RUNS = 1000
SINGLE_RUN_NAME = "run"

# Short labels for long key names in run names: lr=0.05,wd=0.0005.
SHORT_LABELS = {
    "weight_decay": "wd",
    "batch_size": "bs",
    "label_smoothing": "ls",
    "width_mult": "width",
    "warmup_epochs": "warmup",
}

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._+=,-]")


@dataclass(frozen=True)
class SweepProblem:
    """One problem of a sweep, at a config key path such as ("sweep", "optim.lr"). `key` names
    it where the path alone would not (a value's index: sweep."optim.lr"[2])."""

    loc: tuple[str, ...]
    message: str
    key: str | None = None

    def render(self) -> str:
        return f"{self.key or render_key(self.loc)}: {self.message}"


class SweepError(ValueError):
    """The sweep cannot be expanded: every problem found, by key path."""

    def __init__(self, problems: list[SweepProblem]):
        super().__init__("; ".join(problem.render() for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class RunSpec:
    """One point of the sweep grid: its name, the swept values, and the complete config."""

    name: str
    values: dict[str, Any]
    config: RunConfig


def format_value(value: Any) -> str:
    """A value as it appears in a run name: 0.05, 5e-05, true, crop+hflip."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "+".join(format_value(v) for v in value) or "none"
    return str(value)


def axis_labels(keys: Sequence[str]) -> list[str]:
    """Label each axis by its last key part (shortened); use the full key where labels clash."""
    short = [SHORT_LABELS.get(key.split(".")[-1], key.split(".")[-1]) for key in keys]
    return [
        key if short.count(label) > 1 else label for key, label in zip(keys, short, strict=True)
    ]


def run_names(keys: Sequence[str], combos: Sequence[Sequence[Any]]) -> list[str]:
    """`lr=0.05,wd=0.0005` per combination; unique and safe as a directory name."""
    if not keys:
        return [SINGLE_RUN_NAME]
    labels = axis_labels(keys)
    names: list[str] = []
    for combo in combos:
        raw = ",".join(f"{label}={format_value(v)}" for label, v in zip(labels, combo, strict=True))
        name = _UNSAFE_NAME_CHARS.sub("_", raw)[:120]
        candidate, n = name, 2
        while candidate in names:
            candidate, n = f"{name}-{n}", n + 1
        names.append(candidate)
    return names


def _with_values(base: dict[str, Any], keys: Sequence[str], combo: Sequence[Any]) -> dict:
    data = copy.deepcopy(base)
    for key, value in zip(keys, combo, strict=True):
        section, name = key.split(".")
        data[section][name] = value
    return data


def _check_axes(preset: StudyPreset) -> list[SweepProblem]:
    problems = []
    sections = ", ".join(SWEEPABLE_SECTIONS)
    for key, values in preset.sweep.items():
        parts = key.split(".")
        where = ("sweep", key)
        if len(parts) != 2 or parts[0] not in SWEEPABLE_SECTIONS:
            problems.append(
                SweepProblem(where, f"sweep keys are 'section.key' with section one of {sections}")
            )
        elif parts[1] not in SECTION_MODELS[parts[0]].model_fields:
            allowed = list(SECTION_MODELS[parts[0]].model_fields)
            problems.append(SweepProblem(where, unknown_name("key", parts[1], allowed)))
        elif key in UNSWEEPABLE_KEYS:
            problems.append(SweepProblem(where, "cannot be swept: a study uses one device"))
        elif not values:
            problems.append(SweepProblem(where, "needs at least one value"))
        elif len(values) <= MAX_RUNS:  # longer axes fail the run-count check below
            seen: list[Any] = []
            for value in values:
                if any(value == s and type(value) is type(s) for s in seen):
                    problems.append(SweepProblem(where, f"value {value!r} appears twice"))
                seen.append(value)
    return problems


def _check_values(preset: StudyPreset, base: dict[str, Any]) -> list[SweepProblem]:
    """Validate each swept value on its own so that an error names the value's index."""
    problems = []
    for key, values in preset.sweep.items():
        section, name = key.split(".")
        for index, value in enumerate(values):
            try:
                RunConfig.model_validate(_with_values(base, [key], [value]))
            except ValidationError as exc:
                for error in exc.errors():
                    loc, message = describe_error(error, SECTION_MODELS)
                    if tuple(loc[:2]) == (section, name):
                        label = f'sweep."{key}"[{index}]'
                        problems.append(SweepProblem(("sweep", key), message, key=label))
    return problems


def expand_sweep(preset: StudyPreset) -> list[RunSpec]:
    """One RunSpec per combination of the sweep's values (cartesian product, in file order).
    Raises SweepError with every problem found."""
    problems = _check_axes(preset)
    if problems:
        raise SweepError(problems)
    keys = list(preset.sweep)
    count = math.prod(len(v) for v in preset.sweep.values())
    if count > MAX_RUNS:
        raise SweepError(
            [SweepProblem(("sweep",), f"expands to {count:,} runs; at most {MAX_RUNS} allowed")]
        )
    base = preset.base_config().model_dump()
    problems = _check_values(preset, base)
    if problems:
        raise SweepError(problems)

    combos = list(itertools.product(*preset.sweep.values()))
    names = run_names(keys, combos)
    runs = []
    for name, combo in zip(names, combos, strict=True):
        try:
            config = RunConfig.model_validate(_with_values(base, keys, combo))
        except ValidationError as exc:
            loc, message = describe_error(exc.errors()[0], SECTION_MODELS)
            problems.append(
                SweepProblem(("sweep",), f"run {name}: {'.'.join(map(str, loc))}: {message}")
            )
            continue
        runs.append(RunSpec(name=name, values=dict(zip(keys, combo, strict=True)), config=config))
    if problems:
        raise SweepError(problems)
    return runs
