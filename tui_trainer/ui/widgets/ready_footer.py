"""A footer that lists the screen's keys from its first frame.

Textual's Footer composes empty and fills in only once the screen first publishes its bindings
and the frame after that is drawn; behind a screen as heavy as the editor's sixty fields (a
slow machine, a slow link) that is seconds of a screen without its keys. The screen's keys are
known when the footer is composed, so this one is ready at once; later changes (focus moving
into a field) update it as Textual's footer does."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Footer


class ReadyFooter(Footer):
    """Footer, composed with the screen's keys at once instead of after the first frame."""

    # Footer's own flag (Textual 8): False composes it empty until the first bindings signal
    _bindings_ready = reactive(True, repaint=False)
