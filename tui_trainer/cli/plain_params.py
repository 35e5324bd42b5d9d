"""Paths, strings and flags from the command line without pydantic.

typer coerces every parameter's value through a pydantic TypeAdapter, built the first time the
parameter is read: `tui-trainer runs` paid 0.15 s of its 0.6 s importing pydantic for one
`--runs-dir`. A Path or str option with none of typer's path checks (exists, resolve_path, a
dash for stdin), or a flag that already holds a bool, needs no validation to speak of, so those
convert their values here; anything else they are given goes to typer's own coercion, as does
every other parameter (the commands that train import pydantic for their configs anyway).

This leans on typer's private coercion classes (typer 0.2x); a typer without them (older ones
convert with click's types, no pydantic) is left alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

try:
    from typer import _coercion
except ImportError:  # pragma: no cover - a typer that converts values without pydantic
    _coercion = None  # type: ignore[assignment]

PLAIN_TYPES: tuple[type, ...] = (Path, str, bool)


if _coercion is not None:

    class PlainRuntimeParam(_coercion.RuntimeParam):
        """typer's coercion contract for a Path or str value (or a list of either), or a
        bool."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            kind = _leaf(self.annotation)
            items = value if isinstance(value, (list, tuple)) else [value]
            if kind is bool and not all(isinstance(item, bool) for item in items):
                # a flag's value from an environment variable ("0", "yes"): typer's own rules
                described = _coercion.resolve_type_descriptor(self.annotation, self.parameter_info)
                return _coercion.build_runtime_param(described)._coerce_value(value, param, ctx)
            converted = [item if isinstance(item, kind) else kind(item) for item in items]
            return converted if isinstance(value, (list, tuple)) else converted[0]


def _leaf(annotation: Any) -> Any:
    return get_args(annotation)[0] if get_origin(annotation) is list else annotation


def plain(param: Any) -> Any:
    """Give `param` the plain coercion when its annotation is a Path or str (or a list of
    one) without typer's path checks, or a bool; leave any other parameter as it is."""
    descriptor = getattr(param, "type_descriptor", None)
    if (
        _coercion is None
        or descriptor is None
        or getattr(param, "_runtime_param", "absent") is not None
    ):
        return param  # not a typer parameter of this version, or already coerced once
    info = descriptor.parameter_info
    if (
        _leaf(descriptor.annotation) in PLAIN_TYPES
        and descriptor.file_annotation is None
        and info.parser is None
        and not (info.exists or info.resolve_path or info.allow_dash)
    ):
        param._runtime_param = PlainRuntimeParam(info, descriptor.annotation)
    return param
