"""The dataset browser: a folder tree, a file's records, and the selected record before and after conversion."""

from __future__ import annotations

import time
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DirectoryTree, Select, Static

from bailian_tui.tui.keymap import KEYMAP
from bailian_tui.core.data import converters
from bailian_tui.core.data.converters import medqa
from bailian_tui.core.data.converters.chat import ChatOptions
from bailian_tui.core.data.errors import DataFileError
from bailian_tui.core.data.index import RecordSource
from bailian_tui.core.data.preview import Preview, detect, preview
from rich.text import Text

from bailian_tui.tui.format import escape, local_name, local_text, middle, size_text
from bailian_tui.tui.screens.base import BaseScreen
from bailian_tui.tui.screens.prompt import PromptScreen
from bailian_tui.tui.widgets.conversation import ConversationView, RawView
from bailian_tui.tui.widgets.histogram import Histogram
from bailian_tui.tui.widgets.records import RecordList

TEMPLATES = {"zh": ("中文 (documented)", medqa.MedQATemplate()), "en": ("English", medqa.ENGLISH)}
FRAME_SECONDS = 1 / 60  # Textual paints at most this often
DATA_SUFFIXES = {".jsonl", ".json", ".csv", ".tsv", ".xlsx"}


class DataTree(DirectoryTree):
    def process_label(self, label):
        """Every label is a name from disk: shown as it is (``train[v2]``), its control bytes visible."""
        return super().process_label(Text(local_text(label)) if isinstance(label, str) else label)

    def filter_paths(self, paths):
        return [p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in DATA_SUFFIXES)]

    def render_label(self, node, base_style, style):
        """A name wider than the pane is shortened in the middle, so both ends stay (`样例_内科…1020.csv` and
        `样例_内科…head40.csv` are told apart); the peek line under the tree has the whole name."""
        text = super().render_label(node, base_style, style)
        depth, parent = 0, node.parent
        while parent is not None:
            depth, parent = depth + 1, parent.parent
        room = self.scrollable_content_region.width - depth * self.guide_depth
        if room <= 4 or text.cell_len <= room:
            return text
        short = middle(text.plain, room)
        if "…" in text.plain:  # a name with an ellipsis of its own: shortened all the same, unstyled
            return Text(short, style=base_style)
        head = short.index("…")  # keep the styles of both ends (icon, folder/file, extension)
        tail = len(short) - head - 1
        return text[:head] + Text("…", style=base_style) + text[len(text.plain) - tail:]


