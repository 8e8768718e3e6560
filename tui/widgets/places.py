"""The places, always in view: `d Datasets  f Files  n New job  j Jobs  p Deployments  ? Help`, the current
one highlighted. The footer is left to the screen's own actions, so at 80 columns neither crowds out the
other (the footer used to lose the place keys off its right edge)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from bailian_tui.tui.keymap import PLACES


def places_text(current: str | None, width: int) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    short = width < 70
    for mode, (key, title, _) in PLACES.items():
        label = title.split()[0] if short and mode == "deployments" else title
        style = "reverse bold" if mode == current else ""
        text.append(f" {key} ", style=f"bold {style}".strip())
        text.append(f"{label} ", style=style or "dim")
    text.append(" ? ", style="bold")
    text.append("Help", style="dim")
    return text


class PlaceBar(Static):
    def on_mount(self) -> None:
        self.update(places_text(getattr(self.app, "current_mode", None), self.app.size.width))

    def on_resize(self) -> None:
        self.on_mount()
