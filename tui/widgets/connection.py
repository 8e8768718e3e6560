"""The line under the header: where the app is connected, and whether the connection is alive."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static


class ConnectionBar(Static):
    def on_mount(self) -> None:
        self.watch(self.app, "connection_problem", self._show, init=True)

    def _show(self, problem: str) -> None:
        where = self.app.settings.where()
        if problem:
            self.update(f"[b red]● offline[/] {escape(where)} — {escape(problem)} (retrying)")
            self.add_class("offline")
        else:
            self.update(f"[green]●[/] {escape(where)}")
            self.remove_class("offline")
