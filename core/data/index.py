"""Random access to the records of a file, for the browser: a line-offset index built in the background.

A JSONL file is never loaded: the index holds one 8-byte offset per line (a 300 MB file of 1 KB lines
costs ~2.5 MB), built by scanning fixed-size chunks with ``bytes.find`` so memory stays flat; any record
is then one seek and one parse away. The first records are readable before the index is finished.
A big file is scanned by a helper process that streams the offsets back: the scan never competes with the
app's own threads for the GIL (in a thread, a 400 MB file took seconds of it, and record-list moves stalled).
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


def _line_starts(chunk: bytes, base: int) -> array:
    """Where the lines after each newline of ``chunk`` (read at file offset ``base``) start.

    C-level iterators over split() (no Python bytecode per line): the i-th newline sits at
    sum(len(parts[:i+1])) + i, and the next line starts one byte after it. _SCANNER repeats this.
    """
    parts = chunk.split(b"\n")
    return array("Q", map(add, accumulate(map(len, parts[:-1])), count(base + 1)))


# The helper process of RecordSource._from_helper: the same scan as _line_starts, standard library only.
# Per read it writes two 8-byte integers (offsets found, bytes covered so far) and then the offsets.
_SCANNER = """
import os
import sys
from array import array
try:
    os.nice(10)  # background work: on a busy machine the app's key presses come first
except (AttributeError, OSError):
    pass
from itertools import accumulate, count
from operator import add
path, base, read = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
try:
    with open(path, "rb") as handle:
        handle.seek(base)
        while True:
            chunk = handle.read(read)
            if not chunk:
                break
            parts = chunk.split(b"\\n")
            found = array("Q", map(add, accumulate(map(len, parts[:-1])), count(base + 1)))
            base += len(chunk)
            out.write(array("Q", [len(found), base]).tobytes() + found.tobytes())
    out.flush()
except (BrokenPipeError, KeyboardInterrupt):
    sys.exit(1)
"""


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

    def build(self, on_progress: Callable[[int, int], None] | None = None, *, helper: bool | None = None) -> None:
        """Index the file (call from a worker thread). Readers may use what is ready while it runs.

        ``helper=False`` scans a JSONL file in this thread only (the default hands all but the first read of a
        big file to a helper process)."""
        if self.kind == "jsonl":
            self._build_lines(on_progress, helper)
        else:
            for item in read_items(self.path):
                if self.cancelled:
                    return
                with self._lock:
                    self._items.append(item)
        self.done = True
        if on_progress:
            on_progress(self.size, self.size)

    def _build_lines(self, on_progress, helper: bool | None = None) -> None:
        """Line offsets: the first read here (the first records show at once), the rest by a helper process
        when the file is bigger than one read (``helper=False``: all in this thread, as a fallback does)."""
        with open(self.path, "rb") as handle:
            base = 0
            if helper is not False and self.size > READ:
                chunk = handle.read(READ)
                self._add(_line_starts(chunk, base))
                base += len(chunk)
                if on_progress:
                    on_progress(base, self.size)
                base = self._from_helper(base, on_progress)
                handle.seek(base)  # anything the helper did not get to (it could not start, or died) is read here
            while not self.cancelled:
                chunk = handle.read(READ)
                if not chunk:
                    break
                self._add(_line_starts(chunk, base))
                base += len(chunk)
                if on_progress:
                    on_progress(base, self.size)
                time.sleep(0)  # let the UI thread in
            with self._lock:
                if self._offsets[-1] != self.size and not self.cancelled:  # a last line without a newline
                    self._offsets.append(self.size)

    def _add(self, found: array) -> None:
        with self._lock:
            self._offsets.extend(found)

    def _from_helper(self, start: int, on_progress) -> int:
        """Offsets of the lines after ``start`` from a helper process; returns how far the file was covered.

        The helper is a bare interpreter (``-I -S``: the standard library only, nothing of the caller's
        environment) running :data:`_SCANNER`; it writes, per read, a header (count, bytes covered) and the
        offsets as native 8-byte integers. It holds no file of ours and dies with us: once this end of its pipe
        closes (we are done, cancelled or gone), its next write fails and it exits. Reading the pipe releases
        the GIL, and a read's offsets are appended with one copy.
        """
        import subprocess
        import sys

        if not sys.executable:
            return start
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _SCANNER, str(self.path), str(start), str(READ)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    close_fds=True)
        except OSError:
            return start  # no helper here: this thread scans the rest
        covered = start
        try:
            pipe = proc.stdout
            while not self.cancelled:
                header = pipe.read(16)
                if len(header) < 16:
                    break
                found, until = array("Q"), array("Q")
                until.frombytes(header)
                payload = pipe.read(until[0] * 8)
                if len(payload) < until[0] * 8:
                    break
                found.frombytes(payload)
                self._add(found)
                covered = until[1]
                if on_progress:
                    on_progress(covered, self.size)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.wait()
        return covered

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

