"""Try a model: an editable system prompt, the conversation so far, streamed replies, errors inline."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Static

from bailian_tui.tui.keymap import KEYMAP
from bailian_tui.tui.failures import FAILED
from bailian_tui.tui.screens.base import BaseScreen


class ChatScreen(BaseScreen):
    TITLE_TEXT = "Try it"
    BINDINGS = KEYMAP["chat"]

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model
        self.history: list[dict] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label("model", classes="form-label")
            yield Input(self.model, id="chat-model", compact=True)
        with Horizontal(classes="form-row"):
            yield Label("system prompt", classes="form-label")
            yield Input("", placeholder="(none)", id="chat-system", compact=True)
        yield VerticalScroll(id="chat-log")
        yield Input(placeholder="message — enter sends", id="chat-input")

    def on_mount(self) -> None:
        self.query_one("#chat-input", Input).focus()

    def _add(self, role: str, text: str, style: str = "") -> Static:
        block = Static(Text(text, style=style), classes=f"message role-{role}")
        block.border_title = role
        self.query_one("#chat-log", VerticalScroll).mount(block)
        self.query_one("#chat-log", VerticalScroll).scroll_end(animate=False)
        return block

    @on(Input.Submitted, "#chat-input")
    def _send(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        event.input.value = ""
        self.history.append({"role": "user", "content": text})
        self._add("user", text)
        self._reply(self.query_one("#chat-model", Input).value.strip(), list(self.history))

    @work(exclusive=True, group="chat", exit_on_error=False)
    async def _reply(self, model: str, history: list[dict]) -> None:
        system = self.query_one("#chat-system", Input).value.strip()
        messages = ([{"role": "system", "content": system}] if system else []) + history
        block = self._add("assistant", "…")
        parts: list[str] = []

        async def stream(service) -> None:
            async for piece in service.platform.chat_stream(model, messages):
                parts.append(piece)
                block.update(Text("".join(parts)))
                self.query_one("#chat-log", VerticalScroll).scroll_end(animate=False)

        # The error shows inline, in the reply's place.
        if await self.app.run_core(stream, show=lambda err: block.update(Text(err.human(), style="red"))) is FAILED:
            self.history.pop()  # the question was not answered: it can be asked again
            return
        self.history.append({"role": "assistant", "content": "".join(parts)})

    def action_clear(self) -> None:
        self.history.clear()
        self.query_one("#chat-log", VerticalScroll).remove_children()
