"""The command palette: the places, and every action of the screen the palette was opened over."""

from __future__ import annotations

from functools import partial

from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider

from bailian_tui.tui.keymap import keys_label


def screen_under_palette(app):
    """While the palette is open it *is* app.screen; the screen a person was using lies beneath it."""
    return next((s for s in reversed(app.screen_stack) if not isinstance(s, CommandPalette)), app.screen)


class AppCommands(Provider):
    def _commands(self):
        app = self.app
        for mode, (key, title, help_text) in app.PLACES.items():
            yield f"go to {title}", partial(app.switch_mode, mode), f"{help_text} ({key})"
        screen = screen_under_palette(app)
        for binding in getattr(screen, "BINDINGS", []):
            action = getattr(binding, "action", None)
            name = action.split("(")[0] if action else ""
            if name and hasattr(screen, f"action_{name}") and name != "back":
                yield f"{title_of(screen)}: {binding.description.lower()}", \
                    partial(screen.run_action, action), f"{binding.tooltip or ''} ({keys_label(binding.key)})"
        for member in getattr(app, "local_members", lambda: [])():
            label = member.profile.label
            yield f"local runs on {label}: new run", partial(app.open_local_run, member.name), \
                "an Unsloth recipe, generated and started detached on this machine"
            yield f"local runs on {label}: adopt a run started by hand", partial(app.adopt_local_run, member.name), \
                "watch a training started outside the app: point at its log file or output folder"
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
