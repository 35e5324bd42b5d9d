"""README.md keeps its promises: the two commands first, and CI runs the test one. (Its links,
and the docs it leads to, are checked by tests/test_docs.py.)"""

from __future__ import annotations

import re

from tests.helpers import REPO

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


def test_the_readme_tour_is_ten_commands_of_the_cli():
    tour = README[README.index("## A ten-line tour") :]
    lines = code_blocks(tour)[0].strip().splitlines()
    assert len(lines) == 10
    assert all(line.startswith("tui-trainer") for line in lines)
