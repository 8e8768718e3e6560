"""The selected record twice: as it is in the file, and as Bailian will train on it."""

from __future__ import annotations

import json

from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.syntax import Syntax
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.visual import Visual, visualize
from textual.widget import Widget

from bailian_tui.core.data.preview import Preview

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
# A message's border colour by its role (the first word: "chosen (assistant)" is drawn as an assistant's).
ROLE_CLASS = {"system": "conversation--system", "user": "conversation--user", "assistant": "conversation--assistant",
              "chosen": "conversation--assistant", "rejected": "conversation--rejected"}


@dataclass
class Block:
    kind: str  # its component class: conversation--head, --finding, or the message border's
    content: object  # markup (the head) or Text
    title: str | None = None  # a message's role and tokens; None for the head and findings


class LinesView(ScrollView):
    """A view that lays its content out as lines once per change (and on resize) and paints them from that list:
    showing something new repaints the view and sets its virtual size without a layout pass of the screen.
    Subclasses say what the lines are (`_render`) and call `_relayout` when the content changes."""

    DEFAULT_CSS = """
    LinesView { overflow-x: hidden; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines: list[Strip] = []
        self._width = -1  # the width the lines were laid out at; -1: not laid out yet
        self._barred = False  # the last layout needed a vertical scrollbar
        self._base: RichStyle | None = None  # the view's own style, looked up once per style change

    def _render(self, width: int) -> list[Strip]:
        raise NotImplementedError

    def _relayout(self) -> None:
        self._width = -1
        self._wrap()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def _wrap(self) -> None:
        """Lay out to the room there is: the whole width, or less a scrollbar when it is taller. The width that
        fitted the previous content is tried first (records alike are alike): one layout per move, not two."""
        if not self.container_size:
            return
        width, height = self.container_size
        bar = self.styles.scrollbar_size_vertical
        if bar and self._barred:
            lines = self._render(width - bar)
            if len(lines) > height:
                width -= bar
            else:
                lines = self._render(width)
        else:
            lines = self._render(width)
            if bar and len(lines) > height:
                width -= bar
                lines = self._render(width)
        if self._base is None:
            self._base = self.rich_style  # walks every ancestor: once per style change, not once per line
        base = self._base
        lines = [line.apply_style(base) for line in lines]  # once here, not on every frame
        self._lines, self._width, self._barred = lines, width, width < self.container_size.width
        size = Size(width, len(lines))
        if size != self.virtual_size:
            # Not the reactive (it asks the screen for a layout pass): this view's place on screen is fixed,
            # only what scrolls inside it changes. (A scrollbar that comes or goes still lays it out.)
            self.set_reactive(Widget.virtual_size, size)
            self._scroll_update(size)

    def on_resize(self) -> None:
        self._width = -1
        self._wrap()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None
        if self._width >= 0:  # colours are baked into the lines: lay them out again with the new ones
            self._width = -1
            self.refresh()

    @property
    def text(self) -> str:
        """What the view shows, as plain text (every line, also those scrolled out of sight)."""
        if self._width < 0:
            self._wrap()
        return "\n".join(strip.text.rstrip() for strip in self._lines)

    def render_line(self, y: int) -> Strip:
        if self._width < 0:
            self._wrap()
        base = self._base if self._base is not None else self.rich_style
        width = self.scrollable_content_region.width
        row = self.scroll_offset.y + y
        if row >= len(self._lines):
            return Strip.blank(width, base)
        line = self._lines[row]
        return line if line.cell_length == width else line.crop_extend(0, width, base)


class RawView(LinesView):
    """The record as it is in the file. (It was a Static in a VerticalScroll, whose new height re-laid out the
    whole screen on every Down.)"""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._body: RenderableType = ""

    def show(self, preview: Preview) -> None:
        if preview.source is None:
            self._body = Text(f"line {preview.line}: cannot be read", style="red")
        else:
            text = json.dumps(preview.source, ensure_ascii=False, indent=2)
            self._body = Syntax(text, "json", word_wrap=True, theme="ansi_dark", background_color="default")
        self._relayout()

    def _render(self, width: int) -> list[Strip]:
        console = self.app.console
        options = console.options.update(width=max(width, 1), height=None, highlight=False)
        return [Strip(line, width) for line in console.render_lines(self._body, options, pad=True)]


class ConversationView(LinesView):
    """ChatML as a conversation: a head line, every finding of the record, and one bordered block per message
    with its role and tokens in the border — painted line by line like `RawView`. (It was a VerticalScroll of
    one Static per block: their heights change from one record to the next, so every move in the record list
    cost a layout pass of the screen.)"""

    COMPONENT_CLASSES = {"conversation--head", "conversation--message",
                         "conversation--system", "conversation--user", "conversation--assistant",
                         "conversation--rejected"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._blocks: list[Block] = []

    # -- what is shown ---------------------------------------------------------------------------------

    def show(self, preview: Preview) -> None:
        blocks: list[Block] = []
        verdict = "[b green]ok[/]" if preview.ok else "[b red]will not train[/]"
        length_style = "b red" if preview.too_long else "green"
        counted = f"[{length_style}]{preview.total_tokens} tokens[/]" if preview.counted else "counting tokens…"
        blocks.append(Block("conversation--head",
                            f"line {preview.line} · {verdict} · {counted} / max_length {preview.max_length}"))
        for finding in preview.findings:
            hint = f" — {finding.hint}" if finding.hint else ""
            blocks.append(Block("conversation--finding",
                                Text.assemble((f"{finding.severity}: ", SEVERITY_STYLE[finding.severity]),
                                              finding.message, (hint, "dim"))))
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
                blocks.append(Block(ROLE_CLASS.get(role.split(" ")[0], "conversation--message"), Text(str(content)),
                                    head))
        self._blocks = blocks
        self._relayout()

    @property
    def titles(self) -> list[str]:
        """The messages' titles (role · tokens), in order."""
        return [block.title for block in self._blocks if block.title is not None]

    # -- painting --------------------------------------------------------------------------------------

    def _render(self, width: int) -> list[Strip]:
        lines: list[Strip] = []
        for block in self._blocks:
            if block.title is None:  # the head and findings: one cell of padding each side
                style = self.get_visual_style(block.kind) if block.kind == "conversation--head" else self.visual_style
                lines.extend(self._padded(block.content, width - 2, style))
            else:  # a message: a rounded border in the role's colour, its title in the top edge, padded inside
                border = self.get_visual_style(block.kind).rich_style
                style = self.visual_style
                inner = width - 2
                lines.append(self._edge("╭", "╮", inner, border, block.title))
                for line in self._padded(block.content, inner - 2, style):
                    lines.append(Strip([Segment("│", border), *line, Segment("│", border)], width).simplify())
                lines.append(self._edge("╰", "╯", inner, border, None))
        return lines

    def _padded(self, content, width: int, style: VisualStyle) -> list[Strip]:
        """The content wrapped as a Static wraps it, with one cell of padding each side."""
        width = max(width, 1)
        pad = (style + VisualStyle(reverse=False)).rich_style  # what Textual pads a line with
        visual = visualize(self, content)
        strips = Visual.to_strips(self, visual, width, None, style, pad=True) or [Strip.blank(width, pad)]
        return [Strip([Segment(" ", pad), *strip, Segment(" ", pad)], width + 2).simplify() for strip in strips]

    @staticmethod
    def _edge(left: str, right: str, inner: int, style: RichStyle, title: str | None) -> Strip:
        """A top or bottom edge; a title sits after one line cell, a space either side, cut with … to fit."""
        if title and inner > 2:  # as Textual draws a border_title
            cut = Text(title, no_wrap=True)
            cut.truncate(inner - 2, overflow="ellipsis")
            label = f" {cut.plain} "
            room = inner - cell_len(label)
            middle = "─" + label + "─" * (room - 1) if room > 0 else label
        else:
            middle = "─" * max(inner, 0)
        return Strip([Segment(left + middle + right, style)])
