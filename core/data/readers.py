"""Streaming readers: every record keeps where it came from, and memory stays flat whatever the file size.

Each reader yields :class:`Item` objects: a parsed record with its 1-based line (JSONL, JSON arrays: the
line the element starts on; CSV: the first physical line of the row), or a :class:`Problem` saying why a
piece could not be read. Problems are yielded, not raised, so that validation can report all of them.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from bailian_tui.core.data.errors import DataFileError

SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class Item:
    line: int
    record: Any
    end: int = 0  # byte offset just past the record, where the reader knows it (JSONL), for progress


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    hint: str = ""
    code: str = "unreadable"


def check_path(path: str | Path) -> Path:
    """Refuse what is not a readable regular file, with a message a person can act on."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(str(path), "no such file", "check the path")
    if path.is_dir():
        raise DataFileError(str(path), "is a directory", "give a file inside it, or use batch-convert --src")
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except PermissionError:
        raise DataFileError(str(path), "cannot be read (permission denied)", "check its permissions") from None
    except OSError as exc:
        raise DataFileError(str(path), f"cannot be read ({exc.strerror})") from None
    return path


def file_kind(path: Path, head: bytes | None = None) -> str:
    """jsonl | json | csv | xlsx | zip, from the name first and the bytes second."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        return "xlsx"
    if suffix == ".zip":
        return "zip"
    if suffix == ".csv" or suffix == ".tsv":
        return "csv"
    if head is None:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    if stripped.startswith(b"["):
        return "json"
    if suffix == ".json" and stripped.startswith(b"{"):
        # A .json file holding one object per line is JSONL in disguise; one pretty object is JSON.
        first_line = stripped.split(b"\n", 1)[0].strip()
        return "jsonl" if first_line.endswith(b"}") else "json"
    return "jsonl"


def detect_encoding(head: bytes) -> str:
    """utf-8-sig, utf-8 or gb18030 (a superset of GBK), judged on the first bytes of the file."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            head.decode(encoding)
            return encoding
        except UnicodeDecodeError as exc:
            # A multi-byte character cut by the sniff window is not a decoding failure.
            if exc.start >= len(head) - 4 and exc.reason.startswith("unexpected end"):
                return encoding
            continue
    return "utf-8"


def read_items(path: str | Path, kind: str | None = None) -> Iterator[Item | Problem]:
    path = check_path(path)
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip():
        yield Problem(1, "the file is empty", "export the data again; nothing to convert", "empty")
        return
    kind = kind or file_kind(path, head)
    if kind == "jsonl":
        yield from read_jsonl(path)
    elif kind == "json":
        yield from read_json_array(path)
    elif kind == "csv":
        yield from read_csv(path, detect_encoding(head))
    elif kind == "xlsx":
        from bailian_tui.core.data.xlsx import read_xlsx

        yield from read_xlsx(path)
    else:
        raise DataFileError(str(path), f"{kind} files hold no records to read",
                            "give the JSONL or Excel file that lists the samples")


def read_jsonl(path: Path) -> Iterator[Item | Problem]:
    """One JSON value per line. Blank lines are skipped (and reported: the platform's checker refuses them)."""
    with open(path, "rb") as handle:
        offset = 0
        for number, raw in enumerate(handle, 1):
            offset += len(raw)
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
                yield Problem(1, "the file starts with a UTF-8 byte-order mark", "save it as UTF-8 without BOM",
                              "bom")
            if not raw.strip():
                yield Problem(number, "blank line", "remove blank lines: the upload check rejects them", "blank")
                continue
            if b"\x00" in raw:
                yield Problem(number, "NUL byte in the line", "the file is binary or corrupt; re-export it", "nul")
                continue
            try:
                yield Item(number, orjson.loads(raw), offset)
                continue
            except orjson.JSONDecodeError:
                pass  # diagnose below, with the slower parser's precise message
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Problem(number, f"not UTF-8 (byte {exc.start + 1} of the line)",
                              "convert the file to UTF-8 (it may be GBK: iconv -f gb18030 -t utf-8)", "encoding")
                continue
            try:
                yield Item(number, json.loads(text), offset)
            except json.JSONDecodeError as exc:
                truncated = not raw.endswith(b"\n") and exc.pos >= len(text.rstrip()) - 1
                if truncated:
                    yield Problem(number, "the last line is cut short (truncated JSON)",
                                  "the file was not written completely; export it again", "truncated")
                else:
                    yield Problem(number, f"invalid JSON: {exc.msg} at column {exc.colno}",
                                  "fix or remove this line", "json")


