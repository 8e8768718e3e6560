"""Form building blocks that keep a form of many fields cheap to show: each costs Textual fewer widgets or
fewer restyles than the stock containers."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Static


class FormScroll(VerticalScroll):
    """Textual restyles a widget *and all its descendants* when its focus changes, in case a rule such as
    `X:focus Y` depends on it. No rule of the app or of Textual's widgets styles anything inside a form by the
    form's own focus (only component classes of the focused widget itself, e.g. `DataTable:focus >
    .datatable--cursor`, which a restyle of the widget covers), so a form gaining or losing focus — the screen's
    auto-focus on every first visit, Tab from the form into its first field — restyles the form alone, not its
    ~180 fields (0.1–0.2 s on the new-job form)."""

    def watch_has_focus(self, _has_focus: bool) -> None:
        self.app.stylesheet.update_nodes([self], animate=True)


class FormRow(Horizontal):
    """One line of a form: its label drawn by the row itself instead of a Label widget in it (a form of ~30
    fields builds and styles ~30 widgets fewer). The field that follows starts after the label column
    (`FormRow > Select, FormRow > Input` in app.tcss)."""

    COMPONENT_CLASSES = {"form-row--label"}

    def __init__(self, label: str, *children, **kwargs) -> None:
        super().__init__(*children, **kwargs)
        self.label = label

    def render(self) -> Text:
        return Text(self.label, style=self.get_component_rich_style("form-row--label"), no_wrap=True,
                    overflow="ellipsis")


class FieldInput(Input):
    """A compact Input for a form field, with no validators of its own (the form checks its values together).
    It is built with the classes Textual would otherwise add one by one after construction — `compact` and the
    `-valid` of the first value set (an Input without validators is always valid) — each of which restyled the
    widget and its four component classes, ~70 restyles on the new-job form."""

    def __init__(self, value: str = "", *, id: str | None = None, classes: str = "") -> None:
        super().__init__(value, id=id, classes=f"{classes} -valid".strip())
        self.set_reactive(Input.compact, True)
        self.add_class("-textual-compact", update=False)


class FieldRow(FormRow):
    """A form row of one field: its label, its input and a note beside it. The row keeps its input and note at
    hand, so the form can read and set them before the row is mounted (a form may mount the rows below the fold
    after its first frame) as well as after."""

    def __init__(self, label: str, field: Input, note: Static, **kwargs) -> None:
        super().__init__(label, field, note, **kwargs)
        self.input = field
        self.note = note

    def show_note(self, text: Text) -> None:
        """Set the note beside the field — only if it changed: an update lays the whole screen out again."""
        if text != getattr(self, "_note_text", None):
            self._note_text = text
            self.note.update(text)
