"""The browser's preview: the pipeline run on one record, so that what you see is what uploads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bailian_tui.core.data import converters, tokens
from bailian_tui.core.data.converters.chat import ChatOptions
from bailian_tui.core.data.errors import RecordError
from bailian_tui.core.data.readers import Item, Problem
from bailian_tui.core.data.validate import ERROR, Finding, check_record


@dataclass
class Preview:
    line: int
    source: Any  # the raw record, or None when the line could not be read
    converted: dict | None = None
    findings: list[Finding] = field(default_factory=list)
    message_tokens: list[int] = field(default_factory=list)
    total_tokens: int = 0
    max_length: int = 8192
    counted: bool = True

    @property
    def too_long(self) -> bool:
        return self.total_tokens > self.max_length

    @property
    def ok(self) -> bool:
        return self.converted is not None and not any(f.severity == ERROR for f in self.findings)


def detect(items: list[Item | Problem]) -> converters.Converter | None:
    return converters.detect([i.record for i in items if isinstance(i, Item)])


def preview(item: Item | Problem, converter: converters.Converter | None, options: ChatOptions = ChatOptions(),
            max_length: int = 8192, count: bool = True) -> Preview:
    """``count=False`` leaves token counts at zero (the UI does so until the tokenizer has loaded)."""
    if isinstance(item, Problem):
        return Preview(item.line, None, findings=[Finding(ERROR, item.line, item.code, item.message, item.hint)],
                       max_length=max_length)
    result = Preview(item.line, item.record, max_length=max_length)
    if converter is None:
        result.findings.append(Finding(ERROR, item.line, "format", "no known format fits this file",
                                       "pick a converter"))
        return result
    try:
        result.converted = converter.convert(item.record, options)
    except RecordError as err:
        result.findings.append(Finding(ERROR, item.line, "convert", err.message, err.hint))
        return result
    result.findings.extend(check_record(result.converted, item.line, converter.kind))
    if not count:
        result.counted = False
        return result
    result.message_tokens = tokens.per_message(result.converted)
    result.total_tokens = tokens.count(result.converted)
    if result.too_long:
        result.findings.append(Finding("warning", item.line, "too-long",
                                       f"{result.total_tokens} tokens > max_length {max_length}: dropped silently",
                                       "raise max_length or shorten the sample"))
    return result


def flagged(source, converter: converters.Converter | None, options: ChatOptions, max_length: int,
            cancelled=lambda: False) -> list[int]:
    """Indices of the records whose conversion or validation finds something (the preview's pipeline,
    with the byte bound standing in for a token count wherever it proves a sample short enough)."""
    import orjson

    result = []
    for index in range(len(source)):
        if cancelled():
            break
        item = source.get(index)
        if isinstance(item, Problem) or converter is None:
            result.append(index)
            continue
        try:
            record = converter.convert(item.record, options)
        except RecordError:
            result.append(index)
            continue
        if check_record(record, item.line, converter.kind) or (
                not tokens.line_bound_holds(orjson.dumps(record), max_length) and tokens.count(record) > max_length):
            result.append(index)
    return result


def converted_stats(source, converter: converters.Converter, options: ChatOptions, max_length: int):
    """Exact token statistics of a file as it will be after conversion (records that fail are left out)."""
    from array import array

    import orjson

    from bailian_tui.core.data.scan import Scan, line_hash, stats_of

    scan = Scan(str(source.path), max_length=max_length)
    seen: set[int] = set()
    texts: list[str] = []
    counts = array("I")
    for index in range(len(source)):
        item = source.get(index)
        if not isinstance(item, Item):
            continue
        try:
            record = converter.convert(item.record, options)
        except RecordError:
            continue
        scan.samples += 1
        digest = line_hash(orjson.dumps(record))
        if digest in seen:
            scan.duplicates.append((item.line, 0))
        seen.add(digest)
        for message in record.get("messages") or []:
            scan.roles[str(message.get("role"))] += 1
        texts.append(tokens.chatml(record))
        if len(texts) == 512:
            counts.extend(tokens.count_texts(texts, threads=2))
            texts.clear()
    counts.extend(tokens.count_texts(texts, threads=2))
    scan.token_counts = counts
    scan.too_long = [(0, n) for n in counts if n > max_length]
    return stats_of(scan)
