"""The footer of every screen: Textual's, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual's Footer removes and rebuilds all its keys whenever a screen's bindings *may* have changed: every
    focus move and every screen switch, the screen being left included — five rebuilds on a first visit, two on
    a return, each 20–90 ms on the 2-core machine (every key is a widget with its own styles). Here a rebuild
    happens only when what the footer would show differs from what it shows: the keys, their labels, whether
    each is enabled, and the palette key."""

    _shown: tuple | None = None

    def _showing(self) -> tuple:
        if not self._bindings_ready:
            return ()
        bindings = self.screen.active_bindings
        keys = tuple((binding.key, binding.action, binding.description, enabled, tooltip or binding.tooltip,
                      binding.group.description if binding.group else None, self.app.get_key_display(binding))
                     for _node, binding, enabled, tooltip in bindings.values() if binding.show)
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            entry = bindings.get(self.app.COMMAND_PALETTE_BINDING)
            if entry is not None:
                _node, binding, enabled, tooltip = entry
                palette = (binding.key, binding.description, enabled, tooltip or binding.tooltip)
        return keys, palette

    def compose(self) -> ComposeResult:
        self._shown = self._showing()
        yield from super().compose()

    async def recompose(self) -> None:
        if self.is_attached and self._shown is not None and self._showing() == self._shown:
            return
        await super().recompose()
