"""The one place that decides how the CLI writes: terminal or pipe, human or JSON, colour or not.

* ``--json``: machine output on stdout (one JSON document, or NDJSON for streams); messages on stderr.
* a pipe or file: no colour, no wrapping, no redraw; tables are tab-separated lines with a header;
  diagnostics one per line, ``FILE:LINE: severity: message`` (compiler style).
* a terminal: aligned tables that fit the width without ever cutting an id (the other columns shrink or
  go first); colour unless ``--no-color`` or ``$NO_COLOR``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

_STATUS_COLOURS = {
    "SUCCEEDED": "32", "RUNNING": "36", "FAILED": "1;31", "CANCELED": "2", "CANCELING": "33", "PENDING": "33",
    "QUEUING": "33", "DEPLOYING": "33", "UPDATING": "33", "DELETING": "33", "STOPPED": "2",
    "error": "1;31", "warning": "33", "info": "36",
}


@dataclass
class Column:
    """One table column. ``key`` columns (ids) are never cut; ``drop`` orders which go first when narrow
    (higher drops earlier; 0 never drops); ``min`` is how narrow a cut column may get."""

    title: str
    key: bool = False
    drop: int = 0
    min: int = 6
    status: bool = False


def _cut(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…" if width > 0 else ""


@dataclass
class Output:
    json: bool = False
    quiet: bool = False
    no_color: bool = False
    stdout: Any = field(default_factory=lambda: sys.stdout)
    stderr: Any = field(default_factory=lambda: sys.stderr)

    @property
    def tty(self) -> bool:
        try:
            return self.stdout.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def interactive(self) -> bool:
        """A person can answer a question: stdin and stderr are terminals."""
        try:
            return sys.stdin.isatty() and self.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def color(self) -> bool:
        return self.tty and not self.no_color and not os.environ.get("NO_COLOR") and not self.json

    @property
    def width(self) -> int:
        return max(shutil.get_terminal_size((80, 24)).columns, 20)

    # -- plain writing ---------------------------------------------------------------------------------

    def line(self, text: str = "") -> None:
        """One line of the command's human result on stdout."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def info(self, text: str) -> None:
        """Progress and notes on stderr; silenced by --quiet."""
        if not self.quiet:
            self.stderr.write(text + "\n")
            self.stderr.flush()

    def warn(self, text: str) -> None:
        self.stderr.write(f"bailian-tui: warning: {text}\n")
        self.stderr.flush()

    def error(self, text: str) -> None:
        self.stderr.write(f"bailian-tui: {text}\n")
        self.stderr.flush()

    def emit(self, payload: Any) -> None:
        """One JSON document (or one NDJSON line) on stdout."""
        self.stdout.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")
        self.stdout.flush()

    def paint(self, text: str, colour_of: str) -> str:
        code = _STATUS_COLOURS.get(colour_of)
        return f"\x1b[{code}m{text}\x1b[0m" if code and self.color else text

    # -- diagnostics -----------------------------------------------------------------------------------

    def diagnostic(self, where: str, severity: str, message: str, hint: str = "") -> None:
        """``FILE:LINE: severity: message`` on one line, whatever the width (editors parse it)."""
        text = f"{message} — {hint}" if hint else message
        text = " ".join(text.split())  # never a newline inside a diagnostic
        self.stdout.write(f"{where}: {self.paint(severity, severity)}: {text}\n")

    # -- tables ----------------------------------------------------------------------------------------

    def table(self, columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> None:
        rows = [["" if v is None else str(v) for v in row] for row in rows]
        if not self.tty:
            self.stdout.write("\t".join(c.title for c in columns) + "\n")
            for row in rows:
                self.stdout.write("\t".join(v.replace("\t", " ").replace("\n", " ") for v in row) + "\n")
            self.stdout.flush()
            return
        for text in self.render_table(columns, rows, self.width):
            self.stdout.write(text + "\n")
        self.stdout.flush()

    def render_table(self, columns: Sequence[Column], rows: list[list[str]], width: int) -> list[str]:
        """Lines no wider than ``width``: ids whole, other columns cut with … or dropped, widest-droppable first."""
        rows = [[" ".join(v.split()) for v in row] for row in rows]
        shown = list(range(len(columns)))
        natural = [max([len(columns[i].title)] + [len(r[i]) for r in rows]) for i in shown]

        def total(indices: list[int], widths: dict[int, int]) -> int:
            return sum(widths[i] for i in indices) + 2 * (len(indices) - 1)

        while True:
            widths = {i: natural[i] for i in shown}
            excess = total(shown, widths) - width
            if excess <= 0:
                break
            # Cut what can be cut (never an id), as little as needed, widest first…
            flex = [i for i in shown if not columns[i].key and widths[i] > columns[i].min]
            room = sum(widths[i] - columns[i].min for i in flex)
            droppable = [i for i in shown if columns[i].drop > 0]
            if room >= excess or not droppable:
                while excess > 0 and flex:
                    i = max(flex, key=lambda j: widths[j] - columns[j].min)
                    take = min(excess, widths[i] - columns[i].min)
                    widths[i] -= take
                    excess -= take
                    flex.remove(i)
                break  # with only ids left the line may be long: ids are never cut
            # …and when that is not enough, drop the least useful column and try again.
            shown.remove(max(droppable, key=lambda j: (columns[j].drop, j)))
        lines = []
        header = "  ".join(_cut(columns[i].title, widths[i]).ljust(widths[i]) for i in shown).rstrip()
        lines.append(self.paint(header, "") if not self.color else f"\x1b[1m{header}\x1b[0m")
        for row in rows:
            cells = []
            for i in shown:
                text = _cut(row[i], widths[i]) if not columns[i].key else row[i]
                padded = text.ljust(widths[i])
                cells.append(self.paint(padded, row[i]) if columns[i].status else padded)
            lines.append("  ".join(cells).rstrip())
        return lines


def visible_len(text: str) -> int:
    """Length without ANSI colour codes."""
    import re

    return len(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text))
