"""The one boundary for text that came from outside the program: a server, or a file name on disk.

A server (or a file name) can carry terminal escape sequences — OSC 52 writes the user's clipboard, OSC 0
retitles the window, ``ESC[2J`` clears the screen — and bytes that confuse a reader (NUL, BEL, right-to-left
overrides). :func:`clean` makes such a string inert *and visible*: every C0 control becomes its Unicode
"control picture" (ESC → ``␛``, BEL → ``␇``, NUL → ``␀``), DEL becomes ``␡``, C1 controls and bidirectional
overrides/isolates become ``�``. Nothing is silently dropped, so a hostile value shows as what it is
(``␛]52;c;…␇``) and can still be told apart from a benign one; no ESC byte survives.

The record parsers (``core.records``) and the error type (``core.errors``) call it, so no UI or CLI sees a raw
server string. Markup is a separate concern: the cleaned text may still contain ``[bold]``; the UIs render it
as plain text (Rich ``Text``), never as markup.

Fields are also capped: one value never exceeds :data:`FIELD_CAP` characters, a log line :data:`LINE_CAP`;
what is cut ends with a visible marker saying how much.
"""

from __future__ import annotations

import re
from typing import Any

from bailian_tui.core.secrets import redact

FIELD_CAP = 2000
LINE_CAP = 4000

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_TABLE = {c: chr(0x2400 + c) for c in range(0x20)}
_TABLE[0x7F] = "\u2421"
_TABLE.update({c: "\ufffd" for c in range(0x80, 0xA0)})
_TABLE.update({ord(c): "\ufffd" for c in _BIDI})
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f" + _BIDI + "]")


def clean(value: Any, *, cap: int = FIELD_CAP, keep_tabs: bool = False, multiline: bool = False) -> str:
    """``value`` as a single safe line: controls made visible, known keys masked, at most ``cap`` chars."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > cap + 256:  # never translate megabytes only to throw them away
        text, extra = text[: cap + 256], len(text) - cap - 256
    else:
        extra = 0
    if _UNSAFE.search(text):
        table = _TABLE
        if keep_tabs or multiline:
            table = {**_TABLE, 9: "\t"}
            if multiline:
                text = text.replace("\r\n", "\n")
                table[10] = "\n"
        text = text.translate(table)
    text = redact(text)
    if len(text) > cap:
        cut = len(text) - cap + extra
        text = f"{text[:cap]}… [{cut} more characters cut]"
    return text


def clean_or_none(value: Any, *, cap: int = FIELD_CAP) -> str | None:
    if value is None or value == "":
        return None
    return clean(value, cap=cap)


def clean_line(value: Any) -> str:
    """A log line: tabs kept, everything else as :func:`clean`, at most :data:`LINE_CAP` characters."""
    return clean(value, cap=LINE_CAP, keep_tabs=True)


def is_safe(text: str) -> bool:
    """No control character or bidi override left (tests and assertions)."""
    return _UNSAFE.search(text.replace("\t", " ")) is None
