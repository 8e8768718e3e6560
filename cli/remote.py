"""Commands that talk to the platform: files, jobs, deployments, chat, capability, eval.

Every write takes ``--dry-run`` (prints the request and the equivalent official ``dashscope`` command,
sends nothing) and asks for confirmation on a terminal unless ``--yes``; without a terminal, a billed or
destructive write needs ``--yes`` (``files upload`` does not: it is deduplicated and bills nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bailian_tui.cli.app import (EXIT_FAILED, EXIT_OK, Context, Failed, UsageError, command, group,
                                 write_options)
from bailian_tui.cli.output import Column


def add_parsers(sub: argparse._SubParsersAction) -> None:
    # -- files ---------------------------------------------------------------------------------------
    files = group(sub, "files", "files on the platform: list, get, upload, delete")
    command(files, "list", "every uploaded file (all pages)", _files_list,
            examples="  bailian-tui files list --json | jq -r '.[].file_id'")
    p = command(files, "get", "one file's details", _files_get)
    p.add_argument("file_id")
    p = command(files, "upload", "upload local files (the same bytes already uploaded are reused)", _files_upload,
                examples="  bailian-tui files upload train.jsonl --json | jq -r '.[0].file_id'")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--description", default=None)
    p.add_argument("--force", action="store_true", help="upload again even if these bytes are already there")
    p.add_argument("--no-validate", action="store_true", help="upload even if the file has errors")
    write_options(p, confirm=False)
    p = command(files, "delete", "delete a file", _files_delete)
    p.add_argument("file_id")
    write_options(p)

    # -- jobs ----------------------------------------------------------------------------------------
    jobs = group(sub, "jobs", "fine-tune jobs: list, get, logs, watch, create, cancel, delete, checkpoints, export")
    p = command(jobs, "list", "every job (all pages), with the local dataset each of ours came from", _jobs_list,
                examples="  bailian-tui jobs list --status RUNNING\n"
                         "  bailian-tui jobs list --json | jq -r '.[] | select(.status==\"FAILED\") | .job_id'")
    p.add_argument("--status", type=str.upper, default=None, help="only jobs in this status (RUNNING, FAILED…)")
    p.add_argument("--model", default=None, help="only jobs of this base model")
    p.add_argument("--all-profiles", action="store_true",
                   help="every profile's jobs in one list (ids of non-default profiles read profile:id)")
    p = command(jobs, "get", "one job: status, model, hyper-parameters, fine-tuned model", _jobs_get,
                examples="  bailian-tui jobs get ft-… --metrics --json | jq .metrics.loss")
    p.add_argument("job_id")
    p.add_argument("--metrics", action="store_true", help="also read the log: step, loss, eval loss")
    p = command(jobs, "logs", "a job's log lines", _jobs_logs,
                examples="  bailian-tui jobs logs ft-… --tail 20\n  bailian-tui jobs logs ft-… --search loss --follow")
    p.add_argument("job_id")
    p.add_argument("--tail", type=int, default=None, metavar="N", help="only the last N lines")
    p.add_argument("--search", default=None, metavar="TEXT", help="only lines containing TEXT (any case)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until the job ends")
    p.add_argument("--interval", type=float, default=5.0, metavar="S", help="poll interval of --follow")
    p = command(jobs, "watch", "follow jobs until they end: a live table on a terminal, one line per event in a "
                               "pipe (NDJSON with --json); exit 0 if all succeeded", _jobs_watch,
                examples="  bailian-tui jobs watch ft-a ft-b > watch.log\n"
                         "  bailian-tui jobs watch ft-… --json | jq -c 'select(.event==\"progress\")'")
    p.add_argument("job_ids", nargs="+", metavar="ID")
    p.add_argument("--every", type=float, default=10.0, metavar="S",
                   help="at most one progress line per job per S seconds (default 10)")
    p.add_argument("--logs", action="store_true", help="also print each new log line")
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="give up after S seconds (exit 1)")
    p = command(jobs, "create", "check, estimate and create a job from a YAML file and/or flags", _jobs_create,
                examples="  bailian-tui jobs create job.yaml --dry-run\n"
                         "  bailian-tui jobs create --model qwen3-8b --train train.jsonl --training-type sft \\\n"
                         "      --set n_epochs=3 --set learning_rate=1.6e-5 --yes\n"
                         "  (YAML format: docs/cli.md and examples/job.yaml)")
    p.add_argument("spec", nargs="?", metavar="JOB.yaml", help="a job file (flags override its values)")
    p.add_argument("--model", default=None)
    p.add_argument("--train", nargs="+", action="extend", default=[], metavar="FILE_OR_ID",
                   help="training data: local files (validated, deduplicated, uploaded) or file ids")
    p.add_argument("--validation", nargs="+", action="extend", default=[], metavar="FILE_OR_ID")
    p.add_argument("--training-type", default=None, help="sft (default), efficient_sft, dpo_full, dpo_lora, cpt")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="hp",
                   help="a hyper-parameter, e.g. --set n_epochs=3 (repeat)")
    p.add_argument("--job-name", default=None)
    p.add_argument("--model-name", default=None, help="name of the fine-tuned model")
    write_options(p)
    for name, help_text, func in (("cancel", "cancel a running job", _jobs_cancel),
                                  ("delete", "delete a finished job", _jobs_delete),
                                  ("pause", "pause a running job (OpenAI-compatible profiles that offer it)",
                                   _jobs_pause),
                                  ("resume", "resume a paused job", _jobs_resume)):
        p = command(jobs, name, help_text, func)
        p.add_argument("job_id")
        write_options(p)
    p = command(jobs, "results", "a finished job's per-step metrics CSV (result_files of OpenAI-compatible "
                "profiles)", _jobs_results, examples="  bailian-tui --profile xpulink jobs results ftjob-… -o m.csv")
    p.add_argument("job_id")
    p.add_argument("-o", "--output", metavar="FILE", help="write it here (default: standard output)")
    p = command(jobs, "checkpoints", "a job's checkpoints (sft / efficient_sft on multi-checkpoint models)",
                _jobs_checkpoints)
    p.add_argument("job_id")
    p = command(jobs, "export", "export a checkpoint as a model that can be deployed", _jobs_export,
                examples="  bailian-tui jobs export ft-… checkpoint-40 --model-name my-model --yes")
    p.add_argument("job_id")
    p.add_argument("checkpoint")
    p.add_argument("--model-name", required=True)
    write_options(p)

    # -- deployments ---------------------------------------------------------------------------------
    deps = group(sub, "deployments", "deployments: list, get, create, scale, delete")
    command(deps, "list", "every deployment", _deps_list)
    p = command(deps, "get", "one deployment", _deps_get)
    p.add_argument("deployed_model")
    p = command(deps, "create", "deploy a fine-tuned (or exported) model", _deps_create,
                examples="  bailian-tui deployments create qwen3-8b-ft-… --plan lora --wait --yes")
    p.add_argument("model_name")
    p.add_argument("--capacity", type=int, default=1)
    p.add_argument("--plan", default=None, help="ptu, mu or lora (the dashscope CLI requires one)")
    p.add_argument("--suffix", default=None)
    p.add_argument("--name", default=None)
    p.add_argument("--wait", action="store_true", help="wait until it is RUNNING (exit 1 if it fails)")
    p.add_argument("--timeout", type=float, default=1800, metavar="S", help="limit of --wait")
    write_options(p)
    p = command(deps, "scale", "change a deployment's capacity", _deps_scale)
    p.add_argument("deployed_model")
    p.add_argument("--capacity", type=int, required=True)
    p.add_argument("--wait", action="store_true")
    p.add_argument("--timeout", type=float, default=1800, metavar="S")
    write_options(p)
    p = command(deps, "delete", "undeploy (billing stops)", _deps_delete)
    p.add_argument("deployed_model")
    write_options(p)

    # -- chat, capability, eval ----------------------------------------------------------------------
    p = command(sub, "chat", "ask a model (streams the answer); the prompt from the argument or stdin", _chat,
                examples="  bailian-tui chat --model qwen3-8b-ft-… 'What causes angina?'\n"
                         "  echo 'hello' | bailian-tui chat --model qwen3-8b --json | jq -r .content")
    p.add_argument("prompt", nargs="?")
    p.add_argument("--model", required=True)
    p.add_argument("--system", default=None)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p = command(sub, "capability", "which training types each model supports (the support matrix)", _capability,
                examples="  bailian-tui capability --model qwen3-8b\n  bailian-tui capability --training-type cpt")
    p.add_argument("--model", default=None)
    p.add_argument("--training-type", default=None)
    p = command(sub, "eval", "accuracy of a model (vs a baseline) on a converted multiple-choice split", _eval,
                examples="  bailian-tui eval mainland_4opt_test.jsonl --model qwen3-8b-ft-… --baseline qwen3-8b")
    p.add_argument("file", help="a converted test split, e.g. datasets/MedQA_BaiLian/mainland_4opt_test.jsonl")
    p.add_argument("--model", required=True, help="a deployed model or any base model")
    p.add_argument("--baseline", help="a second model to compare with (e.g. the base model)")
    p.add_argument("--model-profile", metavar="NAME", help="profile that serves --model (default: --profile)")
    p.add_argument("--baseline-profile", metavar="NAME",
                   help="profile that serves --baseline, e.g. compare a Bailian fine-tune with an XPULink one")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")


# -- helpers ------------------------------------------------------------------------------------------

def _run(coro) -> Any:
    """Run a command's coroutine; SIGTERM/SIGHUP cancel it cleanly and end as lifecycle.Interrupted
    (docs/signals.md: why signals go through the event loop, and why an ignored one stays ignored)."""
    from bailian_tui.core.lifecycle import run_async

    return run_async(coro)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def confirm(ctx: Context, question: str) -> None:
    if getattr(ctx.args, "yes", False):
        return
    if not ctx.out.interactive:
        raise UsageError(f"not going to {question} without confirmation: pass --yes (or --dry-run to see it)")
    ctx.out.stderr.write(f"{question}? [y/N] ")
    ctx.out.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise Failed("not confirmed; nothing was sent")


def dry_run(ctx: Context, method: str, path: str, body: Any = None, dashscope: str | None = None,
            **extra: Any) -> int:
    if ctx.out.json:
        ctx.out.emit({"dry_run": True, "request": {"method": method, "path": path, "body": body},
                      "dashscope": dashscope, **extra})
        return EXIT_OK
    ctx.out.line(f"dry run — would send: {method} {path}")
    if body is not None:
        ctx.out.line(json.dumps(body, ensure_ascii=False, indent=2))
    if dashscope:
        ctx.out.line("equivalent official command:")
        for line in dashscope.splitlines():
            ctx.out.line(f"  {line}")
    else:
        ctx.out.line("(the dashscope CLI has no equivalent)")
    return EXIT_OK


def _q(*parts: str) -> str:
    return " ".join(shlex.quote(str(p)) for p in parts)


async def _closing(platform, coro):
    try:
        return await coro
    finally:
        await platform.aclose()


def _job_dict(job, dataset: str | None = None) -> dict:
    return {**job.raw, "job_id": job.job_id, "status": job.status.value, "model": job.model,
            "training_type": job.training_type, "finetuned_output": job.finetuned_output,
            **({"dataset": dataset} if dataset is not None else {})}


def _dep_dict(dep) -> dict:
    return {**dep.raw, "deployed_model": dep.deployed_model, "status": dep.status.value,
            "model_name": dep.model_name, "capacity": dep.capacity}


def _fields(ctx: Context, pairs: list[tuple[str, Any]]) -> None:
    """key: value lines (a terminal and a pipe alike: greppable, never wrapped by us)."""
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        if value in (None, "", [], {}):
            continue
        head = f"{key + ':':<{width + 1}} "
        text = f"{head}{value}"
        if ctx.out.tty and len(text) > ctx.out.width and "\x1b" not in text:
            # On a terminal a long value wraps at word boundaries under itself (ids have no spaces: whole).
            import textwrap

            text = textwrap.fill(str(value), ctx.out.width, initial_indent=head, subsequent_indent=" " * len(head),
                                 break_long_words=False, break_on_hyphens=False)
        ctx.out.line(text)


# -- files ----------------------------------------------------------------------------------------------

def _files_list(ctx: Context) -> int:
    platform = ctx.platform()
    files = _run(_closing(platform, platform.all_files()))
    if ctx.out.json:
        ctx.out.emit([{**f.raw, "file_id": f.file_id, "name": f.name, "size": f.size} for f in files])
        return EXIT_OK
    ctx.out.table([Column("file id", key=True), Column("name", min=10), Column("size", drop=2),
                   Column("created", drop=1, min=16), Column("description", drop=3)],
                  [[f.file_id, f.name, _size(f.size), _when(f.created_at), f.description or ""] for f in files])
    return EXIT_OK


def _files_get(ctx: Context) -> int:
    platform = ctx.platform()
    f = _run(_closing(platform, platform.get_file(ctx.args.file_id)))
    if ctx.out.json:
        ctx.out.emit({**f.raw, "file_id": f.file_id, "name": f.name, "size": f.size})
    else:
        _fields(ctx, [("file id", f.file_id), ("name", f.name), ("size", _size(f.size)), ("purpose", f.purpose),
                      ("created", _when(f.created_at)), ("md5", f.md5), ("description", f.description)])
    return EXIT_OK


def _check_local(ctx: Context, path: Path, max_length: int | None = None):
    """Validate a local dataset (exact tokens); errors stop the command with FILE:LINE."""
    from bailian_tui.cli.data import progress
    from bailian_tui.core.data.scan import validate_file

    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    with progress(ctx, f"checking {path.name}") as bar:
        scan = validate_file(path, max_length=max_length or ctx.settings.get("validation.max_length"), exact=True,
                             progress=bar)
    if scan.errors:
        for f in [f for f in scan.findings if f.severity == "error"][:20]:
            ctx.out.stderr.write(f"{f.where(str(path))}: error: {' '.join(f.message.split())}\n")
        raise Failed(f"{path}: {scan.errors} errors — fix the data first (bailian-tui validate {shlex.quote(str(path))})"
                     ", or upload anyway with files upload --no-validate")
    return scan


def _files_upload(ctx: Context) -> int:
    paths = [Path(p).expanduser() for p in ctx.args.paths]
    if not ctx.args.dry_run:
        ctx.remote_settings()  # no key: say so before reading any data
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        if not ctx.args.no_validate:
            _check_local(ctx, path)
    if ctx.args.dry_run:
        return dry_run(ctx, "POST", "/files", {"files": [str(p) for p in paths], "purpose": "fine-tune",
                                               "descriptions": ctx.args.description},
                       "\n".join(_q("dashscope", "files", "upload", "-f", p) for p in paths))
    service = ctx.service()

    async def go():
        results = []
        for path in paths:
            result = await service.upload(path, force=ctx.args.force, description=ctx.args.description)
            if result.message:
                ctx.out.warn(result.message)
            results.append((path, result))
            ctx.out.info(f"{path}: {'already uploaded as' if result.reused else 'uploaded as'} {result.file.file_id}")
        return results

    results = _run(_closing(service.platform, go()))
    if ctx.out.json:
        ctx.out.emit([{"path": str(p), "file_id": r.file.file_id, "name": r.file.name, "reused": r.reused,
                       "sha256": r.sha256} for p, r in results])
    else:
        ctx.out.table([Column("file id", key=True), Column("path", key=True), Column("reused", drop=1)],
                      [[r.file.file_id, str(p), "yes" if r.reused else "no"] for p, r in results])
    return EXIT_OK


def _files_delete(ctx: Context) -> int:
    file_id = ctx.args.file_id
    if ctx.args.dry_run:
        return dry_run(ctx, "DELETE", f"/files/{file_id}", None, _q("dashscope", "files", "delete", file_id))
    confirm(ctx, f"delete file {file_id}")
    platform = ctx.platform()
    _run(_closing(platform, platform.delete_file(file_id)))
    if ctx.out.json:
        ctx.out.emit({"file_id": file_id, "deleted": True})
    else:
        ctx.out.line(f"deleted {file_id}")
    return EXIT_OK


# -- jobs -----------------------------------------------------------------------------------------------

def _jobs_list(ctx: Context) -> int:
    a = ctx.args
    if getattr(a, "all_profiles", False):
        return _jobs_list_all(ctx)
    service = ctx.service()
    rows = _run(_closing(service.platform, service.job_rows()))
    for warning in getattr(service.platform.stats, "warnings", []):
        ctx.out.warn(warning)
    rows = [r for r in rows if (not a.status or r.job.status.value == a.status)
            and (not a.model or a.model in (r.job.model, r.job.base_model))]
    if ctx.out.json:
        ctx.out.emit([_job_dict(r.job, r.dataset) for r in rows])
        return EXIT_OK
    ctx.out.table([Column("job id", key=True), Column("status", status=True, min=9), Column("model", drop=5, min=8),
                   Column("type", drop=3, min=13), Column("created", drop=2, min=16),
                   Column("fine-tuned model", key=True), Column("dataset", drop=4, min=8)],
                  [[r.job.job_id, r.job.status.value, r.job.model, r.job.training_type, _when(r.job.created_at),
                    r.job.finetuned_output or "", Path(r.dataset).name if r.dataset else ""] for r in rows])
    return EXIT_OK


def _jobs_list_all(ctx: Context) -> int:
    """Jobs of every profile, newest first, with the provider each runs on; a failing provider is reported
    (exit 1) while the others are still listed."""
    from bailian_tui.core.fleet import Fleet

    a = ctx.args
    settings = ctx.remote_settings()
    fleet = Fleet(settings)

    async def go():
        try:
            return await fleet.job_rows()
        finally:
            await fleet.aclose()

    listed = _run(go())
    rows = [r for r in listed.rows if (not a.status or r.job.status.value == a.status)
            and (not a.model or a.model in (r.job.model, r.job.base_model))]

    def key(job) -> str:
        return job.job_id if job.provider == fleet.default else job.key

    if ctx.out.json:
        ctx.out.emit([{**_job_dict(r.job, r.dataset), "provider": r.job.provider, "key": key(r.job)} for r in rows])
    else:
        ctx.out.table([Column("job id", key=True), Column("provider", min=6), Column("status", status=True, min=9),
                       Column("model", drop=5, min=8), Column("type", drop=3, min=13),
                       Column("created", drop=2, min=16), Column("fine-tuned model", key=True)],
                      [[key(r.job), r.job.provider, r.job.status.value, r.job.model, r.job.training_type,
                        _when(r.job.created_at), r.job.finetuned_output or ""] for r in rows])
    for name, error in listed.errors.items():
        ctx.out.warn(f"profile {name}: {error}")
    return EXIT_FAILED if listed.errors else EXIT_OK


async def _all_logs(platform, job_id: str):
    from bailian_tui.core.monitor import LogTail

    tail = LogTail(job_id)
    await tail.fetch(platform)
    return tail


def _jobs_get(ctx: Context) -> int:
    platform = ctx.platform()

    async def go():
        job = await platform.get_job(ctx.args.job_id)
        tail = await _all_logs(platform, job.job_id) if ctx.args.metrics else None
        return job, tail

    job, tail = _run(_closing(platform, go()))
    metrics = None
    if tail is not None:
        m = tail.metrics
        metrics = {"step": m.step, "total_steps": m.total_steps, "progress": m.progress, "epoch": m.epoch,
                   "loss": m.latest_loss, "train_loss": m.train_loss,
                   "eval_loss": m.eval_loss[-1].value if m.eval_loss else None,
                   "consumed_tokens": m.consumed_tokens, "complete": m.complete}
    if ctx.out.json:
        ctx.out.emit({**_job_dict(job), **({"metrics": metrics} if metrics is not None else {})})
        return EXIT_OK
    _fields(ctx, [("job id", job.job_id), ("status", ctx.out.paint(job.status.value, job.status.value)),
                  ("name", job.job_name), ("model", job.model), ("base model", job.base_model),
                  ("training type", job.training_type), ("training files", ", ".join(job.training_file_ids)),
                  ("validation files", ", ".join(job.validation_file_ids)),
                  ("hyper-parameters", " ".join(f"{k}={v}" for k, v in job.hyper_parameters.items())),
                  ("created", _when(job.created_at)), ("ended", _when(job.ended_at)),
                  ("fine-tuned model", job.finetuned_output), ("billed tokens", job.usage),
                  ("message", " ".join((job.message or "").split()))]
            + ([(k, v) for k, v in metrics.items() if v is not None] if metrics else []))
    return EXIT_OK


def _jobs_logs(ctx: Context) -> int:
    from bailian_tui.core.monitor import LogTail

    a = ctx.args
    platform = ctx.platform()
    needle = a.search.lower() if a.search else None

    def show(lines: list[str], first: int) -> None:
        for n, line in enumerate(lines, first):
            if needle and needle not in line.lower():
                continue
            if ctx.out.json:
                ctx.out.emit({"job_id": a.job_id, "n": n, "line": line})
            else:
                ctx.out.line(line)

    async def go():
        tail = LogTail(a.job_id)
        lines = await tail.fetch(platform)
        picked = [(n, l) for n, l in enumerate(lines, 1) if not needle or needle in l.lower()]
        if a.tail is not None:
            picked = picked[-a.tail:] if a.tail > 0 else []
        for n, line in picked:
            show([line], n)
        if not a.follow:
            return
        while True:
            job = await platform.get_job(a.job_id)
            before = tail.offset
            show(await tail.fetch(platform), before + 1)
            if job.status.finished:
                return
            await asyncio.sleep(a.interval)

    _run(_closing(platform, go()))
    return EXIT_OK


class _WatchPrinter:
    """Turns the scheduler's updates into lines (pipe) or NDJSON events; throttles progress per job."""

    def __init__(self, ctx: Context, every: float, logs: bool) -> None:
        self.ctx, self.every, self.logs = ctx, every, logs
        self.last_progress: dict[str, float] = {}
        self.last_step: dict[str, Any] = {}
        self.eval_seen: dict[str, int] = {}
        self.errors: dict[str, str] = {}
        self.unknown: list[str] = []
        self.live = ctx.out.tty and not ctx.out.json

    def event(self, job_id: str, event: str, text: str, **data: Any) -> None:
        if self.ctx.out.json:
            self.ctx.out.emit({"time": datetime.now().isoformat(timespec="seconds"), "job_id": job_id,
                               "event": event, **data})
        elif not self.live:
            self.ctx.out.line(f"{datetime.now():%H:%M:%S} {job_id} {text}")

    def progress(self, watched, force: bool = False) -> None:
        m = watched.tail.metrics
        if m.step is None or self.last_step.get(watched.job_id) == m.step:
            return
        now = time.monotonic()
        if not force and now - self.last_progress.get(watched.job_id, -1e9) < self.every:
            return
        self.last_progress[watched.job_id], self.last_step[watched.job_id] = now, m.step
        pct = f" ({m.progress:.0%})" if m.progress is not None else ""
        loss = f" loss {m.latest_loss:.4f}" if m.latest_loss is not None else ""
        epoch = f" epoch {m.epoch:g}" if m.epoch is not None else ""
        self.event(watched.job_id, "progress", f"step {m.step}/{m.total_steps or '?'}{pct}{loss}{epoch}",
                   step=m.step, total_steps=m.total_steps, progress=m.progress, loss=m.latest_loss, epoch=m.epoch)

    def __call__(self, update) -> None:
        w = update.watched
        if w.error and not update.new_lines and not update.status_changed:
            if w.job is None and w.error_kind == "job":  # 400/404 on this job: gone, or never existed
                self.unknown.append(w.job_id)  # no such job: stop watching it (exit 2 at the end)
                self.event(w.job_id, "error", f"no such job: {w.error}", error=w.error, unknown=True)
            elif self.errors.get(w.job_id) != w.error:  # the same failure again says nothing new
                self.event(w.job_id, "error", f"error: {w.error}", error=w.error)
            self.errors[w.job_id] = w.error
            return
        self.errors.pop(w.job_id, None)
        if self.logs:
            for line in update.new_lines:
                self.event(w.job_id, "log", f"| {line}", line=line)
        m, job = w.tail.metrics, w.job
        if job is not None and update.status_changed and not job.status.finished:
            self.event(w.job_id, "status", job.status.value, status=job.status.value)
        for point in m.eval_loss[self.eval_seen.get(w.job_id, 0):]:
            self.event(w.job_id, "eval", f"eval_loss {point.value:.4f} at step {point.step:g}",
                       eval_loss=point.value, step=point.step)
        self.eval_seen[w.job_id] = len(m.eval_loss)
        if job is None:
            return
        self.progress(w, force=job.status.finished)
        if job.status.finished and update.status_changed:
            tail = f" → {job.finetuned_output}" if job.finetuned_output else ""
            why = f": {' '.join(job.message.split())}" if job.message and job.status.value != "SUCCEEDED" else ""
            self.event(w.job_id, "finished", f"{job.status.value}{tail}{why}", status=job.status.value,
                       finetuned_output=job.finetuned_output, message=job.message,
                       loss=m.latest_loss, eval_loss=m.eval_loss[-1].value if m.eval_loss else None)


