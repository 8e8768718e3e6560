"""A virtual list of a file's records: only the rows on screen are ever read or rendered."""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from bailian_tui.core.data.index import RecordSource


class RecordList(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    RecordList { height: 1fr; overflow-x: hidden; }
    """
    COMPONENT_CLASSES = {"recordlist--cursor", "recordlist--number", "recordlist--flagged"}
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False, id="records-up"),
        Binding("down", "move(1)", "Down", show=False, id="records-down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="records-pageup"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="records-pagedown"),
        Binding("home", "goto(0)", "First", show=False, id="records-first"),
        Binding("end", "goto(-1)", "Last", show=False, id="records-last"),
    ]

    # No repaint of the whole list on a move: watch_cursor repaints the two rows that change.
    cursor: reactive[int] = reactive(0, init=False, repaint=False)

    @dataclass
    class Highlighted(Message):
        record_list: "RecordList"
        index: int  # the record's index in the source

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.source: RecordSource | None = None
        self.rows: list[int] | None = None  # a filter: the record indices to show, or None for all
        self.flagged: set[int] = set()
        self._known = 0
        self._base: Style | None = None  # the list's own style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None

    # -- data ------------------------------------------------------------------------------------------

    def show(self, source: RecordSource) -> None:
        self.source, self.rows, self.flagged = source, None, set()
        self.cursor = 0
        self.sync()
        self._announce()

    def sync(self) -> None:
        """Pick up records the background index has found since the last look."""
        total = self.row_count
        if total != self._known:
            self._known = total
            size = Size(0, total)  # rows are cut to the width: no sideways scrolling
            if size != self.virtual_size:
                # Not the reactive, which asks the screen for a layout pass: the list's place is fixed, only what
                # scrolls inside it grows (4 times a second while a big file is indexed). A scrollbar that
                # appears still lays the screen out (Textual's show_vertical_scrollbar does).
                self.set_reactive(RecordList.virtual_size, size)
                self._scroll_update(size)
            self.refresh()

    @property
    def row_count(self) -> int:
        if self.source is None:
            return 0
        return len(self.rows) if self.rows is not None else len(self.source)

    def index_at(self, row: int) -> int:
        return self.rows[row] if self.rows is not None else row

    @property
    def current(self) -> int | None:
        return self.index_at(self.cursor) if self.row_count else None

    def set_filter(self, rows: list[int] | None) -> None:
        current = self.current
        self.rows = rows
        self._known = -1
        self.sync()
        if rows is not None and current is not None and current in rows:
            self.cursor = rows.index(current)
        else:
            self.cursor = 0
        self._announce()

    def select_index(self, index: int) -> bool:
        """Move the cursor to a record by its index in the source (clearing a filter that hides it)."""
        if self.rows is not None and index not in self.rows:
            self.set_filter(None)
        if not 0 <= index < self.row_count and self.rows is None:
            return False
        self.cursor = self.rows.index(index) if self.rows is not None else index
        return True

    # -- rendering -------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        if self.source is None or row >= self.row_count:
            return Strip.blank(width, self.rich_style)
        index = self.index_at(row)
        number = f"{self.source.line_of(index) if self.source.kind != 'jsonl' else index + 1:>8} "
        mark = "!" if index in self.flagged else " "
        text = self.source.preview(index, max(width * 2, 40))
        if self._base is None:
            self._base = self.rich_style  # walks every ancestor: once per style change, not once per line
        base = self.get_component_rich_style("recordlist--cursor") if row == self.cursor else self._base
        segments = [Segment(number, base + self.get_component_rich_style("recordlist--number")),
                    Segment(mark, base + self.get_component_rich_style("recordlist--flagged")),
                    Segment(" " + text, base)]
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, base)

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh(Region(0, old - self.scroll_offset.y, self.size.width, 1))
        self.refresh(Region(0, new - self.scroll_offset.y, self.size.width, 1))
        self.scroll_to_region(Region(0, new, 1, 1), animate=False, force=True)
        self._announce()

    def _announce(self) -> None:
        if self.current is not None:
            self.post_message(self.Highlighted(self, self.current))

    # -- keys ------------------------------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        if self.row_count:
            self.cursor = max(0, min(self.row_count - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(self.size.height - 1, 1))

    def action_goto(self, row: int) -> None:
        if self.row_count:
            self.cursor = row if row >= 0 else self.row_count - 1

    def on_click(self, event) -> None:
        row = event.y + self.scroll_offset.y
        if 0 <= row < self.row_count:
            self.cursor = row
