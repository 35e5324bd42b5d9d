"""DESIGN.md's import rule, checked by importing each module in a fresh interpreter:
config/, store/ and console/ (and the CLI and the launcher) import neither torch nor textual;
train/ never imports textual; ui/ never imports torch."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import tui_trainer

MODULES = sorted(m.name for m in pkgutil.walk_packages(tui_trainer.__path__, prefix="tui_trainer."))
HEAVY = ("torch", "torchvision", "textual")


def forbidden_for(module: str) -> tuple[str, ...]:
    if module.startswith("tui_trainer.train"):
        return ("textual",)
    if module.startswith("tui_trainer.ui"):
        return ("torch", "torchvision")
    if module in ("tui_trainer.__main__",):
        return ()
    return HEAVY


def imported_heavy(module: str) -> list[str]:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return [m for m in result.stdout.strip().split(",") if m]


def test_every_package_is_covered():
    for package in ("config", "store", "train", "console", "ui"):
        assert any(m.startswith(f"tui_trainer.{package}.") for m in MODULES), package


def test_import_rule():
    checked = [m for m in MODULES if forbidden_for(m)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = dict(zip(checked, pool.map(imported_heavy, checked), strict=True))
    broken = {
        module: [m for m in heavy if m in forbidden_for(module)]
        for module, heavy in found.items()
        if any(m in forbidden_for(module) for m in heavy)
    }
    assert broken == {}


@pytest.mark.parametrize("module", ["tui_trainer.train.loop"])
def test_the_check_can_fail(module):
    assert "torch" in imported_heavy(module)  # the probe really sees heavy imports