def _watch_table(ctx: Context, scheduler) -> list[str]:
    cols = [Column("job id", key=True), Column("status", status=True, min=9), Column("progress", drop=5, min=8),
            Column("step", drop=3, min=9), Column("loss", drop=2, min=6), Column("eval loss", drop=4, min=9),
            Column("fine-tuned model", key=True), Column("last log line", drop=1, min=12)]
    rows = []
    for w in scheduler.jobs.values():
        m, job = w.tail.metrics, w.job
        rows.append([w.job_id, job.status.value if job else "…",
                     f"{m.progress:.0%}" if m.progress is not None else "",
                     f"{m.step}/{m.total_steps or '?'}" if m.step is not None else "",
                     f"{m.latest_loss:.4f}" if m.latest_loss is not None else "",
                     f"{m.eval_loss[-1].value:.4f}" if m.eval_loss else "",
                     (job.finetuned_output if job else None) or "",
                     w.error or (w.tail.lines[-1] if w.tail.lines else "")])
    return ctx.out.render_table(cols, rows, ctx.out.width)


def _jobs_watch(ctx: Context) -> int:
    from bailian_tui.core.monitor import Scheduler

    from bailian_tui.core import fleet as fleet_mod
    from bailian_tui.core.profiles import profiles

    a = ctx.args
    ids = list(dict.fromkeys(a.job_ids))
    settings = ctx.remote_settings()
    printer = _WatchPrinter(ctx, a.every, a.logs)
    names = {p.name for p in profiles(settings)}
    if any(i.partition(":")[0] in names for i in ids):
        # `jobs watch bailian:ft-… xpulink:ftjob-…`: every provider at once, each within its own budget.
        fleet, service, scheduler = fleet_mod.for_app(
            settings, on_update=printer,
            on_throttle=lambda name, s: ctx.out.info(f"{name} rate limited: polling paused for {s:.0f} s"))
        platform = service.routing
        for key in ids:
            fleet.watch(key, persist=False)
    else:
        platform = ctx.platform()
        rate = ctx.profile().requests_per_second or settings.get("polling.requests_per_second")
        scheduler = Scheduler(platform, requests_per_second=rate, on_update=printer,
                              on_throttle=lambda s: ctx.out.info(f"rate limited: polling paused for {s:.0f} s"))
        for job_id in ids:
            scheduler.watch(job_id)
    deadline = time.monotonic() + a.timeout if a.timeout else None

    gone: list[str] = []

    async def go() -> bool:
        drawn = 0
        next_draw = 0.0
        while any(w.job is None or not w.job.status.finished for w in scheduler.jobs.values()):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            delay = await scheduler.tick()
            for job_id in printer.unknown:
                scheduler.unwatch(job_id)
                gone.append(job_id)
            printer.unknown.clear()
            if printer.live and time.monotonic() >= next_draw:
                lines = _watch_table(ctx, scheduler)
                ctx.out.stdout.write((f"\x1b[{drawn}F\x1b[J" if drawn else "") + "\n".join(lines) + "\n")
                ctx.out.stdout.flush()
                drawn, next_draw = len(lines), time.monotonic() + 0.5
            if delay > 0:
                await asyncio.sleep(min(delay, 0.5))
        if printer.live:
            lines = _watch_table(ctx, scheduler)
            ctx.out.stdout.write((f"\x1b[{drawn}F\x1b[J" if drawn else "") + "\n".join(lines) + "\n")
        return True

    finished = _run(_closing(platform, go()))
    if not finished:
        open_ids = [w.job_id for w in scheduler.jobs.values() if w.job is None or not w.job.status.finished]
        if ctx.out.json:
            ctx.out.emit({"time": datetime.now().isoformat(timespec="seconds"), "event": "timeout",
                          "job_ids": open_ids})
        raise Failed(f"--timeout {a.timeout:g} s reached; still running: {' '.join(open_ids)}")
    bad = [w for w in scheduler.jobs.values() if w.job.status.value != "SUCCEEDED"]
    if printer.live:
        for w in scheduler.jobs.values():
            tail = f" → {w.job.finetuned_output}" if w.job.finetuned_output else ""
            ctx.out.line(f"{w.job_id} {ctx.out.paint(w.job.status.value, w.job.status.value)}{tail}")
    if gone:
        raise UsageError(f"no such job: {' '.join(gone)}")
    return EXIT_FAILED if bad else EXIT_OK


