"""The monitor's device panel: what the machines training the study are doing, from the runs'
status.toml alone (each worker samples its machine and its GPU into its own file), so a run on
another host of a shared runs directory shows as well as one here.

One block per host in use, this machine first: its name and the devices' names, a line per GPU
in use (utilization, memory, how many runs share it), the host's CPU and RAM (machine-wide), and
what its trainers take together (their CPU in % of one core: 195% is about two cores busy).
Host-wide and GPU-wide figures come from the run on that host or GPU with the newest heartbeat:
every run there samples the same machine, so adding them up would count it several times; a
run's own CPU and RSS are its own, and those add up.

With nothing training, the figures are what the last trainer saw, and the panel says so: 'last
seen 12:03, trainer finished' (or stopped, or gone), dimmed, never shown as live.

A CPU run's device name ends with its own thread count ('Xeon (1 thread)': a worker of `--jobs 2`
takes its share of the cores). That is the run's, not the machine's: the machine's line names
the CPU alone, and the runs' line says how many threads each one trains with.

Each figure is one token ('RSS 4.2 GiB'): the panel wraps between tokens, never inside one, so a
narrow panel never shows a number on one line and its unit on the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui_trainer.console.formats import number
from tui_trainer.printable import printable
from tui_trainer.store import status as st
from tui_trainer.store.follow import RunSeries
from tui_trainer.store.schema import DeviceFigures
from tui_trainer.ui.placement import HOST_CHARS, gpu_of, is_remote, this_host

THIS_MACHINE = "this machine"
NO_FIGURES = "no device figures yet"
GAP = "  "  # between two tokens of a line
INDENT = " "
# how the study's trainer stands when nothing trains: what the last figures are from
ENDED = {
    st.COMPLETED: "trainer finished",
    st.DIVERGED: "trainer finished",
    st.PRUNED: "trainer finished",
    st.INTERRUPTED: "trainer stopped",
    st.FAILED: "trainer failed",
    st.CRASHED: "trainer gone",
    st.STALLED: "trainer not responding",
}

Line = tuple[str, ...]  # tokens, each shown whole

# train/device.py device_name of a CPU: '<cpu name> (<n> thread[s])', the process's threads
_THREADS_RE = re.compile(r"^(.*) \((\d+) threads?\)$")


def _split_threads(name: str) -> tuple[str, int | None]:
    """('Xeon', 1) from 'Xeon (1 thread)'; (name, None) for a GPU's name."""
    match = _THREADS_RE.match(name)
    return (match.group(1), int(match.group(2))) if match else (name, None)


def _threads_token(runs: list[RunSeries]) -> tuple[str, ...]:
    """'1 thread each' (or '4 threads' for one run, '1-2 threads' when they differ); none
    for GPU runs."""
    counts = sorted(
        {
            count
            for r in runs
            if (count := _split_threads(r.status.device_name or "")[1]) is not None
        }
    )
    if not counts:
        return ()
    low, high = counts[0], counts[-1]
    text = f"{low}" if low == high else f"{low}-{high}"
    plural = "" if high == 1 else "s"
    each = " each" if len(runs) > 1 and low == high else ""
    return (f"{text} thread{plural}{each}",)


@dataclass(frozen=True)
class DeviceView:
    """The panel's content: a line of tokens per row, a style per line, a note on top."""

    lines: tuple[tuple[Line, str], ...] = (((NO_FIGURES,), "dim"),)


def _beat(run: RunSeries) -> float:
    heartbeat = run.status.heartbeat
    if heartbeat is None:
        return float("-inf")
    if heartbeat.tzinfo is None:
        heartbeat = heartbeat.replace(tzinfo=timezone.utc)
    try:
        return heartbeat.timestamp()
    except (OverflowError, ValueError):  # year 1 or 9999 in a hand-edited file
        return float("-inf")


def _newest(runs: Iterable[RunSeries]) -> RunSeries:
    """The run whose status was written last (the first of equals): its view of the machine
    is the freshest."""
    return max(runs, key=_beat)


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


def _gpu_line(gpu: str, runs: list[RunSeries]) -> Line:
    figures = _newest(runs).status.device_figures or DeviceFigures()
    if figures.gpu_mem_total_mb is None:
        return (f"GPU {gpu}", "no GPU figures")
    used = (figures.gpu_mem_used_mb or 0) / 1024
    total = figures.gpu_mem_total_mb / 1024
    return (
        f"GPU {gpu}",
        f"{_percent(figures.gpu_util_percent)}%",
        f"{number(used, 1)}/{number(total, 1)} GiB",
    )


