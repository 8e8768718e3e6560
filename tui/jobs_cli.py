"""Headless job commands: ``jobs list``, ``jobs watch ID…``, ``jobs create --config job.yaml``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bailian_tui.core.errors import PlatformError

COMMANDS = {"jobs"}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    jobs = sub.add_parser("jobs", help="list, watch and create fine-tune jobs")
    actions = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every job (all pages), with the dataset each of ours came from")
    listing.add_argument("--json", action="store_true")
    watch = actions.add_parser("watch", help="live status, progress, loss and log tail of jobs until they end")
    watch.add_argument("job_ids", nargs="+", metavar="ID")
    create = actions.add_parser("create", help="check, estimate and create a job from a YAML file")
    create.add_argument("--config", dest="job_config", required=True, metavar="YAML")
    create.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    create.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, settings) -> int:
    try:
        from bailian_tui.core.lifecycle import run_async  # signals cancel the main task: docs/signals.md

        return run_async({"list": _list, "watch": _watch, "create": _create}[args.jobs_command](args, settings))
    except PlatformError as err:
        print(f"bailian-tui: {err.human()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _service(settings):
    from bailian_tui.core.platform import Platform
    from bailian_tui.core.service import Service
    from bailian_tui.core.store import Store

    store = Store(settings.state_dir / "state.db", endpoint=settings.base_url or "default")
    return Service(Platform.from_settings(settings), store)


async def _list(args: argparse.Namespace, settings) -> int:
    service = _service(settings)
    try:
        rows = await service.job_rows()
    finally:
        await service.platform.aclose()
    if args.json:
        print(json.dumps([{**row.job.raw, "status": row.job.status.value, "dataset": row.dataset} for row in rows],
                         ensure_ascii=False, default=str))
        return 0
    from rich.console import Console
    from rich.table import Table

    from bailian_tui.tui.format import ago, status_text

    from bailian_tui.tui.format import cells

    table = Table("job id", "model", "type", "status", "created", "fine-tuned model", "dataset")
    for row in rows:
        job = row.job
        table.add_row(*cells(job.job_id, job.model, job.training_type, status_text(job.status.value),
                             ago(job.created_at), job.finetuned_output or "",
                             Path(row.dataset).name if row.dataset else ""))
    for warning in service.platform.stats.warnings:
        print(f"bailian-tui: warning: {warning}", file=sys.stderr)
    Console().print(table)
    return 0


async def _watch(args: argparse.Namespace, settings) -> int:
    from rich.console import Console, Group
    from rich.live import Live
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from bailian_tui.core.monitor import Scheduler
    from bailian_tui.tui.format import status_text

    service = _service(settings)
    console = Console()
    failed = False

    def render():
        table = Table("job", "status", "progress", "step", "loss", "eval loss", "last log line", expand=True)
        for watched in scheduler.jobs.values():
            job, metrics = watched.job, watched.tail.metrics
            progress = metrics.progress
            bar = f"{'█' * int((progress or 0) * 20):<20} {progress:.0%}" if progress is not None else ""
            step = f"{metrics.step}/{metrics.total_steps}" if metrics.step is not None else ""
            table.add_row(Text(watched.job_id), status_text(job.status.value) if job else Text("…"), bar, step,
                          f"{metrics.latest_loss:.4f}" if metrics.latest_loss is not None else "",
                          f"{metrics.eval_loss[-1].value:.4f}" if metrics.eval_loss else "",
                          Text((watched.error or (watched.tail.lines[-1] if watched.tail.lines else ""))[-80:]))
        return Group(table)

    reported: set[str] = set()

    def on_update(update) -> None:
        nonlocal failed
        job = update.watched.job
        # Say how each job ended, also one that had already ended when the watch began.
        if job is not None and job.status.finished and update.watched.job_id not in reported:
            reported.add(update.watched.job_id)
            failed = failed or job.status.value != "SUCCEEDED"
            extra = f" → {job.finetuned_output}" if job.finetuned_output else ""
            console.print("\a" + escape(f"{job.job_id} {job.status.value}{extra}"))

    scheduler = Scheduler(service.platform, requests_per_second=settings.get("polling.requests_per_second"),
                          on_update=on_update)
    for job_id in args.job_ids:
        scheduler.watch(job_id)
    try:
        with Live(render(), console=console, refresh_per_second=2, transient=False) as live:
            while any(w.job is None or not w.job.status.finished for w in scheduler.jobs.values()):
                delay = await scheduler.tick()
                live.update(render())
                if delay > 0:
                    await asyncio.sleep(min(delay, 0.5))
    finally:
        await service.platform.aclose()
    return 1 if failed else 0


def _report(path: Path, problems) -> bool:
    """Print every problem (file: level: field: message); True when one blocks the job."""
    for problem in problems:
        level = "error" if problem.blocking else "warning"
        print(f"{path}: {level}: {problem.field}: {problem.message}", file=sys.stderr)
    return any(p.blocking for p in problems)


async def _create(args: argparse.Namespace, settings) -> int:
    import yaml

    from bailian_tui.core import jobform
    from bailian_tui.core.data.cost import estimate
    from bailian_tui.core.data.scan import stats_of, validate_file
    from bailian_tui.core.platform import JobRequest

    path = Path(args.job_config)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        print(f"bailian-tui: {path}: cannot be read ({exc.__class__.__name__})", file=sys.stderr)
        return 2
    unknown = set(spec) - {"model", "training_type", "training_files", "validation_files", "hyper_parameters",
                           "job_name", "model_name"}
    if unknown or not spec.get("model") or not spec.get("training_files"):
        print(f"bailian-tui: {path}: needs model and training_files"
              + (f"; unknown keys: {', '.join(sorted(unknown))}" if unknown else ""), file=sys.stderr)
        return 2
    raw_hp = spec.get("hyper_parameters") or {}
    training_type = spec.get("training_type", "sft")
    # The same check as the new-job form (jobform.review), with the training samples counted — before
    # anything is uploaded, so a request that cannot be made costs nothing.
    hp, _ = jobform.prepare(raw_hp)
    max_length = hp.get("max_length", settings.get("validation.max_length"))
    service = _service(settings)
    try:
        samples, tokens, datasets, unknown_samples = 0, 0, [], False
        entries: list[tuple[str, str, Path | None]] = []  # (role, file id or path, local file to upload)
        for role, key in (("training", "training_files"), ("validation", "validation_files")):
            for entry in spec.get(key) or []:
                local = Path(str(entry)).expanduser()
                if not local.exists():
                    entries.append((role, str(entry), None))  # a file_id already on the platform
                    # Its samples count for the gate, as in the form: the local file it was uploaded from.
                    upload = service.store.upload_for_file_id(str(entry))
                    if role == "training" and upload is not None and Path(upload.path).is_file():
                        scan = validate_file(upload.path, exact=True)
                        samples, tokens = samples + scan.samples, tokens + stats_of(scan).total
                    elif role == "training":
                        unknown_samples = True
                    continue
                scan = validate_file(local, max_length=int(max_length), exact=True)
                if scan.errors:
                    first = next(f for f in scan.findings if f.severity == "error")
                    print(f"bailian-tui: {first.where(str(local))}: {first.message} ({scan.errors} errors) — "
                          "fix the data first: bailian-tui validate", file=sys.stderr)
                    return 1
                if role == "training":
                    samples += scan.samples
                    tokens += stats_of(scan).total
                    datasets.append(str(local))
                entries.append((role, str(local), local))
        hp, problems = jobform.review(spec["model"], training_type, raw_hp,
                                      train_samples=None if unknown_samples else samples,
                                      has_validation=bool(spec.get("validation_files")))
        if unknown_samples:
            print(f"{path}: warning: training_files: a file id this machine did not upload: its samples are "
                  "unknown, so 'more training samples than batch_size' could not be checked", file=sys.stderr)
        if _report(path, problems):
            return 1
        ids: dict[str, list[str]] = {"training": [], "validation": []}
        for role, name, local in entries:
            if local is None:
                ids[role].append(name)
                continue
            result = await service.upload(local)
            if result.message:
                print(f"bailian-tui: {result.message}", file=sys.stderr)
            ids[role].append(result.file.file_id)
        request = JobRequest(model=spec["model"], training_file_ids=ids["training"],
                             validation_file_ids=ids["validation"], training_type=training_type, hyper_parameters=hp,
                             job_name=spec.get("job_name"), model_name=spec.get("model_name"))
        if tokens:
            cost = estimate(tokens, int(hp.get("n_epochs", 1)), spec["model"], settings)
            print(f"estimated cost: {cost.formula}", file=sys.stderr)
        if not args.yes:
            if not sys.stdin.isatty():
                print("bailian-tui: not creating a billed job without confirmation: pass --yes", file=sys.stderr)
                return 1
            if input("create this job? [y/N] ").strip().lower() != "y":
                return 1
        created = await service.create_job_outcome(request, dataset=datasets[0] if datasets else None)
        job = created.item
        if created.message:
            print(f"bailian-tui: {created.message}", file=sys.stderr)
    finally:
        await service.platform.aclose()
    if args.json:
        print(json.dumps({"job_id": job.job_id, "status": job.status.value, "job_name": job.job_name}))
    else:
        print(f"created {job.job_id} ({job.status.value}); watch it: bailian-tui jobs watch {job.job_id}")
    return 0
