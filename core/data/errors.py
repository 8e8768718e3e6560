"""Errors about one record or one file, carrying where (file:line) and what to do."""

from __future__ import annotations


class RecordError(ValueError):
    """A record that cannot be converted: ``message`` says what, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


class DataFileError(Exception):
    """A file that cannot be read at all (a directory, unreadable, not text…)."""

    def __init__(self, path: str, message: str, hint: str = "", line: int | None = None) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}" + (f" — {hint}" if hint else ""))
        self.path, self.message, self.hint, self.line = path, message, hint, line