class DatasetsScreen(BaseScreen):
    TITLE_TEXT = "Datasets"
    BINDINGS = KEYMAP["datasets"]

    class Indexed(Message):
        def __init__(self, source: RecordSource) -> None:
            super().__init__()
            self.source = source

    def __init__(self, root: Path | None = None, open_file: Path | None = None) -> None:
        super().__init__()
        self.root = root
        self.open_file = open_file
        self.source: RecordSource | None = None
        self.converter: converters.Converter | None = None
        self.detected: converters.Converter | None = None
        self.template = "zh"
        self.last_search = ""
        self._pending_preview: int | None = None
        self._shown: tuple[RecordSource | None, int] | None = None  # the file and record the preview shows
        self._shown_at = 0.0  # when (time.monotonic)
        self._recount = None  # the timer that shows token counts once the vocabulary is loaded
        self._progress: str | None = None  # indexing progress not shown yet (see indexing_progress)
        self.last_output: Path | None = None

    # -- layout ----------------------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        root = self.root or self.app.datasets_root()
        with Horizontal(id="browser"):
            with Vertical(id="tree-pane"):
                yield DataTree(root, id="tree")
                yield Static("", id="peek")
            with Vertical(id="records-pane"):
                yield Static("Pick a file in the tree (enter).", id="file-info")
                with Horizontal(id="converter-bar"):
                    yield Select([("auto", "auto")] + [(name, name) for name in converters.CONVERTERS],
                                 value="auto", allow_blank=False, id="format", prompt="format", compact=True)
                    yield Select([(label, key) for key, (label, _) in TEMPLATES.items()], value="zh",
                                 allow_blank=False, id="template", compact=True)
                yield RecordList(id="records")
                with Horizontal(id="preview"):
                    yield RawView(id="raw")
                    yield ConversationView(id="conversation")
                yield Histogram(id="histogram", classes="hidden")

    def on_mount(self) -> None:
        # A move shows its record from inside the key's own handler, so the cursor and the record reach the
        # screen in one frame. (Through the list's Highlighted message the screen drew the cursor alone first:
        # the message bubbles up a queue at a time, the screen went idle in between, and the record waited for
        # the next frame slot, ~17 ms later.)
        self.watch(self.query_one("#records", RecordList), "cursor", self._cursor_moved, init=False)
        opened = self.open_file or self.app.open_path
        if opened is not None and opened.is_file():
            self.open(opened)

    # -- opening a file --------------------------------------------------------------------------------

    @on(DirectoryTree.NodeHighlighted)
    def _peek(self, event: DirectoryTree.NodeHighlighted) -> None:
        data = event.node.data
        path = getattr(data, "path", None)
        if path is not None and Path(path).is_file():
            self.query_one("#peek", Static).update(Text(f"{local_name(path)}: counting…"))
            self._describe(Path(path))
        else:
            self.query_one("#peek", Static).update("")

    @work(thread=True, exclusive=True, group="peek", exit_on_error=False)
    def _describe(self, path: Path) -> None:
        try:
            source = RecordSource(path)
            count, fmt = source.describe()
        except (DataFileError, OSError) as err:
            text = Text(f"{local_name(path)}: {local_text(err.message if isinstance(err, DataFileError) else err)}")
        else:
            kind = converters.get(fmt).kind if fmt else ""
            shown = f"{fmt} → {kind}" if fmt else "unknown format"
            text = Text(f"{local_name(path)}\n{source.kind} · {size_text(source.size)} · {count:,} records · {shown}")
        self.app.call_from_thread(self.query_one("#peek", Static).update, text)

    @on(DirectoryTree.FileSelected)
    def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.open(Path(event.path))

    def open(self, path: Path) -> None:
        if self.source is not None:
            self.source.cancelled = True
        try:
            source = RecordSource(path)
        except DataFileError as err:
            self.notify(local_text(err), severity="error", timeout=8, markup=False)
            return
        self.source, self._progress = source, None
        self.index_seconds: float | None = None
        self._opened_at = time.perf_counter()
        self.query_one("#histogram", Histogram).add_class("hidden")
        self._info("indexing…")
        self.query_one("#records", RecordList).show(source)
        self._index(source)
        self.set_timer(0.05, self._first_look)
        if self.size.width < 100:
            self.query_one("#tree-pane").display = False
        self.query_one("#records", RecordList).focus()

    def _first_look(self) -> None:
        """Detect the format from the first records as soon as they are indexed."""
        source, records = self.source, self.query_one("#records", RecordList)
        if source is None:
            return
        records.sync()
        if len(source) >= 50 or source.done:
            self.detected = detect([source.get(i) for i in range(min(50, len(source)))])
            self._apply_format()
        else:
            self.set_timer(0.05, self._first_look)

    @work(thread=True, exclusive=True, group="index", exit_on_error=False)
    def _index(self, source: RecordSource) -> None:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] > 0.25:  # each report is a frame (~10 ms in tmux) that a key press may wait behind
                last[0] = now
                self.app.call_from_thread(self.indexing_progress, source, done, total)

        source.build(progress)
        self.app.call_from_thread(self.post_message, self.Indexed(source))

    def indexing_progress(self, source: RecordSource, done: int, total: int) -> None:
        """The index worker's report (4 times a second). While the user is pressing keys it is shown with the
        next move's frame: a frame of its own was one that a key could land behind (and then wait for the next
        1/60 s slot after it) — in tmux traces, some of the slowest moves of `bailian-tui BIG.jsonl`."""
        if source is not self.source:
            return
        self._progress = f"indexing {done * 100 // max(total, 1)}% · {len(source):,} records so far"
        if not self.app.user_active():
            self._show_progress()

    def _show_progress(self) -> None:
        if self._progress is not None:
            text, self._progress = self._progress, None
            self.query_one("#records", RecordList).sync()
            self._info(text)

    @on(Indexed)
    def _indexed(self, message: Indexed) -> None:
        if message.source is self.source:
            self._progress = None
            self.index_seconds = time.perf_counter() - self._opened_at
            self.query_one("#records", RecordList).sync()
            self._info()

    def _info(self, state: str = "") -> None:
        source = self.source
        if source is None:
            return
        fmt = self.converter.name if self.converter else "unknown format"
        kind = f" → {self.converter.kind}" if self.converter else ""
        detail = state or f"{len(source):,} records"
        # One line whatever it says (its height is fixed): no layout pass of the screen, which cost 20–70 ms ten
        # times a second while a big file was indexed, and moves in the record list waited behind it.
        self.query_one("#file-info", Static).update(Text.assemble(
            (local_name(source.path), "bold"), f" · {source.kind} · {size_text(source.size)} · {fmt}{kind} · {detail}"),
            layout=False)

    # -- format and template -------------------------------------------------------------------------

    @on(Select.Changed, "#format")
    def _format_changed(self, event: Select.Changed) -> None:
        self._apply_format()

    @on(Select.Changed, "#template")
    def _template_changed(self, event: Select.Changed) -> None:
        self.template = str(event.value)
        self._refresh_preview()

    def _apply_format(self) -> None:
        choice = self.query_one("#format", Select).value
        self.converter = self.detected if choice == "auto" else converters.get(str(choice))
        self._info()
        self._refresh_preview()

    def options(self) -> ChatOptions:
        return ChatOptions(template=TEMPLATES[self.template][1])

    def max_length(self) -> int:
        return int(self.app.settings.get("validation.max_length"))

    # -- preview ---------------------------------------------------------------------------------------

    def _cursor_moved(self) -> None:
        current = self.query_one("#records", RecordList).current
        if current is None:
            return
        if self._pending_preview is not None or time.monotonic() - self._shown_at < FRAME_SECONDS:
            # Keys come faster than records can be shown (a key held down on a busy machine): the cursor is
            # drawn at once and only the record it stops on is previewed.
            self._queue_preview(current)
        else:
            self._show(current)

    @on(RecordList.Highlighted)
    def _highlighted(self, message: RecordList.Highlighted) -> None:
        # Also sent for a new file or filter; a move's own message comes after its record is shown.
        if (self.source, message.index) != self._shown:
            self._queue_preview(message.index)

    def _queue_preview(self, index: int | None) -> None:
        # Built once the messages already queued for the screen are handled: a key held down while the app is
        # behind previews only the record it stops on, never every record it passed.
        first = self._pending_preview is None
        self._pending_preview = index
        if first and index is not None:
            self.call_later(self._show_pending)

    def _show_pending(self) -> None:
        index, self._pending_preview = self._pending_preview, None
        if index is not None:
            self._show(index)

    def _recount_preview(self) -> None:
        from bailian_tui.core.data import tokens

        if not tokens.loaded():  # look again later; the preview is only redrawn once counts can be shown
            self._recount = self.set_timer(0.2, self._recount_preview)
            return
        self._recount = None
        self._refresh_preview()

    def _refresh_preview(self) -> None:
        current = self.query_one("#records", RecordList).current
        if current is not None:
            self._show(current)

    def _show(self, index: int) -> None:
        if self.source is None or index >= len(self.source):
            return
        from bailian_tui.core.data import tokens

        ready = tokens.loaded()
        shown: Preview = preview(self.source.get(index), self.converter, self.options(), self.max_length(),
                                 count=ready)
        if not ready and self._recount is None:  # never block a key press on loading the vocabulary: show the
            self._recount = self.set_timer(0.2, self._recount_preview)  # counts when it is there (one timer)
        self.query_one("#raw", RawView).show(shown)
        self.query_one("#conversation", ConversationView).show(shown)
        self._shown = (self.source, index)
        self._shown_at = time.monotonic()
        self._show_progress()  # indexing progress held back while keys were pressed: in this move's frame

    # -- navigation ------------------------------------------------------------------------------------

    def action_toggle_tree(self) -> None:
        pane = self.query_one("#tree-pane")
        pane.display = not pane.display

    def action_jump(self) -> None:
        if self.source is None:
            return

        def go(answer: str | None) -> None:
            text = (answer or "").strip().replace(",", "").replace("_", "")
            if not text:
                return
            if not text.isdigit() or int(text) < 1:
                self.notify(f"'{answer.strip()}' is not a record number: type a whole number from 1 to "
                            f"{len(self.source):,} (Home and End go to the first and the last)", severity="warning")
                return
            number = int(text)
            if not self.query_one("#records", RecordList).select_index(number - 1):
                self.notify(f"there is no record {number:,} (yet: {len(self.source):,} indexed)",
                            severity="warning")

        self.app.push_screen(PromptScreen(f"Go to record (1–{len(self.source):,})"), go)

    def action_search(self) -> None:
        if self.source is None:
            return

        def go(answer: str | None) -> None:
            if answer:
                self.last_search = answer
                self.action_search_next()

        self.app.push_screen(PromptScreen("Find text", self.last_search), go)

    def action_search_next(self) -> None:
        records = self.query_one("#records", RecordList)
        if self.source is None:
            return
        if not self.last_search:
            self.notify("/ finds text first", severity="warning")
            return
        current = records.current
        self._info(f"finding '{escape(self.last_search)}'…")
        self._find(self.source, self.last_search, current)

    @work(thread=True, exclusive=True, group="find", exit_on_error=False)
    def _find(self, source: RecordSource, needle: str, current: int | None) -> None:
        # Off the event loop: in a 400 MB file a search reads up to the whole file.
        total = len(source)
        start = current + 1 if current is not None and current + 1 < total else 0
        hit = source.find(needle, start)
        self.app.call_from_thread(self._found, source, needle, current, hit)

    def _found(self, source: RecordSource, needle: str, current: int | None, hit: int | None) -> None:
        if source is not self.source:
            return
        self._info()
        if hit is None:
            self.notify(f"'{local_text(needle)}' not found", severity="warning", markup=False)
            return
        if current is not None and hit <= current:  # past the last match: say so, or it looks like a new one
            self.notify(f"search wrapped to the top: '{local_text(needle)}' in record {hit + 1:,}", markup=False)
        self.query_one("#records", RecordList).select_index(hit)

    # -- whole-file work -------------------------------------------------------------------------------

    def action_filter_findings(self) -> None:
        records = self.query_one("#records", RecordList)
        if self.source is None:
            return
        if records.rows is not None:
            records.set_filter(None)
            self._info()
            return
        self._info("checking every record…")
        self._find_flagged(self.source, self.converter, self.options(), self.max_length())

    @work(thread=True, exclusive=True, group="flagged", exit_on_error=False)
    def _find_flagged(self, source: RecordSource, converter, options, max_length: int) -> None:
        from bailian_tui.core.data.preview import flagged

        found = flagged(source, converter, options, max_length, cancelled=lambda: source is not self.source)
        self.app.call_from_thread(self._flagged, source, found)

    def _flagged(self, source: RecordSource, flagged: list[int]) -> None:
        if source is not self.source:
            return
        records = self.query_one("#records", RecordList)
        records.flagged = set(flagged)
        if not flagged:
            self._info()
            self.notify("no record has findings")
            return
        records.set_filter(flagged)
        self._info(f"{len(flagged):,} of {len(source):,} records have findings (e: show all)")

    def action_stats(self) -> None:
        histogram = self.query_one("#histogram", Histogram)
        if not histogram.has_class("hidden"):
            histogram.add_class("hidden")
            return
        if self.source is None or self.converter is None:
            self.notify("open a file whose format is known first", severity="warning")
            return
        histogram.remove_class("hidden")
        histogram.update("counting tokens of every converted record…")
        self._stats(self.source, self.converter, self.options(), self.max_length())

    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def _stats(self, source: RecordSource, converter, options, max_length: int) -> None:
        from bailian_tui.core.data.preview import converted_stats

        stats = converted_stats(source, converter, options, max_length)
        self.app.call_from_thread(self.query_one("#histogram", Histogram).show, stats)

    def action_convert(self) -> None:
        if self.source is None or self.converter is None:
            self.notify("open a file whose format is known first", severity="warning")
            return
        from bailian_tui.core.data.convert import default_output
        from bailian_tui.tui.screens.convert import ConvertScreen

        def done(result) -> None:
            if result is None:
                return
            output, line = result
            if output:
                self.last_output = Path(output)
                self.query_one("#tree", DirectoryTree).reload()
            if line and self.source is not None:
                index = self.source.index_of_line(line)
                if index is not None:
                    self.query_one("#records", RecordList).select_index(index)

        self.app.push_screen(ConvertScreen(self.source.path, default_output(self.source.path), self.converter,
                                           self.options(), self.max_length()), done)

    def action_upload(self) -> None:
        from bailian_tui.tui.screens.upload import UploadScreen

        target = self.last_output
        if target is None and self.source is not None and self.converter is not None \
                and self.converter.name in ("messages", "dpo", "vl"):
            target = self.source.path  # already Bailian-shaped: upload as it is
        if target is None:
            self.notify("convert the file first (C), or open a Bailian JSONL file", severity="warning")
            return
        from bailian_tui.core.config import ConfigError
        from bailian_tui.core.profiles import profiles

        try:
            every = profiles(self.app.settings)
        except ConfigError:
            every = []
        if len(every) < 2:
            self.app.push_screen(UploadScreen(target, self.max_length()))
            return
        from bailian_tui.tui.screens.choose import ChooseScreen

        # Several providers: the same converted file goes to whichever the user picks (once each).
        self.app.push_screen(ChooseScreen(f"Upload {local_text(target.name)} to", [(p.label, p.name) for p in every]),
                             lambda name: self.app.push_screen(UploadScreen(target, self.max_length(), profile=name))
                             if name else None)
