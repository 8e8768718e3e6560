"""Whole-file validation and statistics, on every core.

A JSONL file is cut into byte ranges at line boundaries; each range is checked in its own process
(``check_record``, the token-length bound, duplicate hashes) and the results are stitched back together
with the right line numbers. Every line is read — never a sample — and memory stays flat: a worker holds
one line at a time, the parent holds an 8-byte hash and, for statistics, one count per record.
"""

from __future__ import annotations

import math
import os
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from bailian_tui.core.data import tokens
from bailian_tui.core.data.errors import DataFileError
from bailian_tui.core.data.readers import Problem, check_path, file_kind, read_items
from bailian_tui.core.data.validate import (ERROR, INFO, MAX_FILE_BYTES, RECOMMENDED_MIN_SAMPLES, WARNING, Finding,
                                check_record, quick_ok, record_kind)

CHUNK_BYTES = 8 * 1024 * 1024
KEEP_FINDINGS = 2000  # per file; counts stay exact beyond it
Progress = Callable[[int, int], None]


@dataclass
class Scan:
    """What one pass over a file found."""

    path: str
    kind: str = "sft"
    samples: int = 0
    findings: list[Finding] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)  # severity -> number of findings
    too_long: list[tuple[int, int]] = field(default_factory=list)  # (line, tokens)
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (line, line of the first copy)
    token_counts: array = field(default_factory=lambda: array("I"))
    roles: Counter = field(default_factory=Counter)
    max_length: int = 8192

    @property
    def errors(self) -> int:
        return self.counts[ERROR]

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def add(self, finding: Finding) -> None:
        self.counts[finding.severity] += 1
        if len(self.findings) < KEEP_FINDINGS:
            self.findings.append(finding)


@dataclass
class _Part:
    lines: int = 0
    samples: int = 0
    kind: str | None = None
    findings: list[Finding] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    too_long: list[tuple[int, int]] = field(default_factory=list)
    hashes: list[tuple[int, int]] = field(default_factory=list)
    token_counts: array = field(default_factory=lambda: array("I"))
    roles: Counter = field(default_factory=Counter)


def line_hash(raw: bytes) -> int:
    """64 bits from crc32 and adler32 (both C-fast); an accidental match of both is ~1 in 10^19."""
    body = memoryview(raw)[:-1] if raw.endswith(b"\n") else raw
    return zlib.crc32(body) | (zlib.adler32(body) << 32)


def _check_one(part: _Part, line: int, record, max_length: int, exact: bool, kind: str | None,
               raw: bytes | None) -> None:
    part.samples += 1
    if raw is not None:
        part.hashes.append((line_hash(raw), line))
    clean = quick_ok(record, raw) and kind in (None, "sft")
    if clean:
        part.kind = part.kind or "sft"
        for message in record["messages"]:
            part.roles[message["role"]] += 1
    else:
        this_kind = kind or record_kind(record)
        part.kind = part.kind or this_kind
        for finding in check_record(record, line, this_kind):
            part.counts[finding.severity] += 1
            if len(part.findings) < KEEP_FINDINGS:
                part.findings.append(finding)
        if isinstance(record, dict) and isinstance(record.get("messages"), list):
            for message in record["messages"]:
                if isinstance(message, dict):
                    part.roles[str(message.get("role"))] += 1
    if not exact and raw is not None and tokens.line_bound_holds(raw, max_length):
        return
    text = tokens.chatml(record)
    if exact or tokens.byte_bound(text) > max_length:
        n = tokens.count_text(text)
        if exact:
            part.token_counts.append(n)
        if n > max_length:
            part.too_long.append((line, n))


