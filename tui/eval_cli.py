"""``bailian-tui eval --model M [--baseline B] FILE``: accuracy of a model on a converted test split."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from bailian_tui.core.data.errors import DataFileError

COMMANDS = {"eval"}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="accuracy of a model (vs a baseline) on a converted multiple-choice split")
    parser.add_argument("file", help="a converted test split, e.g. datasets/MedQA_BaiLian/mainland_4opt_test.jsonl")
    parser.add_argument("--model", required=True, help="a deployed model or any base model")
    parser.add_argument("--baseline", help="a second model to compare with (e.g. the base model)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, settings) -> int:
    try:
        from bailian_tui.core.lifecycle import run_async

        return run_async(_eval(args, settings))
    except DataFileError as err:
        print(f"bailian-tui: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: answers so far are saved; run the same command to resume", file=sys.stderr)
        return 130


async def _eval(args: argparse.Namespace, settings) -> int:
    from bailian_tui.core.evaluate import evaluate, results_path
    from bailian_tui.core.platform import Platform

    models = [args.model] + ([args.baseline] if args.baseline else [])
    bar = None
    if sys.stderr.isatty() and not args.json:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("asking", total=None)
    async with Platform.from_settings(settings) as platform:
        summary = await evaluate(platform, args.file, models, concurrency=args.concurrency, limit=args.limit,
                                 progress=(lambda done, total: bar.update(task, completed=done, total=total))
                                 if bar else None)
    if bar:
        bar.stop()
    out = results_path(__import__("pathlib").Path(args.file), models)
    status = 0 if summary.complete else 1  # a question that could not be asked is not a result
    if args.json:
        print(json.dumps({**summary.as_dict(), "results": str(out)}, ensure_ascii=False))
        return status
    from rich.console import Console
    from rich.table import Table

    table = Table("model", "answered", "accuracy", "95% CI", "unparseable", "errors")
    for score in summary.scores:
        low, high = score.interval
        table.add_row(score.model, f"{score.answered} of {summary.questions}", f"{score.accuracy:.1%}",
                      f"{low:.1%} – {high:.1%}", str(score.unparseable),
                      f"[bold red]{score.missing}[/]" if score.missing else "0")
    console = Console()
    console.print(table)
    errors = Console(stderr=True, highlight=False)
    for score in summary.scores:
        if score.stopped:
            errors.print(f"[bold red]{score.model}[/]: stopped asking after the first failure — {score.stopped}. "
                         f"{score.not_asked} questions not asked. Is the name right, and is the model deployed "
                         "and RUNNING? (bailian-tui jobs list / the Deployments screen)")
        elif score.errors:
            errors.print(f"[bold red]{score.model}[/]: {score.errors} requests failed; run the same command to "
                         "ask those questions again")
        for message in score.error_messages:
            errors.print(f"  {score.model}: {message}")
    if len(models) > 1:
        console.print(f"{len(summary.disagreements)} questions where the models disagree")
    console.print(f"per-question results: {out}\nsummary: {out.with_suffix('.summary.json')}")
    return status
