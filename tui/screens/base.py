"""What every screen shares: the header, the connection line, the footer, Esc, and access to the core."""

from __future__ import annotations

import sys

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Input

from bailian_tui.tui.widgets.connection import ConnectionBar
from bailian_tui.tui.widgets.places import PlaceBar


def leave_input(screen) -> bool:
    """Esc's first job: a text field that has focus gives it up, so the place keys work again."""
    # TextArea is not imported for this (~15 ms before the first frame): a focused one has loaded its module.
    text_area = sys.modules.get("textual.widgets._text_area")
    if isinstance(screen.focused, (Input, text_area.TextArea) if text_area else Input):
        screen.set_focus(None)
        return True
    return False


class BaseScreen(Screen):
    TITLE_TEXT = ""

    def compose_frame(self) -> ComposeResult:
        yield Header()
        yield ConnectionBar(id="connection")
        yield PlaceBar(id="places")

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    @property
    def on_top(self) -> bool:
        """Whether a person sees this screen now (Screen.is_current also counts screens behind others)."""
        return self.app.screen is self

    def on_mount(self) -> None:
        self.app.sub_title = self.TITLE_TEXT
        # Textual's switch_mode restyles the whole app (refresh_css: a stylesheet re-parse and a restyle of
        # every widget, 0.2–0.3 s on the new-job form) whenever a screen's CSS counter lags the app's. A screen
        # first shown through a mode never catches up — it is not mounted yet when switch_mode sets the
        # counter — so every return to it paid that. Its styles were applied as it mounted: mark it current.
        # (Private to Textual 8; a later version without the counter simply skips this.)
        if hasattr(self, "_css_update_count") and hasattr(self.app, "_css_update_count"):
            self._css_update_count = self.app._css_update_count
        first_painted = getattr(self.app, "first_screen_painted", None)
        if first_painted is not None:
            self.call_after_refresh(first_painted)

    def on_screen_resume(self) -> None:
        self.app.sub_title = self.TITLE_TEXT

    def action_back(self) -> None:
        """Esc: leave a text field first; then back out — a pushed screen pops, a place goes to Jobs."""
        if leave_input(self):
            return
        if self.app.screen_stack[0] is not self:
            self.app.pop_screen()
        elif self.app.current_mode != "jobs":
            self.app.switch_mode("jobs")
