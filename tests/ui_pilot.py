"""What the app's Pilot tests share: running a scenario, waiting for a condition, reading a table
cell, and a fake `launch.resume` that notes its calls."""

from __future__ import annotations

import asyncio
import time

from textual.widgets import DataTable, Static


def run(coroutine):
    return asyncio.run(coroutine)


async def wait_for(pilot, condition, timeout=240.0):  # generous: CI machines can be busy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.2)
    raise AssertionError("condition not met in time")


def cell(table: DataTable, row: int, column: int) -> str:
    return str(table.get_row_at(row)[column])


SIZE = (120, 40)


def title_of(screen) -> str:
    return str(screen.query_one("#study-title", Static).render())
