"""The command palette: every action of the app, reachable by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class AppCommands(Provider):
    def _commands(self):
        app = self.app
        for mode, (key, title, help_text) in app.PLACES.items():
            yield f"go to {title}", partial(app.switch_mode, mode), f"{help_text} ({key})"
        screen = app.screen
        for binding in getattr(screen, "BINDINGS", []):
            action = getattr(binding, "action", None)
            if action and hasattr(screen, f"action_{action}"):
                yield f"{title_of(screen)}: {binding.description.lower()}", \
                    partial(screen.run_action, action), binding.tooltip or ""
        yield "show keys (help)", app.action_help, "every key that works here (?)"
        yield "quit", app.action_quit, "leave bailian-tui (q)"

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


def title_of(screen) -> str:
    return getattr(screen, "TITLE_TEXT", "") or type(screen).__name__
