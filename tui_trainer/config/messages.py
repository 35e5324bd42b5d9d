"""Plain-language messages for pydantic validation errors, with the key path they belong to."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from tui_trainer.did_you_mean import did_you_mean

_TYPE_NAMES = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list, e.g. [1, 2]",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}

_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}

# "field: message" or "section: field: message" in a validator's ValueError moves the key path
# of the error down to that field.
# The choices in pydantic's "'a', 'b' or 'c'" of a Literal.
_QUOTED_RE = re.compile(r"'([^']*)'")

_FIELD_PREFIX_RE = re.compile(r"^((?:[A-Za-z_][A-Za-z0-9_]*: )+)(.*)$", re.S)


def unknown_name(kind: str, name: str, allowed: Sequence[str]) -> str:
    """'unknown key (did you mean 'lr'?)' when a name is close, else the allowed ones listed."""
    hint = did_you_mean(name, allowed)
    return f"unknown {kind} ({hint or 'expected one of: ' + ', '.join(allowed)})"


def render_key(loc: Sequence[Any]) -> str:
    """('data', 'augment', 1) -> 'data.augment[1]'; ('sweep', 'optim.lr') -> 'sweep."optim.lr"'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "." in str(part):
            text += f'."{part}"' if text else f'"{part}"'
        else:
            text += f".{part}" if text else str(part)
    return text


def toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def describe_error(
    error: Mapping[str, Any], section_models: Mapping[str, type[BaseModel]]
) -> tuple[tuple[Any, ...], str]:
    """(key path, message) for one entry of `ValidationError.errors()`."""
    kind = error["type"]
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    value = error.get("input")

    if kind == "missing":
        return loc, "required key is missing"
    if kind == "extra_forbidden":
        if len(loc) == 1:
            return loc, unknown_name("section", str(loc[0]), [*section_models, "sweep"])
        parent = section_models.get(str(loc[0]))
        if parent is not None and len(loc) == 2:
            return loc, unknown_name("key", str(loc[1]), list(parent.model_fields))
        return loc, "unknown key"
    if kind in _BOUNDS:
        name, symbol = _BOUNDS[kind]
        return loc, f"must be {symbol} {_number(ctx.get(name))} (got {_short(value)})"
    if kind == "literal_error":
        expected = str(ctx.get("expected"))
        hint = did_you_mean(value, _QUOTED_RE.findall(expected)) if isinstance(value, str) else ""
        if hint:
            return loc, f"unknown value {_short(value)} ({hint})"
        return loc, f"must be one of {expected} (got {_short(value)})"
    if kind == "list_type" and loc[:1] == ("sweep",) and isinstance(value, dict):
        return loc, 'write a sweep key in quotes: "section.key" = [values]'
    if kind == "finite_number":
        return loc, f"must be a finite number (got {_short(value)})"
    if kind in _TYPE_NAMES:
        return loc, f"expected {_TYPE_NAMES[kind]}, got {toml_type(value)} {_short(value)}"
    if kind == "string_pattern_mismatch":
        if loc[-1:] == ("name",) and loc[:1] == ("study",):
            return loc, f"use only letters, digits, '.', '_' and '-' (got {_short(value)})"
        return loc, f"must match {ctx.get('pattern')} (got {_short(value)})"
    if kind in ("too_short", "too_long"):
        return loc, error["msg"].replace("List", "list")
    if kind == "string_too_long":
        return loc, f"at most {ctx.get('max_length')} characters"
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        match = _FIELD_PREFIX_RE.match(message)
        if match:
            fields = tuple(part for part in match.group(1).split(": ") if part)
            return (*loc, *fields), match.group(2)
        return loc, message
    return loc, error["msg"]