def range_lines(path: str, start: int, end: int):
    """(line number within the range, raw line without a leading BOM, is-last-line, had-BOM) for [start, end)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        position, number = start, 0
        while position < end:
            raw = handle.readline()
            if not raw:
                break
            position += len(raw)
            number += 1
            bom = number == 1 and start == 0 and raw.startswith(b"\xef\xbb\xbf")
            yield number, raw[3:] if bom else raw, position >= end, bom


def _scan_range(path: str, start: int, end: int, max_length: int, exact: bool, kind: str | None) -> _Part:
    part = _Part()
    for line, raw, last, bom in range_lines(path, start, end):
        part.lines = line  # made absolute by the parent
        if bom:
            _problem(part, Problem(line, "the file starts with a UTF-8 byte-order mark",
                                   "save it as UTF-8 without BOM", "bom"), WARNING)
        if not raw.strip():
            _problem(part, Problem(line, "blank line", "remove blank lines: the upload check rejects them",
                                   "blank"), ERROR)
            continue
        if b"\x00" in raw:
            _problem(part, Problem(line, "NUL byte in the line", "the file is corrupt; re-export it", "nul"),
                     ERROR)
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            truncated = not raw.endswith(b"\n") and last
            if truncated:
                _problem(part, Problem(line, "the last line is cut short (truncated JSON)",
                                       "the file was not written completely; export it again", "truncated"), ERROR)
            else:
                _problem(part, Problem(line, f"invalid JSON: {str(exc).split(':')[0]}", "fix or remove this line",
                                       "json"), ERROR)
            continue
        _check_one(part, line, record, max_length, exact, kind, raw)
    return part


def _problem(part: _Part, problem: Problem, severity: str) -> None:
    part.counts[severity] += 1
    if len(part.findings) < KEEP_FINDINGS:
        part.findings.append(Finding(severity, problem.line, problem.code, problem.message, problem.hint))


def _ranges(path: Path, size: int, chunk: int) -> list[tuple[int, int]]:
    bounds = [0]
    with open(path, "rb") as handle:
        while bounds[-1] + chunk < size:
            handle.seek(bounds[-1] + chunk)
            handle.readline()
            position = handle.tell()
            if position >= size:
                break
            bounds.append(position)
    bounds.append(size)
    return list(zip(bounds, bounds[1:]))


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def validate_file(path: str | Path, *, max_length: int = 8192, exact: bool = False, kind: str | None = None,
                  workers: int | None = None, progress: Progress | None = None,
                  chunk: int = CHUNK_BYTES) -> Scan:
    """Check every record of a Bailian file (JSONL, or any readable file of ChatML records)."""
    path = check_path(path)
    if path.suffix.lower() == ".zip":
        return _validate_zip(path, max_length)
    size = path.stat().st_size
    scan = Scan(str(path), max_length=max_length)
    if size > MAX_FILE_BYTES:
        scan.add(Finding(ERROR, None, "too-big", f"the file is {size / 2**20:.0f} MB; the platform takes 300 MB",
                         "split it (bailian-tui convert writes …_part1.jsonl, …_part2.jsonl)"))
    if size == 0:
        scan.add(Finding(ERROR, None, "empty", "the file is empty", "nothing to train on"))
        return scan
    if file_kind(path) == "jsonl":
        parts = _scan_parts(path, size, max_length, exact, kind, workers or default_workers(), progress, chunk)
    else:
        part = _Part()
        for item in read_items(path):
            part.lines = item.line
            if isinstance(item, Problem):
                _problem(part, item, ERROR)
            else:
                raw = orjson.dumps(item.record, option=orjson.OPT_SORT_KEYS)
                _check_one(part, item.line, item.record, max_length, exact, kind, raw)
        part.lines = 0  # lines are absolute already
        parts = [part]
    _merge(scan, parts)
    return scan


def _validate_zip(path: Path, max_length: int) -> Scan:
    """A packed VL dataset: its data.jsonl like any file, plus every image it names must be in the zip."""
    import tempfile
    import zipfile

    from bailian_tui.core.data.converters import vl

    missing, _ = vl.check_zip(path)
    with tempfile.TemporaryDirectory() as scratch:
        with zipfile.ZipFile(path) as archive:
            archive.extract("data.jsonl", scratch)
        scan = validate_file(Path(scratch) / "data.jsonl", max_length=max_length, kind="vl", workers=1)
    scan.path = str(path)
    for line, name in missing:
        scan.add(Finding(ERROR, line, "missing-image", f"image {name} is not in the zip",
                         "add it to the archive or fix the path"))
    if path.stat().st_size > MAX_FILE_BYTES:
        scan.add(Finding(ERROR, None, "too-big", "the zip is over 300 MB", "split the dataset"))
    return scan


def _scan_parts(path: Path, size: int, max_length: int, exact: bool, kind: str | None, workers: int,
                progress: Progress | None, chunk: int) -> list[_Part]:
    ranges = _ranges(path, size, chunk)
    if workers <= 1 or len(ranges) == 1:
        parts = []
        for start, end in ranges:
            parts.append(_scan_range(str(path), start, end, max_length, exact, kind))
            if progress:
                progress(end, size)
        return _absolute(parts)
    from bailian_tui.core.lifecycle import worker_pool

    if exact:
        tokens.encoding()  # load once before forking: every worker shares it instead of loading its own
    with worker_pool(min(workers, len(ranges))) as pool:
        futures = [pool.submit(_scan_range, str(path), s, e, max_length, exact, kind) for s, e in ranges]
        parts = []
        for (_, end), future in zip(ranges, futures):
            parts.append(future.result())
            if progress:
                progress(end, size)
    return _absolute(parts)


def _absolute(parts: list[_Part]) -> list[_Part]:
    """Shift each part's line numbers by the lines of the parts before it."""
    offset = 0
    for part in parts:
        if offset:
            part.findings = [Finding(f.severity, (f.line or 0) + offset, f.code, f.message, f.hint)
                             for f in part.findings]
            part.too_long = [(line + offset, n) for line, n in part.too_long]
            part.hashes = [(h, line + offset) for h, line in part.hashes]
        offset += part.lines
    return parts


