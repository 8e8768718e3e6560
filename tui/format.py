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

STATUS_STYLES = {
    "PENDING": "yellow", "QUEUING": "yellow", "RUNNING": "bold cyan", "CANCELING": "magenta",
    "SUCCEEDED": "bold green", "FAILED": "bold red", "CANCELED": "dim", "UNKNOWN": "dim",
    "DEPLOYING": "yellow", "UPDATING": "yellow", "DELETING": "magenta", "STOPPED": "dim",
}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


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
