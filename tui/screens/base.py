"""What every screen shares: the header, the connection line, the footer, Esc, and access to the core."""

from __future__ import annotations

import gc
import sys

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Header, Input

from bailian_tui.tui.widgets.connection import ConnectionBar
from bailian_tui.tui.widgets.footer import KeyFooter
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
    GC_HOLD_LIMIT = 2.0  # seconds: the collector is back on by then, whatever happened to the screen

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._app_focus_when_left: bool | None = None
        # A screen built while another is shown is styled against the current stylesheet as its widgets mount.
        # Textual starts its CSS counter at -1, so the first switch_mode to it ran refresh_css twice — a
        # stylesheet re-parse and a restyle of the screen being left (0.1–0.3 s when leaving the new-job form)
        # — for nothing. Not the app's first screen: that refresh_css is what loads the theme's variables.
        self._gc_held = False
        if self._app_has_a_screen():
            self._mark_styles_current()
            self._hold_gc()

    def _hold_gc(self) -> None:
        """No garbage collection from here to this screen's first frame. Building a screen allocates thousands
        of objects (the new-job form ~27k): enough to trip a full collection, which walks every object made
        since start-up's `gc.freeze()` — 30–65 ms with the loop stopped, measured inside the first visit to New
        job. Collecting once the frame is on screen costs the same, where no one waits for it."""
        if gc.isenabled():
            gc.disable()
            self._gc_held = True
            # A backstop: a screen built and never shown (nor unmounted) must not leave the app without a
            # collector for the hours it may run watching jobs.
            self.app.set_timer(self.GC_HOLD_LIMIT, self._release_gc, name="gc_hold_limit")

    def _release_gc(self) -> None:
        if self._gc_held:
            self._gc_held = False
            gc.enable()

    def on_unmount(self) -> None:
        self._release_gc()  # a screen removed before its first frame

    def _app_has_a_screen(self) -> bool:
        try:
            return self.app.screen.is_mounted
        except Exception:  # no running app, or no screen yet (the app's first screen is being built)
            return False

    def _mark_styles_current(self) -> None:
        """Tell Textual this screen's styles follow the app's current CSS (a Textual-private counter, guarded:
        a later version without it simply skips this)."""
        try:
            count = self.app._css_update_count
        except Exception:  # no running app (a screen built outside one): nothing to mark
            return
        if hasattr(self, "_css_update_count") and isinstance(count, int):
            self._css_update_count = count

    def compose_frame(self) -> ComposeResult:
        yield Header()
        yield ConnectionBar(id="connection")
        yield PlaceBar(id="places")

    def compose(self) -> ComposeResult:
        yield from self.compose_frame()
        yield from self.compose_body()
        yield KeyFooter()

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
        self._mark_styles_current()
        ready = getattr(self.app, "screen_ready", None)
        if ready is not None:  # after what on_mount queued: the first frame shown is the complete one
            self.call_later(ready, self)
        if self._gc_held:
            self.call_after_refresh(self._release_gc)
        first_painted = getattr(self.app, "first_screen_painted", None)
        if first_painted is not None:
            self.call_after_refresh(first_painted)

    def on_screen_suspend(self) -> None:
        self._app_focus_when_left = self.app.app_focus

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        self.app.sub_title = self.TITLE_TEXT
        # Textual restyles every widget of a screen each time switch_mode brings it back (~190 widgets and
        # 0.2–0.4 s on the new-job form, the whole cost of a return). Nothing it would change can have moved:
        # classes, :hover, :disabled and :focus restyle as they change, shown or not; a changed stylesheet or
        # theme bumps the CSS counter, and switch_mode then runs refresh_css before this. What only the current
        # screen hears is the terminal gaining or losing focus (`App:blur …` rules): restyle when that changed.
        # Runs before Screen's own handler (subclass first), which reads the flag.
        if event.refresh_styles and self._styles_current():
            event.refresh_styles = False

    def _styles_current(self) -> bool:
        counter = getattr(self, "_css_update_count", None)
        if counter is None or counter != getattr(self.app, "_css_update_count", None):
            return False
        return self._app_focus_when_left is None or self._app_focus_when_left == self.app.app_focus

    def action_back(self) -> None:
        """Esc: leave a text field first; then back out — a pushed screen pops, a place goes to Jobs."""
        if leave_input(self):
            return
        if self.app.screen_stack[0] is not self:
            self.app.pop_screen()
        elif self.app.current_mode != "jobs":
            self.app.switch_mode("jobs")
