"""Where a command may write, decided before it writes anything.

`predict --cam DIR` once wrote its overlays into the folder it was classifying: a `.png` was
replaced by its overlay, a `.jpg` got an `x.jpg.png` beside it that the next `predict` then
classified. So every command that writes files a user names (predict `--cam`/`--output`,
`data --samples`, `export --plots`/`--output`, `backfill`) first hands this module the folders it
reads images from and everything it will write, and is refused with one line (exit 2) before
its first byte, without half-made directories, when:

- a file would land in a folder it reads images from (or in one of its subfolders), compared by
  real path, so a symlink or `..` does not hide it;
- a file in an output folder would replace one that tui-trainer did not write there. A file the
  user named (`--output FILE`, `--samples FILE`) may be replaced: naming it says so. A folder
  (`--cam DIR`, `--plots DIR`) is the user's, and may hold their own files: it records the names
  tui-trainer wrote into it in a hidden manifest (`MANIFEST`, skipped by `predict` as every
  hidden file is), and only those may be written again, so rerunning a command into the same
  folder works and nothing else in it is ever replaced.

No torch, no textual: the CLI checks here before it loads a model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tui_trainer.errors import UsageError

if TYPE_CHECKING:
    from tui_trainer.config.schema import DataSection

MANIFEST = ".tui-trainer-wrote.json"
MANIFEST_BYTES = 16 << 20  # a million overlay names; larger is not one we wrote
NAMED_IN_A_REFUSAL = 1  # existing files named in the refusal line; the rest are counted


@dataclass(frozen=True)
class OutputFile:
    """A file the user named (`--output FILE`): written whole, and it may replace that file."""

    option: str
    path: Path


@dataclass(frozen=True)
class OutputFolder:
    """A folder the user named (`--cam DIR`), and the relative paths (`a/x.png`) of the files
    the command will write into it."""

    option: str
    path: Path
    names: Sequence[str]


def dataset_folders(sections: Iterable[DataSection]) -> list[Path]:
    """The folders these datasets' images are read from (data_dir and what it defaults to);
    none for digits, which scikit-learn ships inside its package."""
    return sorted({data.location() for data in sections if data.dataset != "digits"})


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_writes(
    reading: Iterable[Path],
    files: Iterable[OutputFile] = (),
    folders: Iterable[OutputFolder] = (),
) -> None:
    """Raise a UsageError (exit 2) naming the first output that would land inside a folder of
    `reading` or replace a file tui-trainer did not write; write nothing."""
    read = [(folder, _real(folder)) for folder in reading]
    for output in files:
        _check_file(output, read)
    for output in folders:
        _check_folder(output, read)


def _refuse_inside(option: str, path: Path, read: list[tuple[Path, Path]], real: Path) -> None:
    for folder, real_folder in read:
        if _inside(real, real_folder):
            raise UsageError(
                f"{option} {path}: inside {folder}, which this command reads images from; "
                "nothing there is replaced or added (choose a place outside it)"
            )


def _check_file(output: OutputFile, read: list[tuple[Path, Path]]) -> None:
    path = output.path
    _refuse_inside(output.option, path, read, _real(path))
    if path.is_dir():
        raise UsageError(f"{output.option} {path}: is a directory; name a file")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"{output.option} {path}: cannot write it: no such directory {parent}")


def _check_folder(output: OutputFolder, read: list[tuple[Path, Path]]) -> None:
    option, folder = output.option, output.path
    for level in (folder, *folder.parents):  # made with its parents: none may be a file
        if level.exists():
            if not level.is_dir():
                where = "" if level == folder else f"{level} "
                raise UsageError(f"{option} {folder}: {where}is a file, not a directory")
            break
    real = _real(folder)
    _refuse_inside(option, folder, read, real)
    if any(real in real_read.parents for _, real_read in read):  # a read folder inside it
        for name in output.names:
            _refuse_inside(option, folder / name, read, real / name)
    if not folder.is_dir():
        return  # made when the first file is written: nothing in it to replace
    parents = {PurePosixPath(name).parent for name in output.names}
    for parent in sorted(parents - {PurePosixPath(".")}):
        for level in (parent, *parent.parents):
            if str(level) != "." and (folder / level).exists() and not (folder / level).is_dir():
                raise UsageError(f"{option} {folder}: {folder / level} is a file, not a directory")
    ours = recorded(folder)
    foreign = [name for name in output.names if name not in ours and os.path.lexists(folder / name)]
    if foreign:
        shown = ", ".join(str(folder / name) for name in foreign[:NAMED_IN_A_REFUSAL])
        left = len(foreign) - NAMED_IN_A_REFUSAL
        more = f" and {left} more" if left > 0 else ""
        raise UsageError(
            f"{option} {folder}: {shown}{more} already there, not written by tui-trainer; "
            "nothing is replaced (move them away or choose another folder)"
        )
    directories = [name for name in output.names if (folder / name).is_dir()]
    if directories:
        raise UsageError(f"{option} {folder}: {folder / directories[0]} is a directory")


def recorded(folder: Path) -> set[str]:
    """The names the manifest of `folder` says tui-trainer wrote there (none when it has no
    manifest, or one that cannot be read: then nothing there counts as ours)."""
    from tui_trainer.store.files import read_limited

    try:  # a FIFO or a huge file put there is "no manifest", never a hang
        names = json.loads(read_limited(folder / MANIFEST, MANIFEST_BYTES).decode("utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(names, list):
        return set()
    return {name for name in names if isinstance(name, str)}


def claim(folder: Path, names: Iterable[str]) -> None:
    """Make `folder` (and its parents) and record `names` in its manifest, just before they are
    written: a write cut short leaves its files recorded, so rerunning the command replaces
    them. Call `check_writes` first."""
    from tui_trainer.store.atomic import write_bytes_atomic

    new = set(names)
    folder.mkdir(parents=True, exist_ok=True)
    ours = recorded(folder)
    if new <= ours:
        return
    # ensure_ascii: a name that is not UTF-8 (its bytes surrogate-escaped) round-trips exactly
    text = json.dumps(sorted(ours | new), indent=0)
    write_bytes_atomic(folder / MANIFEST, (text + "\n").encode("ascii"))
