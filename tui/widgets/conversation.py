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
        # (content, classes, border title) per block; the blocks are reused from one record to the next — a
        # mount per block made every Down in the record list cost a style and layout pass per message.
        blocks: list[tuple[object, str, str | None]] = []
        verdict = "[b green]ok[/]" if preview.ok else "[b red]will not train[/]"
        length_style = "b red" if preview.too_long else "green"
        counted = f"[{length_style}]{preview.total_tokens} tokens[/]" if preview.counted else "counting tokens…"
        blocks.append((f"line {preview.line} · {verdict} · {counted} / max_length {preview.max_length}",
                       "preview-head", None))
        for finding in preview.findings:
            hint = f" — {finding.hint}" if finding.hint else ""
            blocks.append((Text.assemble((f"{finding.severity}: ", SEVERITY_STYLE[finding.severity]),
                                         finding.message, (hint, "dim")), "finding", None))
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
                blocks.append((Text(str(content)), f"message role-{role.split(' ')[0]}", head))
        existing = list(self.query_children(Static))
        new: list[Static] = []
        for i, (content, classes, title) in enumerate(blocks):
            if i < len(existing):
                block = existing[i]
                block.update(content)
                block.set_classes(classes)
                block.display = True
            else:
                block = Static(content, classes=classes)
                new.append(block)
            block.border_title = title
        for block in existing[len(blocks):]:
            block.update("")  # nothing stale left behind, even hidden
            block.border_title = None
            block.display = False
        if new:
            self.mount_all(new)
        self.scroll_home(animate=False)
