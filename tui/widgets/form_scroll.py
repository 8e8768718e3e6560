"""A scrolling form whose own focus does not restyle every field in it."""

from __future__ import annotations

from textual.containers import VerticalScroll


class FormScroll(VerticalScroll):
    """Textual restyles a widget *and all its descendants* when its focus changes, in case a rule such as
    `X:focus Y` depends on it. No rule of the app or of Textual's widgets styles anything inside a form by the
    form's own focus (only component classes of the focused widget itself, e.g. `DataTable:focus >
    .datatable--cursor`, which a restyle of the widget covers), so a form gaining or losing focus — the screen's
    auto-focus on every first visit, Tab from the form into its first field — restyles the form alone, not its
    ~180 fields (0.1–0.2 s on the new-job form)."""

    def watch_has_focus(self, _has_focus: bool) -> None:
        self.app.stylesheet.update_nodes([self], animate=True)