def _host_lines(host: str, runs: list[RunSeries], here: str, style: str) -> list[tuple[Line, str]]:
    label = THIS_MACHINE if host == here else printable(host, limit=HOST_CHARS)
    named = (_split_threads(r.status.device_name or r.status.device or "")[0] for r in runs)
    names = [n for n in dict.fromkeys(named) if n]
    lines: list[tuple[Line, str]] = [((label, *(printable(n) for n in names)), "bold")]
    gpus: dict[str, list[RunSeries]] = {}
    for run in runs:
        gpu = gpu_of(run.status)
        if gpu is not None:
            gpus.setdefault(gpu, []).append(run)
    lines += [(_gpu_line(gpu, gpus[gpu]), style) for gpu in sorted(gpus, key=_gpu_order)]
    machine = _newest(runs).status.device_figures or DeviceFigures()
    cpu_ram = (
        f"machine CPU {_percent(machine.cpu_percent)}%",
        f"RAM {_percent(machine.ram_percent)}%",
    )
    lines.append((cpu_ram, style))
    own = [r.status.device_figures for r in runs if r.status.device_figures is not None]
    cpu = [f.process_cpu_percent for f in own if f.process_cpu_percent is not None]
    rss = [f.rss_mb for f in own if f.rss_mb is not None]
    count = "1 run:" if len(runs) == 1 else f"{len(runs)} runs:"
    lines.append(
        (
            (
                count,
                *_threads_token(runs),
                f"{_percent(sum(cpu) if cpu else None)}% of a core",
                f"RSS {number(sum(rss) / 1024, 1) if rss else '-'} GiB",
            ),
            style,
        )
    )
    return lines


def device_view(series: list[RunSeries], here: str, study_state: str) -> DeviceView:
    """A block per host of the running runs; with nothing running, what the run that reported
    last said, under a line that says when and how its trainer ended (`study_state`)."""
    reporting = [s for s in series if s.status.device_figures is not None]
    running = [s for s in reporting if s.state == st.RUNNING]
    if not running and not reporting:
        return DeviceView()
    lines: list[tuple[Line, str]] = []
    style = ""
    if not running:
        newest = _newest(reporting)
        seen = _local_time(newest)
        ended = ENDED.get(study_state, "nothing training")
        seen_at = f"last seen {seen}" if seen else "last figures"
        lines.append(((f"{ended},", seen_at), "italic"))
        style = "dim"
    for host, runs in _hosts(running or [_newest(reporting)], here).items():
        lines += _host_lines(host, runs, here, style)
    return DeviceView(tuple(lines))


def _local_time(run: RunSeries) -> str | None:
    beat = _beat(run)
    if beat == float("-inf"):
        return None
    try:
        return datetime.fromtimestamp(beat).strftime("%H:%M")
    except (OverflowError, OSError, ValueError):
        return None


def wrap_tokens(tokens: Line, width: int, indent: str = "") -> list[str]:
    """`tokens` joined by GAP after `indent`, wrapped to `width` between tokens (a continuation
    indented further); a token wider than the panel is cut at its end, never split over two
    lines."""
    lines: list[str] = []
    current = ""
    for token in tokens:
        if current and len(current) + len(GAP) + len(token) > width > 0:
            lines.append(current)
            current = indent + "  " + token
        else:
            current = current + GAP + token if current else indent + token
    lines.append(current)
    return [line[:width] if width > 0 else line for line in lines]


def view_text(view: DeviceView, width: int = 0) -> Text:
    """The panel's text at `width` columns (0: unwrapped); headers flush left, figures
    indented."""
    text = Text(no_wrap=True, overflow="crop")
    for tokens, style in view.lines:
        indent = "" if style in ("bold", "italic") or tokens == (NO_FIGURES,) else INDENT
        for line in wrap_tokens(tokens, width, indent):
            if text:
                text.append("\n")
            text.append(line, style=style)
    return text


def device_text(
    series: list[RunSeries], here: str | None = None, study_state: str = st.RUNNING
) -> Text:
    """The panel's text, unwrapped (device_view)."""
    return view_text(device_view(series, here or this_host(), study_state))


class DevicePanel(Widget):
    """The device panel: set `view` (device_view) and it redraws when that changed."""

    DEFAULT_CSS = """
    DevicePanel { height: auto; }
    """

    view: reactive[DeviceView] = reactive(DeviceView, layout=True)

    def render(self) -> Text:
        return view_text(self.view, self.content_region.width)
