"""The Python packages the check and the trainer need, found on this machine or installed from a
folder of wheels.

A GPU slot is a machine without internet access whose Python already has torch, torchvision,
numpy and scikit-learn but may lack tui-trainer's pure-Python dependencies (pydantic, tomli-w).
Nothing is installed into that Python: wheels brought along with `--wheels DIR` go into a folder
of their own (`pip install --target`), which is put first on `sys.path` and on the `PYTHONPATH`
of every process the check starts. This module imports only the standard library, because it
runs before anything else can be imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# import name -> distribution name, for what `python -m tui_trainer run` and the check import.
# torch, torchvision, numpy and scikit-learn come with the GPU box: no wheel can replace them.
BOX_PROVIDED = {
    "torch": "torch",
    "torchvision": "torchvision",
    "numpy": "numpy",
    "sklearn": "scikit-learn",
}
# pip brings their own dependencies (annotated-types, typing-extensions...) from the same folder.
INSTALLABLE = {
    "pydantic": "pydantic",
    "pydantic_core": "pydantic-core",
    "tomli_w": "tomli-w",
    "typer": "typer",
    "rich": "rich",
    "psutil": "psutil",
    "pynvml": "nvidia-ml-py",
}
# the wheels README tells people to download, by distribution name
WHEELS_TO_DOWNLOAD = ("pydantic", "tomli-w", "typer", "rich", "psutil", "nvidia-ml-py")

Finder = Callable[[str], object]


@dataclass
class Dependencies:
    missing_from_box: list[str]  # distributions that only the machine's own Python can provide
    missing: list[str]  # installable distributions not found
    installed_into: Path | None = None

    @property
    def ready(self) -> bool:
        return not self.missing_from_box and not self.missing

    def problem(self) -> str:
        """One paragraph naming what is missing and how to bring it."""
        lines = []
        if self.missing_from_box:
            lines.append(
                "this Python lacks "
                + ", ".join(self.missing_from_box)
                + ": use a Python that has torch and torchvision installed"
            )
        if self.missing:
            lines.append(
                "missing Python packages: "
                + ", ".join(self.missing)
                + "; download their wheels on a connected machine (benchmarks/README.md, "
                "'GPU check') and pass --wheels DIR"
            )
        return "\n".join(lines)


def find_missing(find_spec: Finder = importlib.util.find_spec) -> Dependencies:
    """Which required modules cannot be imported here (without importing any of them)."""

    def absent(module: str) -> bool:
        try:
            return find_spec(module) is None
        except (ImportError, ValueError):
            return True

    box = [dist for module, dist in BOX_PROVIDED.items() if absent(module)]
    missing = sorted({dist for module, dist in INSTALLABLE.items() if absent(module)})
    return Dependencies(box, missing)


def wheel_fits(filename: str) -> bool:
    """Whether a wheel's tags (name-version-python-abi-platform.whl) fit this interpreter."""
    python, abi, platform = filename[: -len(".whl")].split("-")[-3:]
    here = f"cp{sys.version_info.major}{sys.version_info.minor}"
    machine = os.uname().machine if hasattr(os, "uname") else ""
    pythons, abis = python.split("."), abi.split(".")
    return (
        any(p in ("py3", "py2.py3", here) or p.startswith("py3") for p in pythons)
        or here in pythons
        or ("abi3" in abis and any(p.startswith("cp3") for p in pythons))
    ) and (platform == "any" or (sys.platform == "linux" and platform.endswith(machine)))


def unpack_wheels(wheels: Path, target: Path) -> list[str]:
    """Without pip, a wheel is still a zip laid out as site-packages: every wheel of the folder
    that fits this Python is unpacked into `target`. Returns the wheels unpacked."""
    unpacked = []
    for wheel in sorted(wheels.glob("*.whl")):
        if wheel_fits(wheel.name):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(target)
            unpacked.append(wheel.name)
    return unpacked


def install_from_wheels(
    wheels: Path, target: Path, distributions: list[str], python: str = sys.executable
) -> None:
    """`pip install --target` from the wheels folder only (no index: the box is offline), or
    the wheels unpacked when this Python has no pip. Raises RuntimeError with pip's own words
    when a wheel is missing or does not fit."""
    if importlib.util.find_spec("pip") is None:
        unpack_wheels(wheels, target)
        return
    command = [
        python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-index", "--find-links", str(wheels), "--target", str(target), *distributions,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"installing {', '.join(distributions)} from {wheels} failed:\n"
            f"{(done.stderr or done.stdout).strip()}"
        )


def use_folder(folder: Path) -> None:
    """Put `folder` first on this process's import path and on its children's PYTHONPATH."""
    sys.path.insert(0, str(folder))
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(folder) + (os.pathsep + previous if previous else "")
    importlib.invalidate_caches()


def ensure(wheels: Path | None, target: Path, find_spec: Finder | None = None) -> Dependencies:
    """Find what is missing; install it from `wheels` into `target` when a folder is given.
    Returns what is still missing afterwards (nothing when all went well)."""
    finder = find_spec or importlib.util.find_spec
    found = find_missing(finder)
    if found.ready or wheels is None or found.missing_from_box:
        return found
    target.mkdir(parents=True, exist_ok=True)
    install_from_wheels(wheels, target, found.missing)
    use_folder(target)
    after = find_missing(finder)
    after.installed_into = target
    return after
