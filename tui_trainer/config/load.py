"""Load a study preset: read, parse, apply --set overrides, validate, expand the sweep.

Every failure becomes a ConfigError whose problems say where they are: `file:line:col` for TOML
syntax, the key path (and its line when it is written in the file) for schema errors, and the
`--set` argument for a bad override. Nothing here touches the runs directory, so a config error
can never leave a half-made study behind.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tui_trainer import tomlcompat
from tui_trainer.config.messages import describe_error, render_key
from tui_trainer.config.positions import KeyPositions
from tui_trainer.config.schema import SECTION_MODELS, StudyPreset
from tui_trainer.config.sweep import RunSpec, SweepError, expand_sweep
from tui_trainer.errors import ConfigError, Problem
from tui_trainer.store.files import MAX_PRESET_BYTES, NotRegularFile, read_limited

# A study.toml written by the trainer is a valid preset: its [launch] table and the
# [[resumes]] records of `tui-trainer resume` are ignored.
IGNORED_TABLES = ("launch", "resumes")

_TOML_POSITION_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END_RE = re.compile(r"\s*\(at end of document\)\s*$")
MAX_NESTING = 64  # levels of tables and arrays in a preset: no real one comes near
_OVERRIDE_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


@dataclass(frozen=True)
class Override:
    """One `--set KEY=VALUE`: the key path it sets and the typed value."""

    text: str
    path: tuple[str, ...]
    value: Any
    raw: str = ""

    @property
    def source(self) -> str:
        return f"--set {self.text}"


@dataclass
class LoadedStudy:
    """A validated preset with its overrides applied and its sweep expanded into runs."""

    source: Path
    preset: StudyPreset
    runs: list[RunSpec]
    overrides: list[Override] = field(default_factory=list)


class Locator:
    """Turns a config key path into a located Problem: file line, or the --set that wrote it."""

    def __init__(self, source: str, positions: KeyPositions, overrides: Sequence[Override]):
        self.source = source
        self.positions = positions
        self.overrides = overrides

    def problem(self, loc: Sequence[Any], message: str, key: str | None = None) -> Problem:
        path = tuple(str(p) for p in loc)
        key = key if key is not None else render_key(loc)
        for override in reversed(self.overrides):
            if path[: len(override.path)] == override.path:
                return Problem(message, source=override.source, key=key)
        if not self.positions.has(path):
            for override in reversed(self.overrides):
                if override.path[: len(path)] == path:
                    return Problem(message, source=override.source, key=key)
        position = self.positions.find(path)
        if position is None:
            return Problem(message, source=self.source, key=key)
        return Problem(message, source=self.source, line=position.line, col=position.col, key=key)


def read_preset_text(path: Path) -> str:
    """The preset's text; a missing, unreadable, non-regular (a FIFO, /dev/zero), oversized or
    non-UTF-8 file is a located ConfigError. A symlink is followed (presets are the user's own
    files, often linked from a dotfiles repository), but what it leads to must be a regular
    file."""
    source = str(path)
    try:
        raw = read_limited(path, MAX_PRESET_BYTES, follow_links=True)
    except FileNotFoundError:
        raise ConfigError([Problem("no such preset file", source=source)]) from None
    except IsADirectoryError:
        raise ConfigError([Problem("is a directory, not a preset file", source=source)]) from None
    except NotRegularFile as exc:
        if "directory" in (exc.strerror or ""):
            message = "is a directory, not a preset file"
        else:
            message = f"cannot read: {exc.strerror}"
        raise ConfigError([Problem(message, source=source)]) from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([Problem(f"cannot read: {reason}", source=source)]) from None
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark some editors add is not an error
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        message = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        raise ConfigError([Problem(message, source=source, line=line, col=col)]) from None


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """Parse TOML; a syntax error becomes `source:line:col: message`. Values nested deeper than
    MAX_NESTING are refused whether or not the parser itself can hold them."""
    try:
        data = tomlcompat.loads(text)
    except RecursionError:
        data = None
    except tomlcompat.TOMLDecodeError as exc:
        raise _syntax_error(exc, text, source) from None
    if data is None or _nesting(data) > MAX_NESTING:
        raise ConfigError([Problem("TOML nested too deeply", source=source)])
    return data


def _nesting(value: Any) -> int:
    """How deep tables and arrays nest in `value` (walked without recursion)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _syntax_error(exc: Exception, text: str, source: str) -> ConfigError:
    """`source:line:col: TOML syntax: message` from the parser's error."""
    message = str(exc)
    line = col = None
    position = _TOML_POSITION_RE.search(message)
    if position:
        line, col = int(position.group(1)), int(position.group(2))
        message = message[: position.start()]
    elif _TOML_END_RE.search(message):
        message = _TOML_END_RE.sub("", message) + " (at end of file)"
        line = text.count("\n") + (0 if text.endswith("\n") else 1)
    return ConfigError([Problem(f"TOML syntax: {message}", source=source, line=line, col=col)])


