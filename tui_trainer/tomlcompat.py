"""TOML in and out, the same on every supported Python: tomli (the stdlib's tomllib is the same
parser, uncompiled) to read, tomli-w to write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tomli_w

try:  # tomli's wheels are compiled (mypyc): it parses about 4x faster than the stdlib's tomllib,
    # which counts when the runs browser reads thousands of status files
    import tomli as tomllib
except ImportError:  # pragma: no cover - a tomli-less environment on Python 3.11+
    import tomllib

TOMLDecodeError = tomllib.TOMLDecodeError


def loads(text: str) -> dict[str, Any]:
    """Parse TOML text; raises TOMLDecodeError with '(at line L, column C)' in its message."""
    return tomllib.loads(text)


def without_none(value: Any) -> Any:
    """TOML has no null: drop None values from mappings (recursively) so they can be written."""
    if isinstance(value, Mapping):
        return {str(k): without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [without_none(v) for v in value]
    return value


def dumps(data: Mapping[str, Any]) -> str:
    """Serialise a mapping to TOML text; None values are left out."""
    return tomli_w.dumps(without_none(data))
