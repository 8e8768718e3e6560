"""Small text helpers shared by screens: status colours, relative times, sizes."""

from __future__ import annotations

from datetime import datetime

from rich.markup import escape
from rich.text import Text

__all__ = ["cells", "escape", "plain"]


def plain(value: object) -> object:
    """A string shown as itself, never read as markup (server text may contain ``[/]`` or ``[link=…]``).

    Control characters were already made visible by ``core.safetext``; this only stops Rich/Textual from
    interpreting brackets. Anything that is already a renderable passes through.
    """
    return Text(value) if isinstance(value, str) else value


def widget_id(prefix: str, value: str) -> str:
    """A valid Textual id for a server-given value (ids must be letters, digits, ``_`` and ``-``)."""
    import hashlib
    import re

    if re.fullmatch(r"[A-Za-z0-9_-]+", value):
        return f"{prefix}-{value}"
    return f"{prefix}-x{hashlib.sha1(value.encode('utf-8', 'replace')).hexdigest()[:16]}"


def cells(*values: object) -> list:
    """Table cells as plain text: for ``DataTable.add_row(*cells(...), key=…)``."""
    return [plain(v) for v in values]


# Colours are given as RGB that fall on distinct entries of the 16-colour palette: Textual maps the named
# ANSI colours through its own terminal theme, where "yellow" is orange (→ bright red with 16 colours) and
# "red" equals "magenta". Each status also carries a glyph, so nothing depends on colour (NO_COLOR, mono).
WAITING, ACTIVE, GOOD, BAD, GOING, INERT = "#e0e020", "bold #20e0e0", "bold #40ff40", "bold #ff4040", "#e040e0", "dim"
STATUS_STYLES = {
    "PENDING": ("◌", WAITING), "QUEUING": ("◌", WAITING), "RUNNING": ("▶", ACTIVE), "CANCELING": ("◍", GOING),
    "SUCCEEDED": ("✓", GOOD), "FAILED": ("✗", BAD), "CANCELED": ("■", INERT), "UNKNOWN": ("?", INERT),
    "DEPLOYING": ("◌", WAITING), "UPDATING": ("◌", WAITING), "DELETING": ("◍", GOING), "STOPPED": ("■", INERT),
}


def status_badge(status) -> Text:
    """A status as glyph + word, coloured: `✗ FAILED`. Takes a JobStatus/DeploymentStatus or its value."""
    value = getattr(status, "value", status)
    glyph, style = STATUS_STYLES.get(value, ("·", ""))
    return Text(f"{glyph} {value}", style=style)


def status_text(status) -> Text:
    """The word alone, coloured (for command-line tables, where scripts read the word)."""
    value = getattr(status, "value", status)
    return Text(value, style=STATUS_STYLES.get(value, ("", ""))[1])


def now() -> datetime:
    """The app's idea of the present (the snapshot tests pin it)."""
    return datetime.now()


def ago(moment: datetime | None, reference: datetime | None = None) -> str:
    if moment is None:
        return "-"
    seconds = int(((reference or now()) - moment).total_seconds())
    if seconds < 0:
        return moment.strftime("%Y-%m-%d %H:%M")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def size_text(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def middle(text: str, width: int) -> str:
    """Shorten in the middle, keeping both ends: `样例_内科5000-6000.csv` → `样例_内科…6000.csv`."""
    if width <= 1 or _cells(text) <= width:
        return text
    keep = width - 1
    head, tail = text[: (keep + 1) // 2], text[-(keep // 2):] if keep // 2 else ""
    while _cells(head) + _cells(tail) > keep and (head or tail):
        if _cells(head) >= _cells(tail) and head:
            head = head[:-1]
        else:
            tail = tail[1:]
    return f"{head}…{tail}"


def _cells(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)
