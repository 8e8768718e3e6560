"""No API key and no --demo: say at once, in full, what is missing and the two ways on."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from bailian_tui.core.config import no_key_message


class NoKeyScreen(ModalScreen):
    """Shown before anything tries the network: nothing is retried, nothing is cut off (the text wraps)."""

    BINDINGS = [
        Binding("escape,enter", "dismiss", "Continue without a key", id="nokey-continue",
                tooltip="Local work (datasets: browse, convert, validate) works without a key"),
        Binding("q", "app.quit", "Quit", id="nokey-quit", tooltip="Leave, set the key, start again"),
    ]

    def __init__(self, settings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="nokey-box"):
            yield Static("[b]No API key[/b]", id="nokey-title")
            yield Static(no_key_message(self.settings), id="nokey-text", markup=False)
            yield Static("[b]enter[/b] continue without a key (datasets work offline) · [b]q[/b] quit",
                         id="nokey-keys")
