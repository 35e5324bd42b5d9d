"""The configuration reference, docs/reference/configuration.md, generated from the schema.

Each key's default, range and choices are read from its pydantic field (the choices from its
`Literal` type, not from its prose), so the page cannot drift from what `tui-trainer run`
accepts: a test regenerates it and compares.

    python -m tui_trainer.config.reference --update docs/reference/configuration.md
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from tui_trainer.config.schema import SECTION_MODELS, StudyPreset
from tui_trainer.generated_page import page_main

PAGE = Path("docs/reference/configuration.md")
UPDATE_COMMAND = f"python -m tui_trainer.config.reference --update {PAGE}"

INTRO = """\
Every key of a preset, its default and what it accepts. Unknown keys are errors, and a value of
the wrong type is never converted (`lr = "0.1"` is an error, `lr = 1` is fine). `--set KEY=VALUE`
takes the same keys; [presets and sweeps](../presets-and-sweeps.md) says how they combine.
"""


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value: Any = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]`"
    return f"`{value}`"


def choices(annotation: Any) -> list[Any]:
    """The values a `Literal` type allows, wherever it sits (`list[Literal[...]]`, `... | None`)."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return [value for arg in typing.get_args(annotation) for value in choices(arg)]


def _constraints(info: FieldInfo) -> str:
    parts = []
    for item in info.metadata:
        for attr, symbol in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(f"{symbol} {value}")
    allowed = choices(info.annotation)
    if allowed:
        parts.append("one of " + ", ".join(f"`{value}`" for value in allowed))
    return ", ".join(parts)


def markdown_reference() -> str:
    """The table: one row per key, in the schema's order."""
    lines = ["| key | default | range | meaning |", "|---|---|---|---|"]
    for section, model in SECTION_MODELS.items():
        for name, info in model.model_fields.items():
            description = (info.description or "").replace("|", "\\|")
            lines.append(
                f"| `{section}.{name}` | {_default(info)} | {_constraints(info)} | {description} |"
            )
    sweep = StudyPreset.model_fields["sweep"]
    lines.append(f"| `sweep` | `{{}}` |  | {sweep.description} |")
    return "\n".join(lines) + "\n"


def reference_page() -> str:
    """The whole page: title, how it is made, the introduction, the table."""
    return (
        "# The configuration reference\n\n"
        f"<!-- generated from the schema by `{UPDATE_COMMAND}`; a test keeps it in step -->\n\n"
        f"{INTRO}\n{markdown_reference()}"
    )


if __name__ == "__main__":
    page_main(sys.argv[1:], reference_page)
