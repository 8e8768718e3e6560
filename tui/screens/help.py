"""Help built from the live bindings, so it can never disagree with the keys that work."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help-close", tooltip="Close help")]

    def __init__(self, screen) -> None:
        super().__init__()
        self.target = screen

    def compose(self) -> ComposeResult:
        yield Static("[b]Keys[/] — every action is also in the command palette (ctrl+p)", id="help-title")
        yield DataTable(id="help-keys", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "action", "what it does")
        seen = set()
        for node in (self.target, self.app):
            for binding in node.BINDINGS:
                if not isinstance(binding, Binding) or binding.key in seen:
                    continue
                seen.add(binding.key)
                key = self.app.get_key_display(binding)
                table.add_row(key, binding.description, binding.tooltip or "")
