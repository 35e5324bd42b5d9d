"""Paths as a person reads them on screen (the presets and launch screens both show them)."""

from __future__ import annotations

from pathlib import Path


def display_path(path: Path) -> str:
    """A path as a person would type it here: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
