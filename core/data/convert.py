"""Convert a whole file to Bailian JSONL: read → convert → validate → write, in one streaming pass.

Output is written to temporary files beside the destination and renamed only when the whole input
converted cleanly (or bad records were explicitly skipped), so a failed run leaves no partial file and
an input is never overwritten. Output over the platform's 300 MB per-file limit is split into
``…_part1.jsonl``, ``…_part2.jsonl`` at record boundaries.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from core.data import converters, tokens
from core.data.converters.chat import ChatOptions
from core.data.errors import DataFileError, RecordError
from core.data.readers import Item, Problem, check_path, read_items
from core.data.validate import ERROR, MAX_FILE_BYTES, Finding, check_record

DETECT_SAMPLE = 50
Progress = Callable[[int, int], None]  # (bytes read, total bytes)


@dataclass
class ConvertReport:
    source: str
    format: str = ""
    kind: str = "sft"
    read: int = 0
    written: int = 0
    skipped: int = 0
    outputs: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    too_long: int = 0
    cancelled: bool = False

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)


class SplitWriter:
    """Writes lines to temp files, starting a new part before one would pass ``limit`` bytes."""

    def __init__(self, destination: Path, limit: int = MAX_FILE_BYTES) -> None:
        self.destination, self.limit = destination, limit
        self.parts: list[tuple[str, int]] = []  # (temp path, bytes)
        self._handle = None

    def _open(self) -> None:
        fd, temp = tempfile.mkstemp(prefix=f".{self.destination.name}.", suffix=".tmp", dir=self.destination.parent)
        self._handle = os.fdopen(fd, "wb", buffering=1 << 20)
        self.parts.append((temp, 0))

    def write(self, line: bytes) -> None:
        if len(line) > self.limit:
            raise RecordError(f"one record is {len(line) / 2**20:.0f} MB, over the per-file limit",
                              "shorten or drop it")
        if self._handle is None or self.parts[-1][1] + len(line) > self.limit:
            if self._handle is not None:
                self._handle.close()
            self._open()
        self._handle.write(line)
        temp, size = self.parts[-1]
        self.parts[-1] = (temp, size + len(line))

    def final_names(self) -> list[Path]:
        if len(self.parts) <= 1:
            return [self.destination]
        stem, suffix = self.destination.stem, self.destination.suffix or ".jsonl"
        return [self.destination.with_name(f"{stem}_part{i}{suffix}") for i in range(1, len(self.parts) + 1)]

    def commit(self) -> list[str]:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
        names = self.final_names()
        for (temp, _), name in zip(self.parts, names):
            os.replace(temp, name)
        return [str(n) for n in names]

    def abort(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        for temp, _ in self.parts:
            Path(temp).unlink(missing_ok=True)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def convert_file(source: str | Path, destination: str | Path, *, format: str | None = None,
                 options: ChatOptions = ChatOptions(), max_length: int = 8192, skip_bad: bool = False,
                 progress: Progress | None = None, cancelled: Callable[[], bool] = lambda: False,
                 split_limit: int = MAX_FILE_BYTES) -> ConvertReport:
    source, destination = check_path(source), Path(destination)
    if _same_file(source, destination):
        raise DataFileError(str(destination), "is the input file", "write the output somewhere else")
    if destination.is_dir():
        raise DataFileError(str(destination), "is a directory", "give an output file name")
    destination.parent.mkdir(parents=True, exist_ok=True)
    report = ConvertReport(str(source))
    total = source.stat().st_size
    items = read_items(source)
    head = list(itertools.islice(items, DETECT_SAMPLE))
    converter = converters.get(format) if format else converters.detect(
        [i.record for i in head if isinstance(i, Item)])
    if converter is None:
        raise DataFileError(str(source), "no known format fits its first records",
                            f"choose one with --format ({', '.join(converters.CONVERTERS)})")
    report.format, report.kind = converter.name, converter.kind
    writer = SplitWriter(destination, split_limit)
    try:
        for index, item in enumerate(itertools.chain(head, items)):
            if isinstance(item, Problem):
                report.findings.append(Finding(ERROR, item.line, item.code, item.message, item.hint))
                continue
            report.read += 1
            try:
                record = converter.convert(item.record, options)
            except RecordError as err:
                report.findings.append(Finding(ERROR, item.line, "convert", err.message, err.hint))
                continue
            problems = check_record(record, item.line, converter.kind)
            report.findings.extend(problems)
            if any(p.severity == ERROR for p in problems):
                continue
            text = tokens.chatml(record)
            if tokens.byte_bound(text) > max_length:
                n = tokens.count_text(text)
                if n > max_length:
                    report.too_long += 1
                    report.findings.append(Finding(
                        "warning", item.line, "too-long",
                        f"{n} tokens > max_length {max_length}: the platform drops this sample silently",
                        "raise max_length or shorten the sample"))
            writer.write(orjson.dumps(record) + b"\n")
            report.written += 1
            if index % 2048 == 0:
                if progress:
                    progress(min(_position(item, total), total), total)
                if cancelled():
                    report.cancelled = True
                    break
        errors = report.errors
        report.skipped = report.read - report.written
        if report.cancelled or (errors and not skip_bad) or report.written == 0:
            writer.abort()
            if report.written == 0 and not errors and not report.cancelled:
                report.findings.append(Finding(ERROR, None, "empty", "no records to write",
                                               "the input holds no records"))
            return report
        report.outputs = writer.commit()
        if progress:
            progress(total, total)
        return report
    except BaseException:
        writer.abort()
        raise


def _position(item: Item, total: int) -> int:
    return item.end or total // 2  # JSONL knows its byte offset; other readers only that work goes on


def default_output(source: Path, root: Path | None = None) -> Path:
    """``datasets/X/y.jsonl`` → ``datasets/X_BaiLian/y.jsonl`` (mirrors the original toolkit's layout)."""
    source = source.resolve()
    parent = source.parent
    return parent.with_name(parent.name + "_BaiLian") / (source.stem + ".jsonl")
