"""Built-in presets (the `presets/` folder, shipped inside the package) and preset lookup."""

from __future__ import annotations

from pathlib import Path

from tui_trainer.errors import ConfigError, Problem

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def builtin_presets_dir() -> Path:
    """`tui_trainer/presets` in an installed wheel; the repository's `presets/` in a checkout."""
    for candidate in (_PACKAGE_DIR / "presets", _PACKAGE_DIR.parent / "presets"):
        if candidate.is_dir():
            return candidate
    return _PACKAGE_DIR / "presets"


def builtin_presets() -> list[Path]:
    """The built-in preset files, by name."""
    directory = builtin_presets_dir()
    return sorted(directory.glob("*.toml")) if directory.is_dir() else []


def resolve_preset(arg: str) -> Path:
    """A preset path from what the user typed: an existing file, or a built-in preset's name
    (`quickstart` for presets/quickstart.toml)."""
    path = Path(arg)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        exists = False
    if exists or path.suffix == ".toml" or "/" in arg:
        return path
    for preset in builtin_presets():
        if preset.stem == arg:
            return preset
    names = ", ".join(p.stem for p in builtin_presets()) or "none"
    raise ConfigError(
        [Problem(f"no such preset file or built-in preset (built-in: {names})", source=arg)]
    )
