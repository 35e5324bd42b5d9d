"""The editor's core, without any UI: the editable fields of the schema, finding one by part of
its name, turning typed text into values, validating a whole edited preset into per-key
messages, and saving it as TOML that keeps the comments of the file it came from (tomlkit)."""

from __future__ import annotations

import difflib
import json
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import tomlkit
from pydantic import ValidationError

from tui_trainer import tomlcompat
from tui_trainer.config.load import load_preset_text
from tui_trainer.config.messages import describe_error
from tui_trainer.config.schema import SECTION_MODELS, StudyPreset
from tui_trainer.config.sweep import RunSpec, SweepError, expand_sweep
from tui_trainer.store.atomic import write_text_atomic

EDITED_SECTIONS = ("study", "data", "model", "optim", "schedule", "train", "parallel")


@dataclass(frozen=True)
class FieldSpec:
    """One editable key: how it is edited (choice, switch or text) and what it accepts."""

    section: str
    name: str
    kind: Literal["choice", "switch", "text"]
    choices: tuple[str, ...] = ()
    optional: bool = False  # None is allowed (an empty text, a blank choice)
    textual: bool = False  # the value is the text itself (no TOML parsing)
    description: str = ""

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}"


def _literal_args(annotation: Any) -> tuple[tuple[str, ...], bool]:
    """(choices, optional) when the annotation is a Literal (or Literal | None)."""
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else annotation
    if typing.get_origin(annotation) is Literal:
        return tuple(str(a) for a in typing.get_args(annotation)), optional
    return (), optional


def field_specs() -> list[FieldSpec]:
    specs = []
    for section in EDITED_SECTIONS:
        for name, info in SECTION_MODELS[section].model_fields.items():
            choices, optional = _literal_args(info.annotation)
            description = info.description or ""
            if choices:
                specs.append(
                    FieldSpec(section, name, "choice", choices, optional, description=description)
                )
            elif info.annotation is bool:
                specs.append(FieldSpec(section, name, "switch", description=description))
            else:
                _, optional = _literal_args(info.annotation)
                textual = info.annotation is str
                specs.append(FieldSpec(section, name, "text", (), optional, textual, description))
    return specs


def find_keys(typed: str, keys: list[str], limit: int = 5) -> list[str]:
    """The keys (`optim.lr`) that `typed` names, best first: the key or its last part itself,
    then those whose last part starts with it, whose key does, that hold it anywhere, and
    last those close to it (a typo: `mometum`). Case is ignored; nothing typed finds nothing."""
    typed = typed.strip().lower()
    if not typed:
        return []

    def rank(key: str) -> int | None:
        lowered = key.lower()
        name = lowered.rsplit(".", 1)[-1]
        for place, matches in enumerate(
            (
                typed in (lowered, name),
                name.startswith(typed),
                lowered.startswith(typed),
                typed in lowered,
            )
        ):
            if matches:
                return place
        return None

    ranked = sorted(
        (place, index, key) for index, key in enumerate(keys) if (place := rank(key)) is not None
    )
    found = [key for _, _, key in ranked]
    names = {key.rsplit(".", 1)[-1].lower(): key for key in reversed(keys)}
    for name in difflib.get_close_matches(typed, list(names), n=limit):
        if names[name] not in found:
            found.append(names[name])
    return found[:limit]


