"""Where presets come from: the built-in ones (the `presets/` folder, shipped inside the package)
and the user's own (`~/.config/tui-trainer/presets/`, where the app's editor saves), and how a
name typed on the command line (`tui-trainer run quickstart-edited`) finds its file."""

from __future__ import annotations

import os
from pathlib import Path

from tui_trainer.did_you_mean import did_you_mean
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


def user_presets_dir() -> Path:
    """The user's presets folder: `$XDG_CONFIG_HOME/tui-trainer/presets`, by default
    `~/.config/tui-trainer/presets`."""
    config_home = os.environ.get("XDG_CONFIG_HOME", "").strip()
    base = Path(config_home) if config_home else Path("~/.config")
    return (base / "tui-trainer" / "presets").expanduser()


def user_presets(directory: Path | None = None) -> list[Path]:
    """The user's preset files, by name; none when the folder is missing or unreadable."""
    directory = user_presets_dir() if directory is None else directory
    try:
        return sorted(directory.glob("*.toml")) if directory.is_dir() else []
    except OSError:  # an unreadable folder: its presets are not listed
        return []


def preset_paths(extra: list[Path], user_dir: Path) -> list[Path]:
    """Built-in presets, then the user's folder, then paths given on the command line."""
    seen: dict[Path, None] = {}
    for path in [*builtin_presets(), *user_presets(user_dir), *extra]:
        try:
            seen.setdefault(path.resolve(), None)
        except (OSError, RuntimeError):  # a symlink loop: listed as it is, shown as unreadable
            seen.setdefault(path.absolute(), None)
    return list(seen)


def resolve_preset(arg: str, user_dir: Path | None = None) -> Path:
    """A preset path from what the user typed: an existing file, a built-in preset's name
    (`quickstart` for presets/quickstart.toml), or the name of one of the user's presets
    (`quickstart-edited` for ~/.config/tui-trainer/presets/quickstart-edited.toml). A built-in
    name wins: the editor refuses to save under one."""
    path = Path(arg)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        exists = False
    if exists or path.suffix == ".toml" or "/" in arg:
        return path
    user_dir = user_presets_dir() if user_dir is None else user_dir
    for preset in [*builtin_presets(), *user_presets(user_dir)]:
        if preset.stem == arg:
            return preset
    hint = did_you_mean(arg, [p.stem for p in [*builtin_presets(), *user_presets(user_dir)]])
    if not hint:
        builtin = ", ".join(p.stem for p in builtin_presets()) or "none"
        mine = ", ".join(p.stem for p in user_presets(user_dir)) or "none"
        hint = f"built-in: {builtin}; yours in {user_dir}: {mine}"
    raise ConfigError([Problem(f"no such preset file or preset name ({hint})", source=arg)])


def is_builtin_name(name: str) -> bool:
    """Whether `name` is a built-in preset's (a saved preset of that name could not be run by
    name: the built-in would win)."""
    return any(preset.stem == name for preset in builtin_presets())
