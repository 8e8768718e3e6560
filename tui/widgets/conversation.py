"""The selected record twice: as it is in the file, and as Bailian will train on it."""

from __future__ import annotations

import json

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from bailian_tui.core.data.preview import Preview

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


class RawView(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static(id="raw-text")

    def show(self, preview: Preview) -> None:
        body = self.query_one("#raw-text", Static)
        if preview.source is None:
            body.update(Text(f"line {preview.line}: cannot be read", style="red"))
            return
        text = json.dumps(preview.source, ensure_ascii=False, indent=2)
        body.update(Syntax(text, "json", word_wrap=True, theme="ansi_dark", background_color="default"))


class ConversationView(VerticalScroll):
    """ChatML as a conversation: one block per message, its tokens, and every finding of the record."""

    def show(self, preview: Preview) -> None:
        self.remove_children()
        blocks: list[Static] = []
        verdict = "[b green]ok[/]" if preview.ok else "[b red]will not train[/]"
        length_style = "b red" if preview.too_long else "green"
        counted = f"[{length_style}]{preview.total_tokens} tokens[/]" if preview.counted else "counting tokens…"
        blocks.append(Static(f"line {preview.line} · {verdict} · {counted} / max_length {preview.max_length}",
                             classes="preview-head"))
        for finding in preview.findings:
            hint = f" — {finding.hint}" if finding.hint else ""
            blocks.append(Static(Text.assemble((f"{finding.severity}: ", SEVERITY_STYLE[finding.severity]),
                                               finding.message, (hint, "dim")), classes="finding"))
        if preview.converted is not None:
            messages = list(preview.converted.get("messages") or [])
            for key in ("chosen", "rejected"):
                if isinstance(preview.converted.get(key), dict):
                    messages.append({**preview.converted[key], "role": f"{key} (assistant)"})
            for i, message in enumerate(messages):
                role = str(message.get("role", "?"))
                tokens = preview.message_tokens[i] if i < len(preview.message_tokens) else None
                trained = " · trained" if role.startswith(("assistant", "chosen")) else ""
                head = f"{role} · {tokens} tokens{trained}" if tokens is not None else role
                content = message.get("content")
                if isinstance(content, list):
                    content = "\n".join(p.get("text") or f"[image] {p.get('image')}" for p in content
                                        if isinstance(p, dict))
                block = Static(Text(str(content)), classes=f"message role-{role.split(' ')[0]}")
                block.border_title = head
                blocks.append(block)
        self.mount_all(blocks)
        self.scroll_home(animate=False)
