"""Telling the user something in a notification, from the app or from any screen or widget."""

from __future__ import annotations

from textual.app import App
from textual.notifications import SeverityLevel
from textual.widget import Widget

from tui_trainer.printable import printable


def tell(
    node: App | Widget,
    message: str,
    severity: SeverityLevel = "information",
    timeout: float = 5,
) -> None:
    """A notification of text that may quote a file, a path or an error: made printable and
    shown as plain text (as markup, a '[' in a path could break it)."""
    node.notify(printable(message), severity=severity, timeout=timeout, markup=False)
