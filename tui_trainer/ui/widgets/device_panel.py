"""The monitor's device panel: what the machines training the study are doing, from the runs'
status.toml alone (each worker samples its machine and its GPU into its own file), so a run on
another host of a shared runs directory shows as well as one here.

One block per host in use, this machine first: its name and the devices' names, a line per GPU
in use (utilization, memory, how many runs share it), the host's CPU and RAM, and what its
trainers take together. Host-wide and GPU-wide figures come from the run on that host or GPU
with the newest heartbeat: every run there samples the same machine, so adding them up would
count it several times; a run's own CPU and RSS are its own, and those add up."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timezone

from rich.text import Text
from textual.widgets import Static

from tui_trainer.console.formats import number
from tui_trainer.printable import printable
from tui_trainer.store import status as st
from tui_trainer.store.follow import RunSeries
from tui_trainer.store.schema import DeviceFigures
from tui_trainer.ui.placement import HOST_CHARS, gpu_of, is_remote, this_host

THIS_MACHINE = "this machine"
NO_FIGURES = "no device figures yet"


def _newest(runs: Iterable[RunSeries]) -> RunSeries:
    """The run whose status was written last (the first of equals): its view of the machine
    is the freshest."""

    def beat(run: RunSeries) -> float:
        heartbeat = run.status.heartbeat
        if heartbeat is None:
            return float("-inf")
        if heartbeat.tzinfo is None:
            heartbeat = heartbeat.replace(tzinfo=timezone.utc)
        try:
            return heartbeat.timestamp()
        except (OverflowError, ValueError):  # year 1 or 9999 in a hand-edited file
            return float("-inf")

    return max(runs, key=beat)


def _percent(value: float | None) -> str:
    return "-" if value is None else number(value, 0)


def _gpu_order(gpu: str) -> tuple[int, int, str]:
    return (0, int(gpu), "") if gpu.isdecimal() else (1, 0, gpu)


def _hosts(runs: list[RunSeries], here: str) -> dict[str, list[RunSeries]]:
    """The runs by host, this machine first, then the others by name."""
    hosts: dict[str, list[RunSeries]] = {}
    for run in runs:
        host = run.status.host if is_remote(run.status.host, here) else here
        hosts.setdefault(host or here, []).append(run)
    return dict(sorted(hosts.items(), key=lambda item: (item[0] != here, item[0])))


def _gpu_line(gpu: str, runs: list[RunSeries]) -> Text:
    figures = _newest(runs).status.device_figures or DeviceFigures()
    line = Text(f" GPU {gpu}  ")
    if figures.gpu_mem_total_mb is None:
        line.append("no GPU figures", style="dim")
    else:
        used = (figures.gpu_mem_used_mb or 0) / 1024
        total = figures.gpu_mem_total_mb / 1024
        line.append(
            f"{_percent(figures.gpu_util_percent)}%  {number(used, 1)}/{number(total, 1)} GiB"
        )
    return line


def _host_block(host: str, runs: list[RunSeries], here: str) -> Text:
    label = THIS_MACHINE if host == here else printable(host, limit=HOST_CHARS)
    block = Text(label, style="bold")
    names = list(dict.fromkeys(r.status.device_name or r.status.device or "" for r in runs))
    if any(names):
        block.append("  " + ", ".join(name for name in names if name), style="dim")
    gpus: dict[str, list[RunSeries]] = {}
    for run in runs:
        gpu = gpu_of(run.status)
        if gpu is not None:
            gpus.setdefault(gpu, []).append(run)
    for gpu in sorted(gpus, key=_gpu_order):
        block.append("\n")
        block.append_text(_gpu_line(gpu, gpus[gpu]))
    machine = _newest(runs).status.device_figures or DeviceFigures()
    block.append(f"\n CPU {_percent(machine.cpu_percent)}%  RAM {_percent(machine.ram_percent)}%")
    own = [r.status.device_figures for r in runs if r.status.device_figures is not None]
    cpu = [f.process_cpu_percent for f in own if f.process_cpu_percent is not None]
    rss = [f.rss_mb for f in own if f.rss_mb is not None]
    count = "1 run uses" if len(runs) == 1 else f"{len(runs)} runs use"
    block.append(
        f"\n {count} {_percent(sum(cpu) if cpu else None)}% CPU, "
        f"{number(sum(rss) / 1024, 1) if rss else '-'} GiB"
    )
    return block


def device_text(series: list[RunSeries], here: str | None = None) -> Text:
    """The panel's text: a block per host of the running runs; with nothing running, what the
    run that reported last said (a finished study shows where it ended)."""
    here = here or this_host()
    reporting = [s for s in series if s.status.device_figures is not None]
    running = [s for s in reporting if s.state == st.RUNNING]
    if not running and not reporting:
        return Text(NO_FIGURES, style="dim")
    shown = running or [_newest(reporting)]
    return Text("\n").join(
        _host_block(host, runs, here) for host, runs in _hosts(shown, here).items()
    )


class DevicePanel(Static):
    """The device panel: `show` redraws it only when its text changed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text(NO_FIGURES, style="dim"), id=id)
        self._shown: tuple | None = None

    def show(self, series: list[RunSeries]) -> None:
        text = device_text(series)
        key = (text.plain, tuple(text.spans))
        if key != self._shown:
            self._shown = key
            self.update(text)
