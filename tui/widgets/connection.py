"""The line under the header: where the app is connected, and whether the connection is alive."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static


class ConnectionBar(Static):
    def on_mount(self) -> None:
        self.watch(self.app, "connection_problem", self._show, init=True)

    def _where(self) -> str:
        """One profile: where it is (as before). Several: each profile's label and masked key."""
        from bailian_tui.core.config import ConfigError
        from bailian_tui.core.profiles import profiles

        try:
            every = profiles(self.app.settings)
        except ConfigError:
            every = []
        if len(every) < 2:
            return self.app.settings.where()
        return " · ".join(f"{p.label} key {p.masked_key if p.has_key else f'missing (${p.key_env})'}"
                          for p in every)

    def _show(self, problem: str) -> None:
        where = self._where()
        if problem:
            self.update(f"[b red]● offline[/] {escape(where)} — {escape(problem)} (retrying)")
            self.add_class("offline")
        else:
            self.update(f"[green]●[/] {escape(where)}")
            self.remove_class("offline")
