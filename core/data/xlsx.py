"""A small streaming reader for .xlsx sheets (the VL template: id / prompt / image / response).

An .xlsx is a zip of XML; reading the first sheet's rows needs only the shared strings and the sheet,
which ``zipfile`` and ``ElementTree.iterparse`` handle in a few lines — not worth a dependency.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Iterator
from xml.etree.ElementTree import iterparse

from bailian_tui.core.data.errors import DataFileError

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
CELL = re.compile(r"([A-Z]+)(\d+)")


def _column(ref: str) -> int:
    letters = CELL.match(ref).group(1) if CELL.match(ref) else "A"
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch) - 64
    return number - 1


def _shared_strings(book: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    strings = []
    with book.open("xl/sharedStrings.xml") as handle:
        for _, element in iterparse(handle):
            if element.tag == f"{NS}si":
                strings.append("".join(t.text or "" for t in element.iter(f"{NS}t")))
                element.clear()
    return strings


def read_xlsx(path: Path) -> Iterator:
    from bailian_tui.core.data.readers import Item, Problem

    try:
        book = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise DataFileError(str(path), "is not an .xlsx workbook", "save it from Excel as .xlsx") from None
    with book:
        sheets = sorted(n for n in book.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
        if not sheets:
            raise DataFileError(str(path), "holds no worksheet", "save it from Excel as .xlsx")
        strings = _shared_strings(book)
        header: list[str] | None = None
        with book.open(sheets[0]) as handle:
            for _, row in iterparse(handle):
                if row.tag != f"{NS}row":
                    continue
                number = int(row.get("r", "0"))
                values: dict[int, str] = {}
                for cell in row.iter(f"{NS}c"):
                    kind, value = cell.get("t"), cell.find(f"{NS}v")
                    if kind == "s" and value is not None:
                        text = strings[int(value.text)]
                    elif kind == "inlineStr":
                        text = "".join(t.text or "" for t in cell.iter(f"{NS}t"))
                    else:
                        text = value.text if value is not None and value.text is not None else ""
                    values[_column(cell.get("r", "A1"))] = text
                row.clear()
                if header is None:
                    header = [values.get(i, "").strip() for i in range(max(values, default=-1) + 1)]
                    if not any(header):
                        yield Problem(number, "the first row holds no column names", "put a header row first")
                        return
                    continue
                if not any(v.strip() for v in values.values()):
                    continue
                yield Item(number, {name: values.get(i, "") for i, name in enumerate(header) if name})