def parse_override(text: str) -> Override:
    """Parse `KEY=VALUE`. VALUE is a TOML value (0.1, true, [1, 2], "x"); bare words are strings.
    A value is never converted to the key's type: `parallel.cluster=5` is the integer 5, and
    the schema refuses it like `cluster = 5` in a preset.

    `sweep.optim.lr=[0.1, 0.2]` sets a sweep axis.
    """
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    source = f"--set {text}"
    if not sep or not key:
        raise ConfigError([Problem("expected KEY=VALUE, e.g. optim.lr=0.1", source=source)])
    if not _OVERRIDE_KEY_RE.match(key):
        raise ConfigError(
            [Problem("the key must be a dotted path such as optim.lr", source=source, key=key)]
        )
    if raw == "":
        raise ConfigError([Problem("no value after '='", source=source, key=key)])
    try:
        value = tomlcompat.loads(f"value = {raw}")["value"]
    except RecursionError:
        raise ConfigError([Problem("value nested too deeply", source=source, key=key)]) from None
    except tomlcompat.TOMLDecodeError:
        if raw[0] in "[{\"'" or not re.match(r"^[A-Za-z0-9_.:/+-]+$", raw):
            raise ConfigError(
                [Problem(f"not a valid TOML value: {raw}", source=source, key=key)]
            ) from None
        value = raw  # a bare word such as `digits` or `cosine`
    parts = tuple(key.split("."))
    path = ("sweep", ".".join(parts[1:])) if parts[0] == "sweep" else parts
    return Override(text=text, path=path, value=value, raw=raw)


def apply_overrides(data: dict[str, Any], overrides: Sequence[Override]) -> dict[str, Any]:
    """A copy of `data` with each override set. Setting a key that is also swept drops that
    sweep axis: the user asked for one value."""
    data = copy.deepcopy(data)
    for override in overrides:
        *parents, leaf = override.path
        node = data
        for depth, part in enumerate(parents):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(override.path[: depth + 1])
                raise ConfigError(
                    [Problem("is a value, not a table", source=override.source, key=where)]
                )
            node = child
        node[leaf] = override.value
        if override.path[0] != "sweep":
            sweep = data.get("sweep")
            if isinstance(sweep, dict):
                sweep.pop(".".join(override.path), None)
    return data


def validate_preset(data: Mapping[str, Any], locator: Locator) -> StudyPreset:
    try:
        return StudyPreset.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc, message = describe_error(error, SECTION_MODELS)
            if error["type"] == "string_type":
                message += _quoting_hint(loc, locator.overrides)
            problems.append(locator.problem(loc, message))
        raise ConfigError(problems) from None


def _quoting_hint(loc: Sequence[Any], overrides: Sequence[Override]) -> str:
    """How to give `--set` text that TOML reads as another type (study.name=2024)."""
    path = tuple(str(part) for part in loc)
    for override in reversed(overrides):
        if override.path == path:
            key = override.text.partition("=")[0].strip()
            return f"; for the text, quote it: --set '{key}=\"{override.raw}\"'"
    return ""


def load_preset(path: str | Path, overrides: Sequence[str] = ()) -> LoadedStudy:
    """Load, override, validate and expand a preset. Raises ConfigError, touching no files."""
    path = Path(path)
    parsed_overrides = [parse_override(text) for text in overrides]
    return load_preset_text(read_preset_text(path), path, parsed_overrides)


def load_preset_text(text: str, path: Path, overrides: Sequence[Override] = ()) -> LoadedStudy:
    """A preset's text loaded as load_preset loads the file `path` (each problem located in
    it): also what is about to be written there, before it is."""
    source = str(path)
    parsed_overrides = list(overrides)
    data = parse_toml(text, source)
    for table in IGNORED_TABLES:
        data.pop(table, None)
    locator = Locator(source, KeyPositions(text), parsed_overrides)
    data = apply_overrides(data, parsed_overrides)
    preset = validate_preset(data, locator)
    try:
        runs = expand_sweep(preset)
    except SweepError as error:
        problems = [locator.problem(p.loc, p.message, key=p.key) for p in error.problems]
        raise ConfigError(problems) from None
    return LoadedStudy(source=path, preset=preset, runs=runs, overrides=parsed_overrides)


__all__ = [
    "LoadedStudy",
    "Locator",
    "Override",
    "load_preset",
    "load_preset_text",
    "parse_override",
    "parse_toml",
]