def toml_inline(value: Any) -> str:
    """A value as one line of TOML: 0.05, true, "crop", ["crop", "hflip"], [0.9, 0.999]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_inline(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string, escapes included
    return repr(value) if isinstance(value, float) else str(value)


def format_value(value: Any, spec: FieldSpec) -> str:
    """A value as the editor shows it: strings bare, everything else as one line of TOML."""
    if value is None:
        return ""
    if spec.textual:
        return str(value)
    return toml_inline(value)


def parse_text(text: str, spec: FieldSpec) -> Any:
    """Typed text to a value; the schema judges it afterwards. Empty is None (or missing)."""
    text = text.strip()
    if spec.textual:
        return text
    if text == "":
        return None
    try:
        return tomlcompat.loads(f"v = {text}")["v"]
    except (tomlcompat.TOMLDecodeError, RecursionError):
        return text  # a bare word: the schema says whether it is acceptable


def parse_sweep(axes: list[tuple[str, str]]) -> tuple[dict[str, Any], dict[int, str]]:
    """Sweep axes typed as (key, values) text; returns the sweep and per-row errors."""
    sweep: dict[str, Any] = {}
    errors: dict[int, str] = {}
    for index, (key, values) in enumerate(axes):
        key, values = key.strip(), values.strip()
        if not key and not values:
            continue
        if not key:
            errors[index] = "the axis needs a key such as optim.lr"
            continue
        try:
            sweep[key] = tomlcompat.loads(f"v = {values}")["v"]
        except (tomlcompat.TOMLDecodeError, RecursionError):
            errors[index] = "values must be a TOML list, e.g. [0.01, 0.1]"
    return sweep, errors


@dataclass
class Checked:
    """The result of validating an edited preset."""

    preset: StudyPreset | None
    runs: list[RunSpec]
    errors: dict[str, str]  # config key -> message; sweep problems under "sweep"


def check(data: Mapping[str, Any]) -> Checked:
    """Validate an edited preset, as `tui-trainer run` would, keyed by config key."""
    try:
        preset = StudyPreset.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc, message = describe_error(error, SECTION_MODELS)
            parts = [str(p) for p in loc[:2]]
            key = ".".join(parts) if parts and parts[0] != "sweep" else "sweep"
            errors.setdefault(key, message)
        return Checked(None, [], errors)
    try:
        runs = expand_sweep(preset)
    except SweepError as error:
        return Checked(preset, [], {"sweep": str(error)})
    return Checked(preset, runs, {})


def preset_document(original_text: str, preset: StudyPreset, baseline: Mapping[str, Any]) -> str:
    """The preset as TOML: the original file with the keys that differ from `baseline` (the
    original's validated values) changed, its comments kept; the sweep replaced when changed."""
    document = tomlkit.parse(original_text) if original_text else tomlkit.document()
    edited = preset.model_dump()
    for section in EDITED_SECTIONS:
        for name, value in edited[section].items():
            before = baseline.get(section, {}).get(name)
            table = document.get(section)
            if value == before and (table is None or name in table or before is not None):
                continue
            if table is None:
                table = tomlkit.table()
                document[section] = table
            if value is None:
                table.pop(name, None)
            else:
                table[name] = value
    if edited["sweep"] != baseline.get("sweep", {}):
        document.pop("sweep", None)
        if edited["sweep"]:
            sweep = tomlkit.table()
            for key, values in edited["sweep"].items():
                sweep[key] = values
            document["sweep"] = sweep
    return tomlkit.dumps(document)


def save_preset(
    path: Path,
    original_text: str,
    preset: StudyPreset,
    baseline: Mapping[str, Any],
    edited_from: str | None = None,
    when: datetime | None = None,
) -> str:
    """Write the edited preset to `path` (preset_document: the original's comments kept) and
    return the text written. With `edited_from` (where it came from, as the user knows it), its
    opening notes are replaced by a line saying so, dated `when` (with_edited_header).

    What would be written is loaded back first, as `tui-trainer run` would load the file: text
    that would not load (a name that is no preset name, say) raises ConfigError, located in
    `path`, and nothing is written. A `path` that is a symlink (a preset kept in a dotfiles
    repository) is written through; the file is replaced atomically, so an entry of that name
    that is not a file (a FIFO) is never opened."""
    text = preset_document(original_text, preset, baseline)
    if edited_from is not None:
        text = with_edited_header(text, edited_from, when or datetime.now())
    load_preset_text(text, path)  # what is written must load back
    path.parent.mkdir(parents=True, exist_ok=True)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    write_text_atomic(target, text, durable=True)
    return text


def with_edited_header(text: str, source: str, when: datetime) -> str:
    """`text` with its opening comment (a preset's notes on itself: what it is, the figures it
    gave) replaced by one saying where it came from: those notes describe the original, not the
    edit. Comments further down, beside the keys, are kept."""
    lines = text.splitlines(keepends=True)
    start = 0
    while start < len(lines) and (
        not lines[start].strip() or lines[start].lstrip().startswith("#")
    ):
        start += 1
    header = (
        f"# Edited from {source} in tui-trainer's editor on {when:%Y-%m-%d %H:%M}.\n"
        "# The original's notes and figures were left out: they were measured on the original.\n"
        "\n"
    )
    return header + "".join(lines[start:])