def _parse_sets(items: list[str]) -> dict[str, Any]:
    """``--set NAME=VALUE`` as written: typed and checked by the profile's review (jobform.review, or
    openai_hp's for an OpenAI-compatible profile), like the form's fields."""
    hp: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {item}: expected NAME=VALUE, e.g. --set n_epochs=3")
        hp[name.strip()] = value
    return hp


SPEC_KEYS = {"model", "training_type", "training_files", "validation_files", "hyper_parameters", "job_name",
             "model_name"}


def load_spec(path: Path) -> dict:
    """A job YAML (docs/cli.md, examples/job.yaml): errors name the file and line."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    try:
        node = yaml.compose(text)
        spec = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UsageError(f"{path}:{mark.line + 1 if mark else '?'}: not valid YAML: {getattr(exc, 'problem', exc)}"
                         ) from None
    if not isinstance(spec, dict):
        raise UsageError(f"{path}: a job file is a mapping (model:, training_files:, …); see examples/job.yaml")
    lines = {k.value: k.start_mark.line + 1 for k, _ in node.value} if isinstance(node, yaml.MappingNode) else {}
    for key in spec:
        if key not in SPEC_KEYS:
            raise UsageError(f"{path}:{lines.get(key, '?')}: unknown key {key!r}; known: {', '.join(sorted(SPEC_KEYS))}")
    for key in ("training_files", "validation_files"):
        value = spec.get(key)
        if isinstance(value, str):
            spec[key] = [value]
        elif value is not None and not isinstance(value, list):
            raise UsageError(f"{path}:{lines.get(key, '?')}: {key} is a list of local paths or file ids")
    hp = spec.get("hyper_parameters") or {}
    if not isinstance(hp, dict):
        raise UsageError(f"{path}:{lines.get('hyper_parameters', '?')}: hyper_parameters is a mapping")
    spec["hyper_parameters"] = dict(hp)  # typed and checked by the profile's review with the rest of the request
    # Relative paths in the file are relative to the file, like an include.
    for key in ("training_files", "validation_files"):
        spec[key] = [str((path.parent / str(e)).expanduser()) if (path.parent / str(e)).exists() else str(e)
                     for e in spec.get(key) or []]
    return spec


def _jobs_create(ctx: Context) -> int:
    from bailian_tui.core.errors import PlatformError
    from bailian_tui.core import jobform
    from bailian_tui.core.data.cost import estimate
    from bailian_tui.core.data.scan import stats_of
    from bailian_tui.core.hyperparams import defaults_for
    from bailian_tui.core.platform import JobRequest

    from bailian_tui.core.providers import openai_hp

    a = ctx.args
    profile = ctx.profile()
    if profile.kind == "local":  # a run on this machine: a recipe, a data file read in place, no upload
        from bailian_tui.cli.local import jobs_create_local

        return jobs_create_local(ctx)
    openai = profile.kind == "openai"
    spec = load_spec(Path(a.spec)) if a.spec else {}
    where = a.spec or "jobs create"
    model = a.model or spec.get("model")
    training = a.train or spec.get("training_files") or []
    validation = a.validation or spec.get("validation_files") or []
    training_type = a.training_type or spec.get("training_type") or ("supervised" if openai else "sft")
    raw_hp = {**(spec.get("hyper_parameters") or {}), **_parse_sets(a.hp)}
    if openai:
        hp, type_problems = openai_hp.prepare(raw_hp)
    else:
        hp, _ = jobform.prepare(raw_hp)
    if not model or not training:
        raise UsageError(f"{where}: needs a model and training data (--model M --train FILE_OR_ID, or model: and "
                         "training_files: in the YAML)")

    if not a.dry_run:
        ctx.remote_settings()  # no key: say so before reading any data
    max_length = int(hp.get("max_length") or ctx.settings.get("validation.max_length"))
    local: dict[str, Path] = {}
    samples = tokens = 0
    unknown_samples = False
    store = ctx.service().store if profile.has_key or a.demo else None
    for role, entries in (("training", training), ("validation", validation)):
        for entry in entries:
            path = Path(str(entry)).expanduser()
            if path.exists():
                scan = _check_local(ctx, path, max_length)
                local[str(entry)] = path
                if role == "training":
                    samples += scan.samples
                    tokens += stats_of(scan).total
            elif "/" in str(entry) or str(entry).endswith((".jsonl", ".json", ".csv", ".xlsx")):
                raise UsageError(f"{entry}: no such file (a file id has no slash or extension)")
            elif role == "training":
                # A file id: its samples count for the gate when this machine uploaded it (as in the form).
                upload = store.upload_for_file_id(str(entry)) if store is not None else None
                if upload is not None and Path(upload.path).is_file():
                    scan = _check_local(ctx, Path(upload.path), max_length)
                    samples, tokens = samples + scan.samples, tokens + stats_of(scan).total
                else:
                    unknown_samples = True

    if openai:  # the profile's own rules: the standard, its declared extension, XPULink's guidance
        if training_type not in ("supervised", "sft", "dpo"):
            raise UsageError(f"{where}: profile {profile.name} trains 'supervised' or 'dpo', not {training_type!r}")
        problems = type_problems + openai_hp.check(
            hp, allowed=openai_hp.allowed_names(profile.extra_hyperparameters),
            samples=None if unknown_samples else (samples or None),
            method="dpo" if training_type == "dpo" else "supervised")
        if len(training) != 1 or len(validation) > 1:
            raise UsageError(f"{where}: profile {profile.name} takes one training file and at most one validation "
                             "file; merge them first")
    else:
        # THE check of a job request, shared with the new-job form: typed values, ranges, support matrix,
        # learning-rate order, the sample/batch gate — before anything is uploaded.
        hp, problems = jobform.review(model, training_type, raw_hp,
                                      train_samples=None if unknown_samples else samples,
                                      has_validation=bool(validation))
    if unknown_samples:
        ctx.out.stderr.write(f"{where}: warning: training_files: a file id this machine did not upload: its samples "
                             "are unknown, so 'more training samples than batch_size' could not be checked\n")
    for problem in problems:
        ctx.out.stderr.write(f"{where}: {'error' if problem.blocking else 'warning'}: {problem.field}: "
                             f"{problem.message}\n")
    if any(p.blocking for p in problems):
        raise Failed(f"{where}: the request would fail on the platform; nothing was sent")
    if openai:
        from bailian_tui.core.data.cost import Estimate

        epochs = hp.get("n_epochs") if isinstance(hp.get("n_epochs"), int) else 3
        price, example, currency = profile.unit_price(model, ctx.settings)
        cost = Estimate(tokens, epochs, price, currency, example, model) if tokens and price else None
    else:
        epochs = int(hp.get("n_epochs") or defaults_for(training_type, model).get("n_epochs") or 1)
        cost = estimate(tokens, epochs, model, ctx.settings) if tokens else None
    if cost is not None:
        ctx.out.info(f"estimated cost: {cost.formula}")

    service = ctx.service() if store is not None else None

    async def resolve(dry: bool) -> dict[str, list[str]]:
        ids: dict[str, list[str]] = {"training": [], "validation": []}
        for role, entries in (("training", training), ("validation", validation)):
            for entry in entries:
                path = local.get(str(entry))
                if path is None:
                    ids[role].append(str(entry))
                elif dry:
                    found = await service.existing_upload(path) if service else None
                    ids[role].append(found.file_id if found else f"<upload of {path}>")
                else:
                    result = await service.upload(path)
                    if result.message:
                        ctx.out.warn(result.message)
                    ctx.out.info(f"{path}: {'already uploaded as' if result.reused else 'uploaded as'} "
                                 f"{result.file.file_id}")
                    ids[role].append(result.file.file_id)
        return ids

    def request_for(ids) -> JobRequest:
        return JobRequest(model=model, training_file_ids=ids["training"], validation_file_ids=ids["validation"],
                          training_type=training_type, hyper_parameters=hp, job_name=a.job_name or spec.get("job_name"),
                          model_name=a.model_name or spec.get("model_name"))

    if a.dry_run:
        ids = _run(_closing(service.platform, resolve(True))) if service else _run(resolve(True))
        request = request_for(ids)
        if openai:
            from bailian_tui.core.providers.openai_compat import build_body

            try:
                body = build_body(request, form=profile.hyperparameters_form, metadata=profile.metadata,
                                  label=profile.label)
            except PlatformError as err:
                raise UsageError(f"{where}: {err.message}") from None
            return dry_run(ctx, "POST", "/fine_tuning/jobs", body, None, profile=profile.name,
                           cost=cost.as_dict() if cost else None, problems=[p.__dict__ for p in problems])
        return dry_run(ctx, "POST", "/fine-tunes", request.body(), jobform.command_line(request),
                       cost=cost.as_dict() if cost else None, problems=[p.__dict__ for p in problems])
    confirm(ctx, f"create this {model} {training_type} job" + (f" (≈ {cost.cost:,.2f} {cost.currency})" if cost else ""))

    async def go():
        ids = await resolve(False)
        request = request_for(ids)
        dataset = str(local[str(training[0])].resolve()) if str(training[0]) in local else None
        if not service.reconciles:  # a provider with its own create rules (core.providers)
            return await service.create_job(request, dataset=dataset)
        created = await service.create_job_outcome(request, dataset=dataset)
        if created.message:  # e.g. an earlier identical attempt settled, or an outcome that is not known
            ctx.out.warn(created.message)
        return created.item

    job = _run(_closing(service.platform, go()))
    if ctx.out.json:
        ctx.out.emit({**_job_dict(job), "cost": cost.as_dict() if cost else None})
    else:
        ctx.out.line(f"created {job.job_id} ({job.status.value}); follow it: bailian-tui jobs watch {job.job_id}")
    return EXIT_OK


def _simple_write(ctx: Context, method: str, path: str, dashscope: str, question: str, call, result) -> int:
    if ctx.args.dry_run:
        return dry_run(ctx, method, path, None, dashscope)
    confirm(ctx, question)
    platform = ctx.platform()
    value = _run(_closing(platform, call(platform)))
    payload, text = result(value)
    if ctx.out.json:
        ctx.out.emit(payload)
    else:
        ctx.out.line(text)
    return EXIT_OK


def _jobs_cancel(ctx: Context) -> int:
    job_id = ctx.args.job_id
    return _simple_write(ctx, "POST", f"/fine-tunes/{job_id}/cancel", _q("dashscope", "ft", "cancel", job_id),
                         f"cancel job {job_id}", lambda p: p.cancel_job(job_id),
                         lambda s: ({"job_id": job_id, "result": s}, f"cancel requested for {job_id} ({s})"))


def _jobs_delete(ctx: Context) -> int:
    job_id = ctx.args.job_id
    return _simple_write(ctx, "DELETE", f"/fine-tunes/{job_id}", _q("dashscope", "ft", "delete", job_id),
                         f"delete job {job_id}", lambda p: p.delete_job(job_id),
                         lambda s: ({"job_id": job_id, "result": s}, f"deleted {job_id} ({s})"))


def _openai_only(ctx: Context, what: str) -> None:
    profile = ctx.profile()
    if profile.kind != "openai":
        raise UsageError(f"{what}: profile {profile.name} ({profile.kind}) does not offer it; "
                         "pick an OpenAI-compatible one with --profile")


def _pause_or_resume(verb: str, call):
    """`jobs pause` / `jobs resume`: the same write on an OpenAI-compatible job, one path segment apart."""
    def run(ctx: Context) -> int:
        job_id = ctx.args.job_id
        _openai_only(ctx, f"jobs {verb}")
        return _simple_write(ctx, "POST", f"/fine_tuning/jobs/{job_id}/{verb}", None, f"{verb} job {job_id}",
                             lambda p: call(p, job_id),
                             lambda j: (_job_dict(j), f"{job_id} {j.status.value}"))
    return run


_jobs_pause = _pause_or_resume("pause", lambda provider, job_id: provider.pause_job(job_id))
_jobs_resume = _pause_or_resume("resume", lambda provider, job_id: provider.resume_job(job_id))


def _jobs_results(ctx: Context) -> int:
    """The metrics CSV a finished OpenAI-compatible job lists in ``result_files`` (written whole or not at all)."""
    import os
    import tempfile

    a = ctx.args
    _openai_only(ctx, "jobs results")
    platform = ctx.platform()

    async def go() -> bytes:
        job = await platform.get_job(a.job_id)
        files = job.raw.get("result_files") or []
        if not files:
            raise Failed(f"{a.job_id} has no result file yet ({job.status.value}): it appears when the job ends")
        return await platform.file_content(files[0])

    data = _run(_closing(platform, go()))
    if not a.output:
        ctx.out.stdout.write(data.decode("utf-8", "replace"))
        return EXIT_OK
    target = Path(a.output)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    steps = data.count(b"\n") - 1
    ctx.out.info(f"{target}: {steps} steps")
    return EXIT_OK


def _jobs_checkpoints(ctx: Context) -> int:
    platform = ctx.platform()
    items = _run(_closing(platform, platform.list_checkpoints(ctx.args.job_id)))
    if ctx.out.json:
        ctx.out.emit([{**c.raw, "checkpoint": c.checkpoint, "job_id": c.job_id, "step": c.step,
                       "status": c.status, "model_name": c.model_name} for c in items])
        return EXIT_OK
    ctx.out.table([Column("checkpoint", key=True), Column("status", status=True), Column("created", drop=2, min=16),
                   Column("exported model", key=True)],
                  [[c.checkpoint, c.status, _when(c.created_at), c.model_name or ""] for c in items])
    return EXIT_OK


def _jobs_export(ctx: Context) -> int:
    a = ctx.args
    path = f"/fine-tunes/{a.job_id}/export/{a.checkpoint}?model_name={a.model_name}"
    return _simple_write(ctx, "GET", path, "", f"export {a.checkpoint} of {a.job_id} as {a.model_name}",
                         lambda p: p.export_checkpoint(a.job_id, a.checkpoint, a.model_name),
                         lambda ok: ({"job_id": a.job_id, "checkpoint": a.checkpoint, "model_name": a.model_name,
                                      "accepted": ok},
                                     f"export of {a.checkpoint} as {a.model_name} "
                                     f"{'started' if ok else 'was not accepted'}; see: bailian-tui jobs checkpoints "
                                     f"{a.job_id}"))


# -- deployments ------------------------------------------------------------------------------------

def _deps_list(ctx: Context) -> int:
    platform = ctx.platform()
    deps = _run(_closing(platform, platform.all_deployments()))
    if ctx.out.json:
        ctx.out.emit([_dep_dict(d) for d in deps])
        return EXIT_OK
    ctx.out.table([Column("deployed model", key=True), Column("status", status=True, min=9),
                   Column("capacity", drop=2), Column("plan", drop=3), Column("created", drop=1, min=16),
                   Column("model", drop=4, min=10)],
                  [[d.deployed_model, d.status.value, f"{d.ready_capacity or 0}/{d.capacity or 0}", d.plan or "",
                    _when(d.created_at), d.model_name] for d in deps])
    return EXIT_OK


def _show_dep(ctx: Context, d) -> None:
    if ctx.out.json:
        ctx.out.emit(_dep_dict(d))
    else:
        _fields(ctx, [("deployed model", d.deployed_model), ("status", ctx.out.paint(d.status.value, d.status.value)),
                      ("model", d.model_name), ("base model", d.base_model),
                      ("capacity", f"{d.ready_capacity or 0}/{d.capacity or 0}"), ("plan", d.plan),
                      ("charge type", d.charge_type), ("created", _when(d.created_at))])


def _deps_get(ctx: Context) -> int:
    platform = ctx.platform()
    _show_dep(ctx, _run(_closing(platform, platform.get_deployment(ctx.args.deployed_model))))
    return EXIT_OK


async def _settle(ctx: Context, platform, dep, timeout: float):
    """Poll a deployment until it stops changing; RUNNING is success."""
    deadline = time.monotonic() + timeout
    from bailian_tui.core.records import DeploymentStatus

    while dep.status.settling or dep.status is DeploymentStatus.UNKNOWN:
        if time.monotonic() >= deadline:
            raise Failed(f"{dep.deployed_model} still {dep.status.value} after {timeout:g} s")
        ctx.out.info(f"{dep.deployed_model}: {dep.status.value}…")
        await asyncio.sleep(2.0)
        dep = await platform.get_deployment(dep.deployed_model)
    return dep


def _deps_create(ctx: Context) -> int:
    a = ctx.args
    if a.capacity < 1:
        raise UsageError("--capacity must be 1 or more")
    body = {"model_name": a.model_name, "capacity": a.capacity,
            **{k: v for k, v in (("plan", a.plan), ("suffix", a.suffix), ("name", a.name)) if v}}
    if a.dry_run:
        line = _q("dashscope", "deployments", "create", "-m", a.model_name, "--plan", a.plan or "lora") + \
            ("" if a.plan else "   # the dashscope CLI requires --plan") + \
            ("" if a.capacity == 1 else f"\n# then: {_q('dashscope', 'deployments', 'scale', '<deployed_model>', '-c', a.capacity)}")
        return dry_run(ctx, "POST", "/deployments", body, line)
    confirm(ctx, f"deploy {a.model_name} with capacity {a.capacity} (billed while it runs)")
    # Through the service: the create is recorded as an intent before it is sent, and an earlier attempt
    # whose outcome was unknown (a timeout, a kill) is looked for first — a second run never deploys twice.
    service = ctx.service()
    platform = service.platform

    async def go():
        created = await service.create_deployment(a.model_name, a.capacity, plan=a.plan, suffix=a.suffix,
                                                  name=a.name)
        if created.message:  # an earlier interrupted attempt had made it
            ctx.out.warn(created.message)
        dep = created.item
        return await _settle(ctx, platform, dep, a.timeout) if a.wait else dep

    dep = _run(_closing(platform, go()))
    _show_dep(ctx, dep)
    return EXIT_FAILED if a.wait and dep.status.value != "RUNNING" else EXIT_OK


def _deps_scale(ctx: Context) -> int:
    a = ctx.args
    if a.capacity < 0:
        raise UsageError("--capacity must be 0 or more")
    if a.dry_run:
        return dry_run(ctx, "PUT", f"/deployments/{a.deployed_model}/scale",
                       {"deployed_model": a.deployed_model, "capacity": a.capacity},
                       _q("dashscope", "deployments", "scale", a.deployed_model, "-c", a.capacity))
    confirm(ctx, f"scale {a.deployed_model} to capacity {a.capacity}")
    platform = ctx.platform()

    async def go():
        dep = await platform.scale_deployment(a.deployed_model, a.capacity)
        return await _settle(ctx, platform, dep, a.timeout) if a.wait else dep

    dep = _run(_closing(platform, go()))
    _show_dep(ctx, dep)
    return EXIT_FAILED if a.wait and dep.status.value != "RUNNING" else EXIT_OK


def _deps_delete(ctx: Context) -> int:
    name = ctx.args.deployed_model
    return _simple_write(ctx, "DELETE", f"/deployments/{name}", _q("dashscope", "deployments", "delete", name),
                         f"undeploy {name}", lambda p: p.delete_deployment(name),
                         lambda d: (_dep_dict(d), f"{name}: {d.status.value}"))


# -- chat, capability, eval -----------------------------------------------------------------------------

def _chat(ctx: Context) -> int:
    a = ctx.args
    prompt = a.prompt
    if prompt is None:
        if sys.stdin.isatty():
            raise UsageError("chat: give the prompt as an argument or on stdin")
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise UsageError("chat: the prompt is empty")
    messages = ([{"role": "system", "content": a.system}] if a.system else []) + [{"role": "user", "content": prompt}]
    params = {k: v for k, v in (("max_tokens", a.max_tokens), ("temperature", a.temperature)) if v is not None}
    platform = ctx.platform()

    async def go():
        if ctx.out.json:
            reply = await platform.chat(a.model, messages, **params)
            ctx.out.emit({"model": a.model, "content": reply.content, "finish_reason": reply.finish_reason,
                          "input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
                          "request_id": reply.request_id})
            return
        async for delta in platform.chat_stream(a.model, messages, **params):
            ctx.out.stdout.write(delta)
            ctx.out.stdout.flush()
        ctx.out.stdout.write("\n")

    _run(_closing(platform, go()))
    return EXIT_OK


def _capability(ctx: Context) -> int:
    from bailian_tui.core.hyperparams import SUPPORT_MATRIX, TRAINING_TYPES

    a = ctx.args
    if a.training_type and a.training_type not in TRAINING_TYPES:
        raise UsageError(f"--training-type {a.training_type}: one of {', '.join(TRAINING_TYPES)}")
    if a.model and a.model not in SUPPORT_MATRIX:
        raise UsageError(f"--model {a.model}: not in the documented support matrix; known: "
                         f"{', '.join(SUPPORT_MATRIX)}")
    rows = [(m, [t for t in TRAINING_TYPES if t in types]) for m, types in SUPPORT_MATRIX.items()
            if (not a.model or m == a.model) and (not a.training_type or a.training_type in types)]
    if ctx.out.json:
        ctx.out.emit([{"model": m, "training_types": types} for m, types in rows])
        return EXIT_OK
    ctx.out.table([Column("model", key=True), Column("training types")], [(m, " ".join(t)) for m, t in rows])
    return EXIT_OK


def _eval(ctx: Context) -> int:
    from bailian_tui.core.evaluate import evaluate, results_path

    from bailian_tui.core import profiles
    from bailian_tui.core.config import ConfigError
    from bailian_tui.core.providers.base import ChatRouter

    a = ctx.args
    models = [a.model] + ([a.baseline] if a.baseline else [])
    ctx.remote_settings()
    default = ctx.platform()
    routes = {}
    for model, name in ((a.model, getattr(a, "model_profile", None)), (a.baseline, getattr(a, "baseline_profile", None))):
        if model and name:
            try:
                profile = profiles.pick(ctx.settings, name)
            except ConfigError as err:
                raise UsageError(str(err)) from None
            if not profile.has_key:
                raise UsageError(f"no API key for profile {profile.name}: set ${profile.key_env}")
            routes[model] = profiles.open_provider(profile, ctx.settings)
    platform = ChatRouter(routes, default) if routes else default
    from bailian_tui.cli.data import progress

    async def go(bar):
        return await evaluate(platform, a.file, models, concurrency=a.concurrency, limit=a.limit, progress=bar)

    try:
        with progress(ctx, "asking") as bar:
            summary = _run(_closing(platform, go(bar)))
    except KeyboardInterrupt:
        ctx.out.info("interrupted: answers so far are saved; run the same command to resume")
        raise
    out = results_path(Path(a.file), models)
    status = EXIT_OK if summary.complete else EXIT_FAILED  # a question that could not be asked is not a result
    if ctx.out.json:
        ctx.out.emit({**summary.as_dict(), "results": str(out)})
    else:
        ctx.out.table([Column("model", key=True), Column("answered"), Column("accuracy"), Column("95% CI"),
                       Column("unparseable", drop=2), Column("errors", drop=1)],
                      [[s.model, f"{s.answered} of {summary.questions}", f"{s.accuracy:.1%}",
                        f"{s.interval[0]:.1%} – {s.interval[1]:.1%}", s.unparseable, s.missing]
                       for s in summary.scores])
    for score in summary.scores:
        if score.stopped:
            ctx.out.error(f"{score.model}: stopped asking after the first failure — {score.stopped}. "
                          f"{score.not_asked} questions not asked. Is the name right, and is the model deployed "
                          "and RUNNING? (bailian-tui deployments list)")
        elif score.errors:
            ctx.out.error(f"{score.model}: {score.errors} requests failed; run the same command to ask those "
                          "questions again")
        for message in score.error_messages:
            ctx.out.stderr.write(f"  {score.model}: {message}\n")
    if len(models) > 1:
        ctx.out.info(f"{len(summary.disagreements)} questions where the models disagree")
    ctx.out.info(f"per-question results: {out}\nsummary: {out.with_suffix('.summary.json')}")
    return status
