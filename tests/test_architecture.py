"""ARCHITECTURE.md keeps up with the code: it names every package and top-level module of
tui_trainer/, and every source file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import tui_trainer

PACKAGE = Path(tui_trainer.__file__).parent
REPO = PACKAGE.parent
PAGE = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")


def missing_names(page: str) -> list[str]:
    """The packages (`name/`) and top-level modules (`name.py`) the page does not name."""
    packages = [p.name + "/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()]
    modules = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    return sorted(name for name in packages + modules if f"`{name}`" not in page)


def missing_files(page: str) -> list[str]:
    """Source files the page names (`store/schema.py`, `tests/test_x.py`) that do not exist
    under tui_trainer/ or the repository."""
    named = set(re.findall(r"`([\w/]+\.py)", page))
    return sorted(n for n in named if not (PACKAGE / n).exists() and not (REPO / n).exists())


def test_the_architecture_page_names_every_package_and_top_level_module():
    assert missing_names(PAGE) == []


def test_every_source_file_the_architecture_page_names_exists():
    assert missing_files(PAGE) == []


def test_the_checks_name_what_is_missing():
    page = "`store/` `config/` `errors.py` and `store/gone.py`, `train/loop.py`"
    assert "ui/" in missing_names(page) and "errors.py" not in missing_names(page)
    assert missing_files(page) == ["store/gone.py"]
