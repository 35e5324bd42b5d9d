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
    from tui_trainer.train.data_summary import DataSummary, SplitSummary

SOURCES = {
    "explicit": "data.mean / data.std as the preset gives them",
    "imagenet": "ImageNet's published figures",
    "dataset": "the dataset's published figures",
    "train_split": "the training split's own figures above",
}


def normalization_line(summary: DataSummary) -> str:
    """What the run normalizes with, and the setting that chose it."""
    line = f"the run normalizes with {SOURCES[summary.normalization]}"
    if summary.normalization != "explicit":
        line += f" (data.normalize = {summary.normalize})"
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


def _table(title: str) -> Table:
    """Borderless: the summary reads the same piped, without colour or box characters."""
    return Table(title=title, title_justify="left", box=None, pad_edge=False)


def splits_table(summary: DataSummary) -> Table:
    """One row per split: images, its part of all images, smallest and largest class share."""
    table = _table("splits")
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


def classes_table(summary: DataSummary) -> Table:
    """Every class: its image count and share in each split (--classes)."""
    table = _table("classes")
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


def channels_table(summary: DataSummary) -> Table:
    """Per-channel mean/std of the training split, and what the run normalizes with when
    that is something else."""
    table = _table("per-channel statistics ([0, 1] units)")
    table.add_column("")
    for name in channel_names(len(summary.train_mean)):
        table.add_column(name, justify="right")
    table.add_row("train split mean", *(f"{v:.4f}" for v in summary.train_mean))
    table.add_row("train split std", *(f"{v:.4f}" for v in summary.train_std))
    if summary.normalization != "train_split":
        table.add_row("run's mean", *(f"{v:.4f}" for v in summary.mean))
        table.add_row("run's std", *(f"{v:.4f}" for v in summary.std))
    return table


def augmentation_line(summary: DataSummary) -> str:
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


def summary_view(
    summary: DataSummary, runs: Sequence[str], total_runs: int, show_classes: bool
) -> RenderableType:
    """The whole summary of one dataset setup shared by `runs` of a study of `total_runs`."""
    channels, height, width = summary.image_shape
    head = (
        f"dataset: {summary.dataset}, {len(summary.class_names)} classes, "
        f"images {channels}x{height}x{width}"
    )
    if summary.resize is not None and summary.resize != width:
        head += f", resized to {summary.resize}x{summary.resize} on the device"
    lines: list[RenderableType] = [Text(head)]
    if total_runs > 1:
        named = "all runs" if len(runs) == total_runs else "runs " + ", ".join(runs)
        lines.append(Text(printable(f"{named} (of {total_runs})", limit=400)))
    lines += [Text(""), splits_table(summary)]
    if show_classes:
        lines += [Text(""), classes_table(summary)]
    lines += [
        Text(""),
        channels_table(summary),
        Text(normalization_line(summary)),
        Text(augmentation_line(summary)),
    ]
    return Group(*lines)