def _merge(scan: Scan, parts: list[_Part]) -> None:
    seen: dict[int, int] = {}
    for part in parts:
        scan.samples += part.samples
        scan.kind = part.kind or scan.kind
        scan.counts.update(part.counts)
        for finding in part.findings:
            if len(scan.findings) < KEEP_FINDINGS:
                scan.findings.append(finding)
        scan.too_long.extend(part.too_long)
        scan.token_counts.extend(part.token_counts)
        scan.roles.update(part.roles)
        for digest, line in part.hashes:
            first = seen.setdefault(digest, line)
            if first != line:
                scan.duplicates.append((line, first))
    for line, n in scan.too_long:
        if scan.kind == "dpo":
            scan.add(Finding(INFO, line, "too-long", f"{n} tokens > max_length {scan.max_length}",
                             "DPO samples this long are reportedly truncated"))
        else:
            scan.add(Finding(WARNING, line, "too-long",
                             f"{n} tokens > max_length {scan.max_length}: the platform drops this sample silently",
                             "raise max_length, shorten the sample, or remove it"))
    for line, first in scan.duplicates[:KEEP_FINDINGS]:
        scan.add(Finding(WARNING, line, "duplicate", f"exact duplicate of line {first}", "remove the copy"))
    if 0 < scan.samples < RECOMMENDED_MIN_SAMPLES:
        scan.add(Finding(WARNING, None, "few-samples",
                         f"{scan.samples} samples; the guides recommend at least {RECOMMENDED_MIN_SAMPLES}",
                         "more data usually helps; small sets over-fit quickly"))
    scan.findings.sort(key=lambda f: (f.line or 0))


@dataclass(frozen=True)
class Stats:
    samples: int
    total: int
    mean: float
    p50: int
    p95: int
    max: int
    histogram: list[tuple[int, int, int]]  # (from, to, samples)
    roles: dict[str, int]
    duplicates: int
    too_long: int
    max_length: int


def percentile(sorted_values: list[int], fraction: float) -> int:
    if not sorted_values:
        return 0
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def histogram(values: list[int], bins: int = 12) -> list[tuple[int, int, int]]:
    if not values:
        return []
    top = max(values)
    width = max(1, math.ceil((top + 1) / bins))
    counts = [0] * bins
    for value in values:
        counts[min(value // width, bins - 1)] += 1
    return [(i * width, (i + 1) * width - 1, c) for i, c in enumerate(counts)]


def stats_of(scan: Scan) -> Stats:
    values = sorted(scan.token_counts)
    total = sum(values)
    return Stats(samples=scan.samples, total=total, mean=total / len(values) if values else 0.0,
                 p50=percentile(values, 0.5), p95=percentile(values, 0.95), max=values[-1] if values else 0,
                 histogram=histogram(values), roles=dict(scan.roles), duplicates=len(scan.duplicates),
                 too_long=len(scan.too_long), max_length=scan.max_length)


# ----- raw (unconverted) input ------------------------------------------------------------------------

def raw_format(path: str | Path):
    """The converter a file still needs when its first records are a known raw format, not Bailian ChatML.

    ``None`` for Bailian files (records with ``messages``, or CPT ``text``), zips, and files whose format
    no converter knows (the validator then reports each record).
    """
    import itertools

    from bailian_tui.core.data import converters
    from bailian_tui.core.data.readers import Item

    path = check_path(path)
    if path.suffix.lower() == ".zip":
        return None
    items = read_items(path)
    try:
        sample = [i.record for i in itertools.islice(items, 50) if isinstance(i, Item)]
    finally:
        items.close()
    if not sample or any(isinstance(r, dict) and ("messages" in r or "text" in r) for r in sample):
        return None
    converter = converters.detect(sample)
    return converter if converter is not None and converter.name != "messages" else None


def require_bailian(path: str | Path, what: str) -> None:
    """Refuse a raw file with the command that converts it, instead of counting nothing (``what``: the
    operation, e.g. "token statistics")."""
    from bailian_tui.core.data.convert import default_output

    converter = raw_format(path)
    if converter is None:
        return
    source = Path(path)
    described = converter.description.split(" → ")[0].split(" (")[0]
    raise DataFileError(str(source), f"is raw {converter.name} data ({described}), not Bailian ChatML: "
                        f"{what} need the converted records",
                        f"convert it first: bailian-tui convert {source} {default_output(source)}")


def scan_bailian_file(path: str | Path, what: str, **options) -> Scan:
    """``validate_file`` for the commands that read a Bailian file (validate, stats, estimate): a raw
    file is refused with the command that converts it — never a silent 0."""
    require_bailian(path, what)
    return validate_file(path, **options)
