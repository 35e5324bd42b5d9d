"""How `tui-trainer data` prints a dataset summary: Rich tables that read the same without
colour (piped, NO_COLOR), built from the plain figures train/data_summary.py computes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui_trainer.printable import printable

if TYPE_CHECKING:
    from tui_trainer.train.data_summary import (
        BatchSetup,
        DatasetGroup,
        DatasetSummary,
        SplitSummary,
    )

SOURCES = {
    "explicit": "data.mean / data.std as the preset gives them",
    "imagenet": "ImageNet's published figures",
    "dataset": "the dataset's published figures",
    "train_split": "the training split's own figures above",
}
INDENT = "  "


def figures(values: Sequence[float]) -> str:
    return " ".join(f"{v:.4f}" for v in values)


def normalization_line(setup: BatchSetup) -> str:
    """What the run normalizes with, the setting that chose it, and the figures when they are
    not the training split's shown above."""
    line = f"normalize: {SOURCES[setup.normalization]}"
    if setup.normalization != "explicit":
        line += f" (data.normalize = {setup.normalize})"
    if setup.normalization != "train_split":
        line += f": mean {figures(setup.mean)}, std {figures(setup.std)}"
    return line


def percent(share: float) -> str:
    return f"{100 * share:.2f}%"


def channel_names(count: int) -> list[str]:
    return ["R", "G", "B"] if count == 3 else [f"c{i}" for i in range(count)]


def _extreme(split: SplitSummary, names: Sequence[str], pick: type[min] | type[max]) -> str:
    """The smallest or largest class share of a split, naming its class ('-' when empty)."""
    if split.count == 0:
        return "-"
    shares = split.shares()
    index = pick(range(len(shares)), key=lambda i: (shares[i], -i if pick is max else i))
    return f"{percent(shares[index])} ({printable(names[index], limit=30)})"


def _table() -> Table:
    """Borderless: the summary reads the same piped, without colour or box characters."""
    return Table(box=None, pad_edge=False)


def splits_table(summary: DatasetSummary) -> Table:
    """One row per split: images, its part of all images, smallest and largest class share."""
    table = _table()
    for header in ("split", "images", "of all"):
        table.add_column(header, justify="left" if header == "split" else "right")
    table.add_column("min class share")
    table.add_column("max class share")
    total = sum(split.count for split in summary.splits)
    for split in summary.splits:
        table.add_row(
            split.name,
            f"{split.count:,}",
            percent(split.count / total) if total else "-",
            _extreme(split, summary.class_names, min),
            _extreme(split, summary.class_names, max),
        )
    return table


def classes_table(summary: DatasetSummary) -> Table:
    """Every class: its image count and share in each split (--classes)."""
    table = _table()
    table.add_column("class")
    for split in summary.splits:
        table.add_column(split.name, justify="right")
        table.add_column("share", justify="right")
    shares = [split.shares() for split in summary.splits]
    for index, name in enumerate(summary.class_names):
        cells = [Text(printable(name, limit=40))]
        for split, share in zip(summary.splits, shares, strict=True):
            cells += [Text(f"{split.class_counts[index]:,}"), Text(percent(share[index]))]
        table.add_row(*cells)
    return table


def channels_table(summary: DatasetSummary) -> Table:
    """Per-channel mean/std of the training split (report 002's table 1)."""
    table = _table()
    table.add_column("")
    for name in channel_names(len(summary.train_mean)):
        table.add_column(name, justify="right")
    table.add_row("mean", *(f"{v:.4f}" for v in summary.train_mean))
    table.add_row("std", *(f"{v:.4f}" for v in summary.train_std))
    return table


def augmentation_line(summary: BatchSetup) -> str:
    """data.augment as training applies it, with its settings."""
    parts = []
    for name in summary.augment:
        if name == "crop":
            parts.append(f"crop (zero-pad {summary.crop_padding}, random crop back)")
        elif name == "rotate":
            parts.append(f"rotate (within +-{summary.rotate_degrees:g} degrees)")
        elif name == "mixup":
            alpha = summary.mixup_alpha
            parts.append(f"mixup (lambda ~ Beta({alpha:g}, {alpha:g}))")
        else:
            parts.append(name)
    return "augment: " + (", ".join(parts) if parts else "none")


def setup_lines(setup: BatchSetup, width: int) -> list[str]:
    """How one setup makes batches: resize (when it changes the size), normalization,
    augmentation."""
    lines = []
    if setup.resize is not None and setup.resize != width:
        lines.append(f"resize: to {setup.resize}x{setup.resize} on the device")
    return [*lines, normalization_line(setup), augmentation_line(setup)]


def group_view(group: DatasetGroup, total_runs: int, show_classes: bool) -> RenderableType:
    """One dataset of a study: its splits and statistics once, then each batch setup of the
    runs that use it, named by its runs when the runs differ."""
    summary = group.dataset
    channels, height, width = summary.image_shape
    head = (
        f"dataset: {summary.dataset}, {len(summary.class_names)} classes, "
        f"images {channels}x{height}x{width}"
    )
    runs = [name for _, names in group.setups for name in names]
    if total_runs > 1:
        used = f"all {total_runs} runs" if len(runs) == total_runs else ", ".join(runs)
        head += f"; used by {used}"
    lines: list[RenderableType] = [
        Text(printable(head, limit=2000)),
        Text("\nsplits"),
        splits_table(summary),
    ]
    if show_classes:
        lines += [Text("\nclasses"), classes_table(summary)]
    lines += [
        Text("\nper-channel mean/std of the training split ([0, 1] units)"),
        channels_table(summary),
        Text(""),
    ]
    if len(group.setups) == 1:
        lines += [Text(line) for line in setup_lines(group.setups[0][0], width)]
        return Group(*lines)
    for setup, names in group.setups:
        lines.append(Text(printable("runs " + ", ".join(names) + ":", limit=2000)))
        lines += [Text(INDENT + line) for line in setup_lines(setup, width)]
    return Group(*lines)
