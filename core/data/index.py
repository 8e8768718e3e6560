"""Random access to the records of a file, for the browser: a line-offset index built in the background.

A JSONL file is never loaded: the index holds one 8-byte offset per line (a 300 MB file of 1 KB lines
costs ~2.5 MB), built by scanning fixed-size chunks with ``bytes.find`` so memory stays flat; any record
is then one seek and one parse away. The first records are readable before the index is finished.
Other formats (JSON arrays, CSV, XLSX) are read item by item into memory: they are small in practice.
"""

from __future__ import annotations

import bisect
import threading
import time
from array import array
from itertools import accumulate, count
from operator import add
from pathlib import Path
from typing import Callable

import orjson

from bailian_tui.core.data.readers import Item, Problem, check_path, file_kind, read_items

CHUNK = 8 * 1024 * 1024  # search window
READ = 1024 * 1024  # index read size


class RecordSource:
    def __init__(self, path: str | Path) -> None:
        self.path = check_path(path)
        self.size = self.path.stat().st_size
        self.kind = file_kind(self.path)
        self._lock = threading.Lock()
        self._offsets = array("Q", [0])  # start of each line; one past the last line's end is appended
        self._items: list[Item | Problem] = []
        self.done = False
        self.cancelled = False

    # -- building ------------------------------------------------------------------------------------

    def build(self, on_progress: Callable[[int, int], None] | None = None) -> None:
        """Index the file (call from a worker thread). Readers may use what is ready while it runs."""
        if self.kind == "jsonl":
            self._build_lines(on_progress)
        else:
            for item in read_items(self.path):
                if self.cancelled:
                    return
                with self._lock:
                    self._items.append(item)
        self.done = True
        if on_progress:
            on_progress(self.size, self.size)

    def _build_lines(self, on_progress) -> None:
        # Offsets come from C-level iterators over split() (no Python bytecode per line), in 1 MB reads:
        # the GIL is never held for long, so the UI thread stays responsive while this runs.
        with open(self.path, "rb") as handle:
            base = 0
            while not self.cancelled:
                chunk = handle.read(READ)
                if not chunk:
                    break
                # The i-th newline of the chunk sits at sum(len(parts[:i+1])) + i; the next line starts after it.
                parts = chunk.split(b"\n")
                found = array("Q", map(add, accumulate(map(len, parts[:-1])), count(base + 1)))
                base += len(chunk)
                with self._lock:
                    self._offsets.extend(found)
                if on_progress:
                    on_progress(base, self.size)
                time.sleep(0)  # let the UI thread in
            with self._lock:
                if self._offsets[-1] != self.size:  # a last line without a newline
                    self._offsets.append(self.size)

    def describe(self) -> tuple[int, str | None]:
        """(records, detected converter name) without keeping the file: for a quick look from the tree.

        JSONL lines are counted in 1 MB reads and only the first 50 are parsed; other formats are read whole.
        """
        from bailian_tui.core.data.preview import detect

        if self.kind == "jsonl":
            with open(self.path, "rb") as handle:
                count = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
            self.build_head(50)
        else:
            self.build()
            count = len(self)
        found = detect([self.get(i) for i in range(min(50, len(self)))])
        return count, found.name if found else None

    def build_head(self, lines: int) -> None:
        """Index only the first ``lines`` lines (a quick look at a file; JSONL only)."""
        with open(self.path, "rb") as handle:
            position = 0
            for _ in range(lines):
                raw = handle.readline()
                if not raw:
                    break
                position += len(raw)
                self._offsets.append(position)

    # -- reading -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return len(self._offsets) - 1 if self.kind == "jsonl" else len(self._items)

    def line_of(self, index: int) -> int:
        """The file line a record starts on (1-based)."""
        if self.kind == "jsonl":
            return index + 1
        item = self._items[index]
        return item.line

    def index_of_line(self, line: int) -> int | None:
        if self.kind == "jsonl":
            return line - 1 if 0 < line <= len(self) else None
        lines = [item.line for item in self._items]
        position = bisect.bisect_left(lines, line)
        return position if position < len(lines) and lines[position] == line else None

    def raw(self, index: int) -> bytes:
        with self._lock:
            start, end = self._offsets[index], self._offsets[index + 1]
        with open(self.path, "rb") as handle:
            handle.seek(start)
            return handle.read(end - start)

    def get(self, index: int) -> Item | Problem:
        if self.kind != "jsonl":
            return self._items[index]
        raw = self.raw(index)
        line = index + 1
        if index == 0 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            return Problem(line, "blank line", "remove blank lines: the upload check rejects them", "blank")
        try:
            return Item(line, orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            return Problem(line, f"invalid JSON: {str(exc).split(':')[0]}", "fix or remove this line", "json")

    def preview(self, index: int, width: int = 200) -> str:
        """One line of text for the list: the raw record, squeezed."""
        if self.kind == "jsonl":
            text = self.raw(index)[: width * 4].decode("utf-8", "replace")
        else:
            item = self._items[index]
            text = item.message if isinstance(item, Problem) else orjson.dumps(item.record).decode()[: width * 4]
        return " ".join(text.split())[:width]

    def find(self, needle: str, start: int = 0) -> int | None:
        """The first record at or after ``start`` whose raw text contains ``needle`` (wrapping around)."""
        total = len(self)
        if not needle or not total:
            return None
        if self.kind != "jsonl":
            folded = needle.casefold()
            for step in range(total):
                index = (start + step) % total
                if folded in self.preview(index, 10**9).casefold():
                    return index
            return None
        target = needle.encode()
        with self._lock:
            offsets = self._offsets
            origin = offsets[min(start, total - 1)]
        for begin, end in ((origin, offsets[-1]), (0, origin)):
            hit = self._find_bytes(target, begin, end)
            if hit is not None:
                with self._lock:
                    return max(bisect.bisect_right(self._offsets, hit) - 1, 0)
        return None

    def _find_bytes(self, target: bytes, begin: int, end: int) -> int | None:
        overlap = len(target) - 1
        with open(self.path, "rb") as handle:
            position = begin
            while position < end:
                handle.seek(position)
                chunk = handle.read(min(CHUNK, end - position) + overlap)
                hit = chunk.find(target)
                if hit != -1:
                    return position + hit
                position += CHUNK
        return None

