"""Help built from the live bindings, so it can never disagree with the keys that work."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from bailian_tui.tui.keymap import bind, keys_label
from bailian_tui.tui.widgets.tables import Table


class HelpScreen(ModalScreen):
    BINDINGS = [bind("escape,q,question_mark", "dismiss", "Back", "help-close", "Close help")]

    def __init__(self, screen) -> None:
        super().__init__()
        self.target = screen

    def compose(self) -> ComposeResult:
        yield Static("[b]Keys[/] — every action is also in the command palette (Ctrl+P)", id="help-title")
        yield Table(id="help-keys", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "action", "what it does")
        seen = set()
        for node in (self.target, self.app):
            for binding in node.BINDINGS:
                if not isinstance(binding, Binding) or binding.key in seen:
                    continue
                seen.add(binding.key)
                table.add_row(keys_label(binding.key), binding.description, binding.tooltip or "")
