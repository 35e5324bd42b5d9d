"""README.md keeps its promises: the two commands first, CI runs the test one, and the
configuration reference matches the schema."""

from __future__ import annotations

import re

from tests.helpers import REPO
from tui_trainer.config.reference import markdown_reference
from tui_trainer.config.schema import SECTION_MODELS

README = (REPO / "README.md").read_text(encoding="utf-8")


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def test_readme_opens_with_the_run_and_test_commands():
    first, second = code_blocks(README)[:2]
    assert first.strip().startswith("python3 -m venv .venv && ")
    assert "tui-trainer run presets/quickstart.toml" in first
    assert second.strip().startswith("python3 -m venv .venv && ")
    assert "pytest" in second
    # nothing but prose between the title and the first command
    assert README.index(first) < README.index("## ")


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    pattern = re.search(r"grep -m1 -E '(.*?)' README.md", ci).group(1)
    matches = [line for line in README.splitlines() if re.search(pattern.replace("\\.", "."), line)]
    assert matches and matches[0] == code_blocks(README)[1].strip()


def test_configuration_reference_is_generated_from_the_schema():
    start = README.index("<!-- reference:start")
    start = README.index("\n", start) + 1
    end = README.index("<!-- reference:end -->")
    assert README[start:end] == markdown_reference(), (
        "run: python -m tui_trainer.config.reference --update README.md"
    )
    for section, model in SECTION_MODELS.items():
        for name, info in model.model_fields.items():
            assert info.description, f"{section}.{name} has no description"
            assert f"`{section}.{name}`" in README
