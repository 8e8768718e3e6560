"""Headless dataset commands: convert, validate, stats, estimate, batch-convert.

Human output through rich (a progress bar only when stdout is a terminal), ``--json`` for machines.
Exit codes: 0 fine, 1 the data has errors, 2 the input could not be used at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bailian_tui.core.data.errors import DataFileError

SHOW_FINDINGS = 40


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from bailian_tui.core.data import converters

    convert = sub.add_parser("convert", help="convert a dataset to Bailian ChatML JSONL")
    convert.add_argument("src")
    convert.add_argument("dst")
    convert.add_argument("--format", choices=list(converters.CONVERTERS), help="skip auto-detection")
    convert.add_argument("--template", metavar="YAML", help="MedQA template: system, user, option, answer")
    convert.add_argument("--system", help="system prompt to add where the source has none")
    convert.add_argument("--question-column", help="CSV column holding the user's turn")
    convert.add_argument("--answer-column", help="CSV column holding the answer")
    convert.add_argument("--max-length", type=int, default=None)
    convert.add_argument("--skip-bad", action="store_true", help="write the good records, report the bad ones")
    convert.add_argument("--json", action="store_true")

    validate = sub.add_parser("validate", help="check every record of a Bailian file (exit 1 on errors)")
    validate.add_argument("file")
    validate.add_argument("--max-length", type=int, default=None)
    validate.add_argument("--json", action="store_true")

    stats = sub.add_parser("stats", help="exact Qwen token statistics of a Bailian file")
    stats.add_argument("file")
    stats.add_argument("--max-length", type=int, default=None)
    stats.add_argument("--json", action="store_true")

    estimate = sub.add_parser("estimate", help="training cost: tokens × epochs × unit price")
    estimate.add_argument("file")
    estimate.add_argument("--epochs", type=int, required=True)
    estimate.add_argument("--model", default="qwen3-8b")
    estimate.add_argument("--json", action="store_true")

    batch = sub.add_parser("batch-convert", help="convert the MedQA tree (Mainland, Taiwan, US)")
    batch.add_argument("--src", default=None, help="default: datasets/MedQA/questions")
    batch.add_argument("--dst", default=None, help="default: datasets/MedQA_BaiLian")
    batch.add_argument("--json", action="store_true")


COMMANDS = {"convert", "validate", "stats", "estimate", "batch-convert"}


def run(args: argparse.Namespace, settings) -> int:
    try:
        return {"convert": _convert, "validate": _validate, "stats": _stats, "estimate": _estimate,
                "batch-convert": _batch}[args.command](args, settings)
    except DataFileError as err:
        _fail(args, str(err))
        return 2


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _fail(args: argparse.Namespace, message: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"error": message}, ensure_ascii=False))
    else:
        print(f"bailian-tui: {message}", file=sys.stderr)


@contextmanager
def _progress(args: argparse.Namespace, label: str) -> Iterator:
    """A progress callback: a rich bar on a terminal, nothing otherwise (pipes, CI, --json)."""
    if getattr(args, "json", False) or not sys.stdout.isatty():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _print_findings(console, path: str, findings, total: int) -> None:
    styles = {"error": "bold red", "warning": "yellow", "info": "cyan"}
    for finding in findings[:SHOW_FINDINGS]:
        hint = f" — {finding.hint}" if finding.hint else ""
        console.print(f"{finding.where(path)}: [{styles[finding.severity]}]{finding.severity}[/]: "
                      f"{finding.message}[dim]{hint}[/]")
    if total > SHOW_FINDINGS:
        console.print(f"… and {total - SHOW_FINDINGS} more findings (use --json for all of them)")


def _max_length(args, settings) -> int:
    return args.max_length or settings.get("validation.max_length")


def _convert(args: argparse.Namespace, settings) -> int:
    from bailian_tui.core.data.converters import medqa
    from bailian_tui.core.data.converters.chat import ChatOptions
    from bailian_tui.core.data.convert import convert_file

    template = medqa.load_template(args.template) if args.template else None
    options = ChatOptions(system=args.system, question_column=args.question_column,
                          answer_column=args.answer_column, template=template)
    with _progress(args, "converting") as progress:
        report = convert_file(args.src, args.dst, format=args.format, options=options,
                              max_length=_max_length(args, settings), skip_bad=args.skip_bad, progress=progress)
    if args.json:
        print(json.dumps({"source": report.source, "format": report.format, "kind": report.kind,
                          "read": report.read, "written": report.written, "skipped": report.skipped,
                          "outputs": report.outputs, "too_long": report.too_long,
                          "findings": [f.as_dict() for f in report.findings]}, ensure_ascii=False))
    else:
        console = _console()
        _print_findings(console, report.source, report.findings, len(report.findings))
        if report.outputs:
            console.print(f"[green]converted[/] {report.written} of {report.read} records ({report.format} → "
                          f"{report.kind}) into {', '.join(report.outputs)}")
            if report.skipped:
                console.print(f"[yellow]skipped {report.skipped} bad records[/] (--skip-bad)")
        else:
            console.print(f"[bold red]nothing written[/]: {report.errors} errors in {report.source}. "
                          "Fix them, or pass --skip-bad to write the good records only.")
    return 0 if report.outputs else 1


def _validate(args: argparse.Namespace, settings) -> int:
    from bailian_tui.core.data.scan import scan_bailian_file

    with _progress(args, "validating") as progress:
        scan = scan_bailian_file(args.file, "validation and upload", max_length=_max_length(args, settings),
                                 progress=progress)
    if args.json:
        print(json.dumps({"file": scan.path, "kind": scan.kind, "samples": scan.samples,
                          "errors": scan.counts["error"], "warnings": scan.counts["warning"],
                          "too_long": [{"line": line, "tokens": n} for line, n in scan.too_long],
                          "duplicates": len(scan.duplicates), "max_length": scan.max_length,
                          "findings": [f.as_dict() for f in scan.findings]}, ensure_ascii=False))
    else:
        console = _console()
        _print_findings(console, scan.path, scan.findings, sum(scan.counts.values()))
        verdict = "[bold red]invalid[/]" if scan.errors else "[bold green]valid[/]"
        console.print(f"{verdict}: {scan.samples} {scan.kind} samples, {scan.counts['error']} errors, "
                      f"{scan.counts['warning']} warnings; {len(scan.too_long)} longer than "
                      f"max_length {scan.max_length} (dropped by the platform)")
    return 1 if scan.errors else 0


def _stats(args: argparse.Namespace, settings) -> int:
    from bailian_tui.core.data.scan import scan_bailian_file, stats_of

    with _progress(args, "counting tokens") as progress:
        scan = scan_bailian_file(args.file, "token statistics", max_length=_max_length(args, settings),
                                 exact=True, progress=progress)
    stats = stats_of(scan)
    if args.json:
        print(json.dumps({"file": scan.path, **stats.__dict__}, ensure_ascii=False))
        return 0
    from rich.table import Table

    console = _console()
    table = Table("samples", "tokens", "mean", "p50", "p95", "max", f"> {stats.max_length}", "duplicates")
    table.add_row(str(stats.samples), f"{stats.total:,}", f"{stats.mean:.1f}", str(stats.p50), str(stats.p95),
                  str(stats.max), str(stats.too_long), str(stats.duplicates))
    console.print(table)
    peak = max((c for _, _, c in stats.histogram), default=1) or 1
    for low, high, n in stats.histogram:
        console.print(f"{low:>7}–{high:<7} {'█' * round(40 * n / peak):<40} {n}")
    console.print("messages per role: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.roles.items())))
    return 0


def _estimate(args: argparse.Namespace, settings) -> int:
    from bailian_tui.core.data.cost import estimate
    from bailian_tui.core.data.scan import scan_bailian_file, stats_of

    with _progress(args, "counting tokens") as progress:
        scan = scan_bailian_file(args.file, "cost estimates", exact=True, progress=progress)
    result = estimate(stats_of(scan).total, args.epochs, args.model, settings)
    if args.json:
        print(json.dumps({"file": scan.path, **result.as_dict()}, ensure_ascii=False))
    else:
        _console().print(f"{args.model}: {result.formula}")
    return 0


def _batch(args: argparse.Namespace, settings) -> int:
    from bailian_tui.core.data.batch import batch_convert
    from bailian_tui.simulator.demo import datasets_root

    root = Path(settings.get("paths.datasets_dir") or datasets_root())
    src = Path(args.src) if args.src else root / "MedQA" / "questions"
    dst = Path(args.dst) if args.dst else root / "MedQA_BaiLian"
    if not src.is_dir():
        raise DataFileError(str(src), "is not a folder", "point --src at the MedQA questions/ folder")
    rows = batch_convert(src, dst)
    if args.json:
        print(json.dumps([row.__dict__ for row in rows], ensure_ascii=False))
    else:
        from rich.table import Table

        table = Table("input", "output", "status", "records", "note")
        for row in rows:
            style = {"converted": "green", "skipped": "dim", "failed": "bold red"}[row.status]
            table.add_row(row.source, row.output, f"[{style}]{row.status}[/]", str(row.written or ""), row.note)
        _console().print(table)
    return 1 if any(row.status == "failed" for row in rows) else 0
