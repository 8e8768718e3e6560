"""Local commands: dataset work (convert, validate, stats, estimate, batch-convert), config, sim.

Exit codes: 0 fine, 1 the data has errors, 2 the input could not be used at all.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bailian_tui.cli.app import EXIT_FAILED, EXIT_OK, Context, UsageError, command
from bailian_tui.cli.output import Column

SHOW_FINDINGS = 40


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from bailian_tui.core.data import converters

    p = command(sub, "convert", "convert a dataset (MedQA, Alpaca, ShareGPT, CSV, GSM8K…) to Bailian ChatML JSONL",
                _convert, examples="  bailian-tui convert US/train.jsonl us_train.jsonl --template english\n"
                                   "  bailian-tui convert qa.csv qa.jsonl --question-column q --answer-column a")
    p.add_argument("src")
    p.add_argument("dst")
    _converter_options(p, converters)
    p.add_argument("--format", choices=list(converters.CONVERTERS), help="skip auto-detection")
    p.add_argument("--max-length", type=int, default=None, help="token limit (default: validation.max_length)")
    p.add_argument("--skip-bad", action="store_true", help="write the good records, report the bad ones")

    p = command(sub, "validate", "check every record of a Bailian file: FILE:LINE diagnostics, exit 1 on errors",
                _validate, examples="  bailian-tui validate train.jsonl | grep error:")
    p.add_argument("file")
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument("--all", action="store_true", help=f"every finding (default: the first {SHOW_FINDINGS})")

    p = command(sub, "stats", "exact Qwen token statistics of a Bailian file", _stats)
    p.add_argument("file")
    p.add_argument("--max-length", type=int, default=None)

    p = command(sub, "estimate", "training cost: tokens × epochs × unit price", _estimate,
                examples="  bailian-tui estimate train.jsonl --epochs 3 --model qwen3-8b")
    p.add_argument("file")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--model", default="qwen3-8b")

    p = command(sub, "batch-convert", "convert the MedQA tree (Mainland, Taiwan, US) in one go", _batch,
                examples="  bailian-tui batch-convert --src datasets/MedQA/questions --dst out/\n"
                         "  bailian-tui batch-convert --template english   # every region in English")
    p.add_argument("--src", default=None, help="default: <datasets>/MedQA/questions")
    p.add_argument("--dst", default=None, help="default: <datasets>/MedQA_BaiLian")
    p.add_argument("--template", metavar="NAME|YAML",
                   help="MedQA prompt for every region: chinese, english or a YAML file (default: English for "
                        "the US split, Chinese for the others)")
    p.add_argument("--max-length", type=int, default=None)

    p = command(sub, "config", "show the settings in force and where each came from, or validate the file",
                _config, examples="  bailian-tui --config ./cfg.yaml config show")
    p.add_argument("action", choices=["show", "validate"])

    p = command(sub, "sim", "serve the DashScope simulator on loopback for any DashScope client", _sim,
                examples="  bailian-tui sim --port 0 --speed 50 --pending-seconds 0")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed)")
    p.add_argument("--api-key", default=None, help="key clients must send (default: the demo key)")
    p.add_argument("--empty", action="store_true", help="start with no files, jobs or deployments")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument("--pending-seconds", type=float, default=None,
                   help="how long a new job stays PENDING (0 suits the official CLI's 30 s poll)")


def _converter_options(p: argparse.ArgumentParser, converters) -> None:
    p.add_argument("--template", metavar="NAME|YAML",
                   help="MedQA prompt: chinese (default), english, or a YAML file with system/user/option/answer")
    p.add_argument("--system", help="system prompt to add where the source has none")
    p.add_argument("--question-column", help="CSV/XLSX column holding the user's turn")
    p.add_argument("--answer-column", help="CSV/XLSX column holding the answer")


def medqa_template(name: str | None):
    from bailian_tui.core.data.converters import medqa

    if not name:
        return None
    if name.lower() in ("chinese", "zh", "default"):
        return medqa.MedQATemplate()
    if name.lower() in ("english", "en"):
        return medqa.ENGLISH
    if not Path(name).exists():
        raise UsageError(f"--template {name}: not chinese, english or an existing YAML file")
    return medqa.load_template(name)


@contextmanager
def progress(ctx: Context, label: str) -> Iterator:
    """A progress bar on stderr when it is a terminal and output is for people; nothing otherwise."""
    out = ctx.out
    if out.json or out.quiet or not out.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  transient=True, console=Console(stderr=True, no_color=not out.color)) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _findings(ctx: Context, path: str, findings, total: int, show_all: bool = False) -> None:
    shown = findings if show_all else findings[:SHOW_FINDINGS]
    for f in shown:
        ctx.out.diagnostic(f.where(path), f.severity, f.message, f.hint or "")
    if total > len(shown):
        ctx.out.info(f"… and {total - len(shown)} more findings (--all or --json for every one)")


def _max_length(ctx: Context) -> int:
    return ctx.args.max_length or ctx.settings.get("validation.max_length")


def _convert(ctx: Context) -> int:
    from bailian_tui.core.data.convert import convert_file
    from bailian_tui.core.data.converters.chat import ChatOptions

    a = ctx.args
    options = ChatOptions(system=a.system, question_column=a.question_column, answer_column=a.answer_column,
                          template=medqa_template(a.template))
    with progress(ctx, "converting") as bar:
        report = convert_file(a.src, a.dst, format=a.format, options=options, max_length=_max_length(ctx),
                              skip_bad=a.skip_bad, progress=bar)
    if ctx.out.json:
        ctx.out.emit({"source": report.source, "format": report.format, "kind": report.kind, "read": report.read,
                      "written": report.written, "skipped": report.skipped, "outputs": report.outputs,
                      "too_long": report.too_long, "findings": [f.as_dict() for f in report.findings]})
    else:
        _findings(ctx, report.source, report.findings, len(report.findings))
        if report.outputs:
            ctx.out.line(f"converted {report.written} of {report.read} records ({report.format} → {report.kind}) "
                         f"into {', '.join(report.outputs)}")
            if report.skipped:
                ctx.out.line(f"skipped {report.skipped} bad records (--skip-bad)")
        else:
            ctx.out.line(f"nothing written: {report.errors} errors in {report.source}. Fix them, or pass "
                         "--skip-bad to write the good records only.")
    return EXIT_OK if report.outputs else EXIT_FAILED


def _validate(ctx: Context) -> int:
    from bailian_tui.core.data.scan import scan_bailian_file

    with progress(ctx, "validating") as bar:
        scan = scan_bailian_file(ctx.args.file, "validation and upload", max_length=_max_length(ctx), progress=bar)
    if ctx.out.json:
        ctx.out.emit({"file": scan.path, "kind": scan.kind, "samples": scan.samples, "errors": scan.counts["error"],
                      "warnings": scan.counts["warning"],
                      "too_long": [{"line": line, "tokens": n} for line, n in scan.too_long],
                      "duplicates": len(scan.duplicates), "max_length": scan.max_length,
                      "findings": [f.as_dict() for f in scan.findings]})
    else:
        _findings(ctx, scan.path, scan.findings, sum(scan.counts.values()), ctx.args.all)
        verdict = ctx.out.paint("invalid", "error") if scan.errors else ctx.out.paint("valid", "SUCCEEDED")
        summary = (f"{verdict}: {scan.samples} {scan.kind} samples, {scan.counts['error']} errors, "
                   f"{scan.counts['warning']} warnings; {len(scan.too_long)} longer than max_length "
                   f"{scan.max_length} (dropped by the platform)")
        if ctx.out.tty:
            ctx.out.line(summary)
        else:
            ctx.out.info(summary)  # a pipe gets only diagnostics on stdout, the verdict goes to stderr
    return EXIT_FAILED if scan.errors else EXIT_OK


def _stats(ctx: Context) -> int:
    from bailian_tui.core.data.scan import scan_bailian_file, stats_of

    with progress(ctx, "counting tokens") as bar:
        scan = scan_bailian_file(ctx.args.file, "token statistics", max_length=_max_length(ctx), exact=True,
                                 progress=bar)
    stats = stats_of(scan)
    if ctx.out.json:
        ctx.out.emit({"file": scan.path, **stats.__dict__})
        return EXIT_OK
    ctx.out.table([Column("samples"), Column("tokens"), Column("mean"), Column("p50"), Column("p95"), Column("max"),
                   Column(f"> {stats.max_length}"), Column("duplicates")],
                  [[stats.samples, stats.total, f"{stats.mean:.1f}", stats.p50, stats.p95, stats.max,
                    stats.too_long, stats.duplicates]])
    if ctx.out.tty:
        peak = max((c for _, _, c in stats.histogram), default=1) or 1
        ctx.out.line()
        for low, high, n in stats.histogram:
            ctx.out.line(f"{low:>7}–{high:<7} {'█' * round(40 * n / peak):<40} {n}")
        ctx.out.line("messages per role: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.roles.items())))
    return EXIT_OK


def _estimate(ctx: Context) -> int:
    from bailian_tui.core.data.cost import estimate
    from bailian_tui.core.data.scan import scan_bailian_file, stats_of

    if ctx.args.epochs < 1:
        raise UsageError("--epochs must be 1 or more")
    with progress(ctx, "counting tokens") as bar:
        scan = scan_bailian_file(ctx.args.file, "cost estimates", exact=True, progress=bar)
    result = estimate(stats_of(scan).total, ctx.args.epochs, ctx.args.model, ctx.settings)
    if ctx.out.json:
        ctx.out.emit({"file": scan.path, **result.as_dict()})
    else:
        ctx.out.line(f"{ctx.args.model}: {result.formula}")
    return EXIT_OK


def _batch(ctx: Context) -> int:
    from bailian_tui.core.data.batch import batch_convert
    from bailian_tui.core.data.errors import DataFileError
    from bailian_tui.simulator.demo import datasets_root

    a = ctx.args
    root = Path(ctx.settings.get("paths.datasets_dir") or datasets_root())
    src = Path(a.src) if a.src else root / "MedQA" / "questions"
    dst = Path(a.dst) if a.dst else root / "MedQA_BaiLian"
    if not src.is_dir():
        raise DataFileError(str(src), "is not a folder", "point --src at the MedQA questions/ folder")
    rows = batch_convert(src, dst, max_length=_max_length(ctx), template=medqa_template(a.template))
    if ctx.out.json:
        ctx.out.emit([row.__dict__ for row in rows])
    else:
        ctx.out.table([Column("input", key=True), Column("output", key=True), Column("status", status=True),
                       Column("records"), Column("note", drop=1)],
                      [[r.source, r.output, r.status, r.written or "", r.note] for r in rows])
    return EXIT_FAILED if any(row.status == "failed" for row in rows) else EXIT_OK


def _config(ctx: Context) -> int:
    from bailian_tui.core import config as config_mod

    settings = ctx.settings
    if ctx.args.action == "validate":
        if ctx.out.json:
            ctx.out.emit({"file": str(settings.path) if settings.path else None, "ok": True})
        else:
            ctx.out.line(f"{settings.path or 'no config file'}: ok")
        return EXIT_OK
    rows = []
    for key in config_mod.SCHEMA:
        value = settings.values[key]
        shown = settings.masked_key if key == "dashscope.api_key" and value else value
        rows.append((key, shown, settings.origins.get(key, "default")))
    if ctx.out.json:
        ctx.out.emit({"file": str(settings.path) if settings.path else None,
                      "settings": {k: {"value": v, "from": o} for k, v, o in rows}})
    else:
        ctx.out.table([Column("key", key=True), Column("value"), Column("from", drop=1)],
                      [(k, "" if v is None else repr(v) if not isinstance(v, str) or k != "dashscope.api_key" else v, o)
                       for k, v, o in rows])
    return EXIT_OK


def _sim(ctx: Context) -> int:
    from bailian_tui.simulator.clock import SimClock
    from bailian_tui.simulator.demo import DEMO_KEY, seed
    from bailian_tui.simulator.server import SimServer
    from bailian_tui.simulator.state import SimConfig, SimState

    a = ctx.args
    config = SimConfig()
    if a.pending_seconds is not None:
        config.pending_seconds = a.pending_seconds
    key = a.api_key or DEMO_KEY
    state = SimState(SimClock(speed=a.speed), config, api_key=key)
    if not a.empty:
        seed(state)
    try:
        server = SimServer(state, port=a.port)
    except OSError as err:
        raise UsageError(f"sim: cannot listen on 127.0.0.1:{a.port}: {err.strerror}; pick another --port") from None
    if ctx.out.json:
        ctx.out.emit({"base_url": server.base_url, "api_key": key})
    else:
        ctx.out.line("DashScope simulator listening. Point any DashScope client at it with:")
        ctx.out.line(f"  export DASHSCOPE_HTTP_BASE_URL={server.base_url}")
        ctx.out.line(f"  export DASHSCOPE_BASE_URL={server.base_url}")
        ctx.out.line(f"  export DASHSCOPE_API_KEY={key}")
        ctx.out.line("Ctrl+C stops it.")
    sys.stdout.flush()
    try:
        server.serve_forever()
    finally:
        server.stop()
    return EXIT_OK