def read_json_array(path: Path, chunk: int = 1 << 20) -> Iterator[Item | Problem]:
    """Elements of a top-level JSON array, decoded incrementally so a large file never sits in memory."""
    decoder = json.JSONDecoder()
    with open(path, "rb") as raw_handle:
        reader = io.TextIOWrapper(raw_handle, encoding="utf-8-sig", errors="strict")
        buffer, line, pos = "", 1, 0
        eof = False

        def fill() -> bool:
            nonlocal buffer, pos, eof
            try:
                more = reader.read(chunk)
            except UnicodeDecodeError:
                raise DataFileError(str(path), "is not UTF-8 text", "convert it to UTF-8") from None
            if not more:
                eof = True
                return False
            buffer = buffer[pos:] + more
            pos = 0
            return True

        def skip_space() -> None:
            nonlocal pos, line
            while True:
                while pos < len(buffer) and buffer[pos] in " \t\r\n":
                    line += buffer[pos] == "\n"
                    pos += 1
                if pos < len(buffer) or not fill():
                    return

        fill()
        skip_space()
        if pos >= len(buffer) or buffer[pos] != "[":
            if pos < len(buffer) and buffer[pos] == "{":
                # A single object: one record.
                while fill():
                    pass
                try:
                    yield Item(line, json.loads(buffer[pos:]))
                except json.JSONDecodeError as exc:
                    yield Problem(line + buffer[pos:pos + exc.pos].count("\n"), f"invalid JSON: {exc.msg}",
                                  "fix the JSON", "json")
                return
            yield Problem(line, "expected a JSON array of records", "the file should start with [", "json")
            return
        pos += 1
        while True:
            skip_space()
            if pos >= len(buffer):
                yield Problem(line, "the array is not closed (truncated file)", "export the file again",
                              "truncated")
                return
            if buffer[pos] == "]":
                return
            while True:
                try:
                    value, end = decoder.raw_decode(buffer, pos)
                    break
                except json.JSONDecodeError as exc:
                    if not eof and fill():
                        continue
                    yield Problem(line + buffer[pos:exc.pos].count("\n"), f"invalid JSON: {exc.msg}",
                                  "fix the JSON near this line", "truncated" if eof else "json")
                    return
            yield Item(line, value)
            line += buffer.count("\n", pos, end)
            pos = end
            skip_space()
            if pos < len(buffer) and buffer[pos] == ",":
                pos += 1
            elif pos < len(buffer) and buffer[pos] != "]":
                yield Problem(line, "expected ',' or ']' between elements", "fix the JSON near this line", "json")
                return


def read_csv(path: Path, encoding: str) -> Iterator[Item | Problem]:
    """Rows as dicts keyed by the header. Fields may hold quoted newlines; the line is where the row starts."""
    with open(path, "r", encoding=encoding, errors="strict", newline="") as handle:
        try:
            reader = csv.DictReader(handle)
            start = 2
            for row in reader:
                if None in row:
                    yield Problem(start, "more fields than the header has", "check quoting in this row", "csv")
                else:
                    yield Item(start, dict(row))
                start = reader.line_num + 1
        except UnicodeDecodeError:
            yield Problem(start, f"cannot be decoded as {encoding}", "re-save the CSV as UTF-8 or GB18030",
                          "encoding")
        except csv.Error as exc:
            yield Problem(start, f"CSV error: {exc}", "check quoting in this row", "csv")


def records(path: str | Path, kind: str | None = None) -> Iterator[Item]:
    """Just the readable records (problems are the validator's business)."""
    for item in read_items(path, kind):
        if isinstance(item, Item):
            yield item
