"""The selected record twice: as it is in the file, and as Bailian will train on it."""

from __future__ import annotations

import json

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from bailian_tui.core.data.preview import Preview

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


class RawView(ScrollView):
    """The record as it is in the file, painted line by line: a move in the record list repaints this view
    and changes its virtual size without a layout pass of the screen (it was a Static in a VerticalScroll,
    whose new height re-laid out the whole screen on every Down)."""

    DEFAULT_CSS = """
    RawView { overflow-x: hidden; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._body: RenderableType = ""
        self._lines: list[Strip] = []
        self._width = -1  # the width the lines were wrapped at

    def show(self, preview: Preview) -> None:
        if preview.source is None:
            self._body = Text(f"line {preview.line}: cannot be read", style="red")
        else:
            text = json.dumps(preview.source, ensure_ascii=False, indent=2)
            self._body = Syntax(text, "json", word_wrap=True, theme="ansi_dark", background_color="default")
        self._width = -1
        self._wrap()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def _wrap(self) -> None:
        """Wrap the body to the room there is: the whole width, or less a scrollbar when it is taller."""
        if not self.container_size:
            return
        width, height = self.container_size
        bar = self.styles.scrollbar_size_vertical
        lines = self._render(width)
        if len(lines) > height and bar:
            width -= bar
            lines = self._render(width)
        self._lines, self._width = lines, width
        size = Size(width, len(lines))
        if size != self.virtual_size:
            # Not the reactive (it asks the screen for a layout pass): this view's place on screen is fixed,
            # only what scrolls inside it changes.
            self.set_reactive(Widget.virtual_size, size)
            self._scroll_update(size)

    def _render(self, width: int) -> list[Strip]:
        console = self.app.console
        options = console.options.update(width=max(width, 1), height=None, highlight=False)
        return [Strip(line, width) for line in console.render_lines(self._body, options, pad=True)]

    def on_resize(self) -> None:
        self._width = -1
        self._wrap()

    def render_line(self, y: int) -> Strip:
        if self._width < 0:
            self._wrap()
        width = self.scrollable_content_region.width
        row = self.scroll_offset.y + y
        base = self.rich_style
        if row >= len(self._lines):
            return Strip.blank(width, base)
        return self._lines[row].apply_style(base).crop_extend(0, width, base)


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
