"""DESIGN.md's import rule, checked in fresh interpreters: config/, store/, study/, parallel/ and
console/ (and the CLI and the launcher) import neither torch nor textual; train/ never imports
textual; ui/ never imports torch.

The modules under one rule are imported together, in one interpreter: when none of them pulls a
forbidden package in together, none does alone. Only when the group breaks its rule is each of
its modules imported on its own, to name the ones that do (one interpreter per module took over
a minute of the suite)."""

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


def imported_heavy(*modules: str) -> list[str]:
    """The heavy packages in sys.modules after importing `modules` in a fresh interpreter."""
    code = (
        f"import sys, importlib; [importlib.import_module(m) for m in {list(modules)!r}]; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return [m for m in result.stdout.strip().split(",") if m]


def test_every_package_is_covered():
    for package in ("cli", "config", "store", "study", "parallel", "train", "console", "ui"):
        assert any(m.startswith(f"tui_trainer.{package}.") for m in MODULES), package


def modules_breaking(modules: list[str], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """Each of `modules` that imports a `forbidden` package, with those packages."""
    if not any(m in forbidden for m in imported_heavy(*modules)):
        return {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = dict(zip(modules, pool.map(imported_heavy, modules), strict=True))
    return {
        module: [m for m in heavy if m in forbidden]
        for module, heavy in found.items()
        if any(m in forbidden for m in heavy)
    }


@pytest.mark.process
def test_import_rule():
    groups: dict[tuple[str, ...], list[str]] = {}
    for module in MODULES:
        if forbidden_for(module):
            groups.setdefault(forbidden_for(module), []).append(module)
    assert len(groups) == 3  # train/, ui/, and the rest
    broken = {}
    for forbidden, modules in groups.items():
        broken |= modules_breaking(modules, forbidden)
    assert broken == {}


@pytest.mark.process
@pytest.mark.parametrize("module", ["tui_trainer.train.loop"])
def test_the_check_can_fail(module):
    assert "torch" in imported_heavy(module)  # the probe really sees heavy imports
    # a group with one offender among clean modules names that one, and only it
    clean = ["tui_trainer.store.layout", "tui_trainer.config.schema"]
    assert modules_breaking([*clean, module], HEAVY) == {module: ["torch"]}
