"""The configuration reference of README.md, generated from the schema.

`python -m tui_trainer.config.reference` prints it; a test checks that README.md holds exactly
this text, so the documentation cannot drift from the schema.
"""

from __future__ import annotations

from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from tui_trainer.config.schema import SECTION_MODELS, StudyPreset


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


def _constraints(info: FieldInfo) -> str:
    parts = []
    for item in info.metadata:
        for attr, symbol in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(f"{symbol} {value}")
    return ", ".join(parts)


def markdown_reference() -> str:
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


START_MARKER = "<!-- reference:start"
END_MARKER = "<!-- reference:end -->"


def replace_in_readme(text: str) -> str:
    """README text with the generated table between its reference markers."""
    start = text.index(START_MARKER)
    start = text.index("\n", start) + 1
    end = text.index(END_MARKER)
    return text[:start] + markdown_reference() + text[end:]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if len(sys.argv) == 3 and sys.argv[1] == "--update":
        readme = Path(sys.argv[2])
        readme.write_text(replace_in_readme(readme.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(markdown_reference(), end="")
