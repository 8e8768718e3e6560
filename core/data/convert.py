"""Convert a whole file to Bailian JSONL: read → convert → validate → write, in one streaming pass.

Output is written to temporary files beside the destination and renamed only when the whole input
converted cleanly (or bad records were explicitly skipped), so a failed run leaves no partial file and
an input is never overwritten. Output over the platform's 300 MB per-file limit is split into
``…_part1.jsonl``, ``…_part2.jsonl`` at record boundaries.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from bailian_tui.core import lifecycle
from bailian_tui.core.data import converters, tokens
from bailian_tui.core.data.converters.chat import ChatOptions
from bailian_tui.core.data.errors import DataFileError, RecordError
from bailian_tui.core.data.readers import Item, Problem, check_path, file_kind, read_items
from bailian_tui.core.data.scan import CHUNK_BYTES, _ranges, default_workers, range_lines
from bailian_tui.core.data.validate import ERROR, MAX_FILE_BYTES, Finding, check_record, quick_ok

DETECT_SAMPLE = 50
PARALLEL_FROM = 16 * 1024 * 1024  # bytes: smaller files convert faster than worker processes start
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
        fd, temp = tempfile.mkstemp(prefix=lifecycle.temp_prefix("part"), suffix=f".{self.destination.name}.tmp",
                                    dir=self.destination.parent)
        lifecycle.apply_umask_mode(fd)  # the mode a plain open() gives (0644 under umask 022), not 0600
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

    def write_file(self, path: str) -> None:
        """Append a whole file of complete lines: one copy when it fits the current part, else line by line."""
        size = os.path.getsize(path)
        if self._handle is not None and self.parts[-1][1] + size <= self.limit:
            self._handle.flush()
            with open(path, "rb") as part:
                _copy(part, self._handle, size)
            temp, written = self.parts[-1]
            self.parts[-1] = (temp, written + size)
            return
        with open(path, "rb") as part:
            for line in part:
                self.write(line)

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


def _copy(source, target, size: int) -> None:
    """File to file inside the kernel where it can (Linux copy_file_range), else through a buffer."""
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is not None:
        try:
            done = 0
            while done < size:
                sent = copy_range(source.fileno(), target.fileno(), size - done)
                if sent == 0:
                    break
                done += sent
            if done == size:
                return
            source.seek(done)
        except OSError:
            if done:
                raise
            source.seek(0)
    shutil.copyfileobj(source, target, 1 << 20)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


@dataclass
class _Chunk:
    lines: int = 0
    read: int = 0
    written: int = 0
    too_long: int = 0
    findings: list[Finding] = field(default_factory=list)


def _convert_one(converter, options, item_line: int, source_record, raw: bytes | None, max_length: int,
                 chunk: _Chunk, write) -> None:
    chunk.read += 1
    try:
        record = converter.convert(source_record, options)
    except RecordError as err:
        chunk.findings.append(Finding(ERROR, item_line, "convert", err.message, err.hint))
        return
    line = orjson.dumps(record) + b"\n"
    if not (converter.kind == "sft" and quick_ok(record, line)):
        problems = check_record(record, item_line, converter.kind)
        chunk.findings.extend(problems)
        if any(p.severity == ERROR for p in problems):
            return
    if not tokens.line_bound_holds(line, max_length):
        n = tokens.count(record)
        if n > max_length:
            chunk.too_long += 1
            chunk.findings.append(Finding(
                "warning", item_line, "too-long",
                f"{n} tokens > max_length {max_length}: the platform drops this sample silently",
                "raise max_length or shorten the sample"))
    write(line)
    chunk.written += 1


def _convert_range(path: str, start: int, end: int, fmt: str, options, max_length: int, out: str) -> _Chunk:
    """Convert the JSONL lines in [start, end) of ``path`` into the file ``out`` (one worker's share)."""
    converter = converters.get(fmt)
    chunk = _Chunk()
    with open(out, "wb", buffering=1 << 20) as dst:
        for line, raw, last, _ in range_lines(path, start, end):
            chunk.lines = line
            if not raw.strip():
                chunk.findings.append(Finding(ERROR, line, "blank", "blank line", "remove blank lines"))
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                truncated = not raw.endswith(b"\n") and last
                chunk.findings.append(Finding(
                    ERROR, line, "truncated" if truncated else "json",
                    "the last line is cut short (truncated JSON)" if truncated else "invalid JSON",
                    "export the file again" if truncated else "fix or remove this line"))
                continue
            _convert_one(converter, options, line, record, raw, max_length, chunk, dst.write)
    return chunk


def convert_file(source: str | Path, destination: str | Path, *, format: str | None = None,
                 options: ChatOptions = ChatOptions(), max_length: int = 8192, skip_bad: bool = False,
                 progress: Progress | None = None, cancelled: Callable[[], bool] = lambda: False,
                 split_limit: int = MAX_FILE_BYTES, workers: int | None = None,
                 pack_images: bool = True) -> ConvertReport:
    source, destination = check_path(source), Path(destination)
    if _same_file(source, destination):
        raise DataFileError(str(destination), "is the input file", "write the output somewhere else")
    if destination.is_dir():
        raise DataFileError(str(destination), "is a directory", "give an output file name")
    destination.parent.mkdir(parents=True, exist_ok=True)
    lifecycle.sweep_stale(destination.parent)  # temp files of an earlier run that was killed (SIGKILL)
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
    if pack_images and (destination.suffix.lower() == ".zip" or converter.kind == "vl"):
        items.close()
        return _convert_vl(source, destination, converter, options, max_length, skip_bad)
    writer = SplitWriter(destination, split_limit)
    try:
        if file_kind(source) == "jsonl" and total > PARALLEL_FROM:
            items.close()
            _convert_parallel(source, total, converter.name, options, max_length, writer, report, progress,
                              cancelled, workers or default_workers(), skip_bad)
        else:
            chunk = _Chunk()
            for index, item in enumerate(itertools.chain(head, items)):
                if isinstance(item, Problem):
                    chunk.findings.append(Finding(ERROR, item.line, item.code, item.message, item.hint))
                    continue
                _convert_one(converter, options, item.line, item.record, None, max_length, chunk, writer.write)
                if index % 2048 == 0:
                    if progress and item.end:  # JSONL knows its byte offset; other readers report at the end
                        progress(item.end, total)
                    if cancelled():
                        report.cancelled = True
                        break
            _absorb(report, chunk, 0)
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


def _convert_vl(source: Path, destination: Path, converter, options, max_length: int,
                skip_bad: bool) -> ConvertReport:
    """VL data: convert to a scratch data.jsonl, then pack it with its images (found beside the source)."""
    from bailian_tui.core.data.converters import vl

    if destination.suffix.lower() != ".zip":
        raise DataFileError(str(destination), "image data must be packed as a .zip", "name the output something.zip")
    scratch = Path(tempfile.mkdtemp(prefix=lifecycle.temp_prefix("vl"), dir=destination.parent))
    try:
        report = convert_file(source, scratch / "data.jsonl", format=converter.name, options=options,
                              max_length=max_length, skip_bad=skip_bad, pack_images=False)
        if not report.outputs:
            return report
        missing = vl.pack(scratch / "data.jsonl", source.parent, destination)
        if missing:
            report.outputs = []
            for name in missing[:200]:
                report.findings.append(Finding(ERROR, None, "missing-image", f"image not found: {name}",
                                               f"put it under {source.parent} or fix the path"))
            return report
        report.outputs = [str(destination)]
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _absorb(report: ConvertReport, chunk: _Chunk, offset: int) -> None:
    report.read += chunk.read
    report.written += chunk.written
    report.too_long += chunk.too_long
    report.findings.extend(
        f if not offset else Finding(f.severity, (f.line or 0) + offset, f.code, f.message, f.hint)
        for f in chunk.findings)


def _convert_parallel(source: Path, total: int, fmt: str, options, max_length: int, writer: SplitWriter,
                      report: ConvertReport, progress, cancelled, workers: int, skip_bad: bool) -> None:
    """Workers convert byte ranges into scratch files; the parent stitches them, in order, into the output."""
    ranges = _ranges(source, total, CHUNK_BYTES)
    scratch = tempfile.mkdtemp(prefix=lifecycle.temp_prefix("convert"), dir=writer.destination.parent)
    try:
        with lifecycle.worker_pool(min(workers, len(ranges))) as pool:
            outs = [os.path.join(scratch, f"{i}.jsonl") for i in range(len(ranges))]
            futures = [pool.submit(_convert_range, str(source), s, e, fmt, options, max_length, out)
                       for (s, e), out in zip(ranges, outs)]
            offset = 0
            for (_, end), future, out in zip(ranges, futures, outs):
                chunk = future.result()
                _absorb(report, chunk, offset)
                offset += chunk.lines
                if skip_bad or not report.errors:  # once an error is certain, stop copying output
                    writer.write_file(out)
                os.unlink(out)
                if progress:
                    progress(end, total)
                if cancelled():
                    report.cancelled = True
                    for pending in futures:
                        pending.cancel()
                    break
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def default_output(source: Path, root: Path | None = None) -> Path:
    """``datasets/X/y.jsonl`` → ``datasets/X_BaiLian/y.jsonl`` (mirrors the original toolkit's layout)."""
    source = source.resolve()
    parent = source.parent
    return parent.with_name(parent.name + "_BaiLian") / (source.stem + ".jsonl")
