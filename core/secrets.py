"""Keeping the API key out of everything a person or a log can see.

The key is masked wherever it is shown and scrubbed from any text that leaves ``core`` as an error
message, whatever produced that text (an SDK exception may echo a header or a URL).
"""

from __future__ import annotations

_known: set[str] = set()


def remember(key: str | None) -> None:
    """Register a key so that :func:`redact` can scrub it from texts built elsewhere."""
    if key and len(key) >= 8:
        _known.add(key)


def mask(key: str | None) -> str:
    if not key:
        return "(no key)"
    if len(key) < 12:
        return "…" + "*" * 4
    prefix = "sk-" if key.startswith("sk-") else ""
    return f"{prefix}…{key[-4:]}"


def redact(text: str) -> str:
    for key in _known:
        if key in text:
            text = text.replace(key, mask(key))
    return text
