"""Batch conversion of the MedQA tree, as the original toolkit laid it out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bailian_tui.core.data.converters import medqa
from bailian_tui.core.data.converters.chat import ChatOptions
from bailian_tui.core.data.convert import convert_file
from bailian_tui.core.data.errors import DataFileError

# source folder (under questions/) → output prefix, template
REGIONS = {
    "Mainland/4_options": ("mainland_4opt", medqa.MedQATemplate()),
    "Taiwan": ("taiwan", medqa.MedQATemplate()),
    "US/4_options": ("us_4opt", medqa.ENGLISH),
}
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class BatchRow:
    source: str
    output: str
    status: str  # converted | skipped | failed
    written: int = 0
    note: str = ""


def batch_convert(src: Path, dst: Path, *, max_length: int = 8192, template: medqa.MedQATemplate | None = None
                  ) -> list[BatchRow]:
    """``template`` overrides every region's own (English for the US split, Chinese for the others)."""
    rows = []
    chosen = template
    for folder, (prefix, template) in REGIONS.items():
        template = chosen or template
        for split in SPLITS:
            source = src / folder / f"{split}.jsonl"
            target = dst / f"{prefix}_{split}.jsonl"
            if not source.exists():
                rows.append(BatchRow(str(source), str(target), "skipped", note="no such input"))
                continue
            try:
                report = convert_file(source, target, format="medqa", options=ChatOptions(template=template),
                                      max_length=max_length)
            except DataFileError as err:
                rows.append(BatchRow(str(source), str(target), "failed", note=str(err)))
                continue
            if report.outputs:
                rows.append(BatchRow(str(source), ", ".join(report.outputs), "converted", report.written))
            else:
                first = next((f for f in report.findings if f.severity == "error"), None)
                note = f"line {first.line}: {first.message}" if first else "nothing written"
                rows.append(BatchRow(str(source), str(target), "failed", note=f"{report.errors} errors; {note}"))
    return rows
