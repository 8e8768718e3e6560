"""``bailian-tui local …``: fine-tunes on this machine's GPUs (Unsloth) — recipes, runs, environment.

A run started here is the run the app shows: same generator, same detached launcher, same store. The
app and ``jobs`` commands see local runs too (as jobs of the local profile); these commands add what only
local runs have — recipes, the environment check, adoption, export.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from bailian_tui.cli.app import EXIT_FAILED, EXIT_OK, Context, Failed, UsageError, command, group, write_options
from bailian_tui.cli.output import Column
from bailian_tui.core.lifecycle import run_async

EXAMPLE_PROFILE = ("add a local profile to the config file, e.g.\n"
                   "  providers:\n    - name: gpu\n      kind: local\n"
                   "      python: /root/miniconda3/envs/unsloth/bin/python\n      runs_dir: ~/bailian-tui-runs")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    local = group(sub, "local", "fine-tune on this machine's GPUs (Unsloth): recipes, runs, environment check")
    p = command(local, "recipes", "the four recipes, or one recipe's fields with their defaults", _recipes,
                examples="  bailian-tui local recipes\n  bailian-tui local recipes grpo-gsm8k")
    p.add_argument("recipe", nargs="?")
    p = command(local, "new", "generate runs/NAME (script, config, data manifest) and start it detached", _new,
                examples="  bailian-tui local new sft-chatml datasets/Chinese-medical-dialogue/样例_内科5000-6000.head40.csv \\\n"
                         "      --name medical --set max_steps=100 --set model=/models/Qwen2.5-7B-Instruct\n"
                         "  bailian-tui local new grpo-gsm8k gsm8k/train.jsonl --no-start   # only write the folder")
    p.add_argument("recipe")
    p.add_argument("data", help="the training data file")
    p.add_argument("--validation", default=None, metavar="FILE", help="evaluation data (eval loss), text SFT only")
    p.add_argument("--name", default=None, help="the run's folder name (default: recipe and time)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="fields",
                   help="a recipe field, e.g. --set lora_r=32 (repeat; see `local recipes RECIPE`)")
    p.add_argument("--no-start", action="store_true", help="write the run folder, do not start it")
    p.add_argument("--dry-run", action="store_true", help="check the fields and data, print the plan, write nothing")
    command(local, "list", "every local run of the profile: status, progress, loss", _list)
    p = command(local, "logs", "a run's log as a terminal shows it", _logs,
                examples="  bailian-tui local logs medical --tail 20\n  bailian-tui local logs medical -f")
    p.add_argument("name")
    p.add_argument("--tail", type=int, default=None, metavar="N")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until the run ends")
    p = command(local, "cancel", "SIGINT the run's process group (SIGTERM 10 s later if it still runs)", _cancel)
    p.add_argument("name")
    write_options(p)
    p = command(local, "adopt", "watch a run started by hand: point at its log file or its output folder", _adopt,
                examples="  bailian-tui local adopt /root/autodl-tmp/nohup.out --name course-run")
    p.add_argument("path")
    p.add_argument("--name", default=None)
    p = command(local, "export", "merge/convert a finished run's adapter (runs detached as NAME-export-FORMAT)",
                _export, examples="  bailian-tui local export medical --format gguf_q4_k_m")
    p.add_argument("name")
    p.add_argument("--format", required=True,
                   choices=["merged_16bit", "merged_4bit", "gguf_q8_0", "gguf_q4_k_m", "gguf_q5_k_m", "gguf_f16",
                            "lora"])
    p = command(local, "check", "what the profile's Python has of unsloth, trl, torch and CUDA; exit 1 if a "
                                "recipe could not run", _check)
    p.add_argument("--recipe", default=None, help="check what this recipe needs (default: the text SFT set)")


# -- the provider ----------------------------------------------------------------------------------------


def provider(ctx: Context):
    """The local profile named by --profile, else the config's only/first local profile."""
    from bailian_tui.core import profiles
    from bailian_tui.core.config import ConfigError

    settings = ctx.remote_settings() if ctx.args.demo else ctx.settings
    try:
        every = profiles.profiles(settings)
    except ConfigError as err:
        raise UsageError(str(err)) from None
    wanted = getattr(ctx.args, "profile", None)
    local = [p for p in every if p.kind == "local" and (not wanted or p.name == wanted)]
    if not local:
        named = f"profile {wanted!r} is not a local profile" if wanted else "no local profile in the config"
        raise UsageError(f"{named}; {EXAMPLE_PROFILE}")
    made = profiles.open_provider(local[0], settings, **({"stand_in_pace": 0.2} if ctx.args.demo else {}))
    ctx._closers.append(lambda: run_async(made.aclose()))  # closers run last-in first-out
    if ctx.args.demo:  # the demo's runs: a finished one and one training, stopped when the command ends
        from bailian_tui.core.providers.local import seed_demo, stop_all
        from bailian_tui.simulator.demo import datasets_root

        run_async(seed_demo(made, datasets_root()))
        ctx._closers.append(lambda: stop_all(made))
    return made


def _job_row(job) -> dict:
    return {"name": job.job_id, "status": job.status.value, "recipe": job.training_type, "model": job.model,
            "pid": job.raw.get("pid"), "run_dir": job.raw.get("run_dir"), "output": job.finetuned_output,
            "message": job.message, "created_at": job.created_at}


# -- commands ---------------------------------------------------------------------------------------------


def _recipes(ctx: Context) -> int:
    from bailian_tui.core.local.recipes import RECIPES

    if ctx.args.recipe is None:
        if ctx.out.json:
            ctx.out.emit([{"name": r.name, "title": r.title, "description": r.description, "data": r.data_hint}
                          for r in RECIPES.values()])
            return EXIT_OK
        ctx.out.table([Column("recipe", key=True), Column("what"), Column("data", drop=1)],
                      [(r.name, r.title, r.data_hint) for r in RECIPES.values()])
        return EXIT_OK
    recipe = RECIPES.get(ctx.args.recipe)
    if recipe is None:
        raise UsageError(f"unknown recipe {ctx.args.recipe!r}; known: {', '.join(RECIPES)}")
    if ctx.out.json:
        ctx.out.emit({"name": recipe.name, "fields": [{"name": f.name, "default": f.default, "help": f.help,
                                                        "choices": list(f.choices)} for f in recipe.fields]})
        return EXIT_OK
    ctx.out.line(recipe.description)
    ctx.out.table([Column("field", key=True), Column("default", key=True), Column("what", drop=1)],
                  [(f.name, repr(f.default) if isinstance(f.default, str) else f.default, f.help)
                   for f in recipe.fields])
    return EXIT_OK


def _fields(pairs: list[str]) -> dict:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {pair!r}: write FIELD=VALUE, e.g. --set lora_r=32")
        values[name.strip()] = value.replace("\\n", "\n")
    return values


def jobs_create_local(ctx: Context) -> int:
    """``jobs create --profile LOCAL``: --training-type is the recipe, --train the data file, --set its fields."""
    a = ctx.args
    if a.spec:
        raise UsageError("a local profile takes no job YAML: use --training-type RECIPE --train FILE --set FIELD=VALUE "
                         "(or bailian-tui local new)")
    if len(a.train) != 1 or len(a.validation) > 1:
        raise UsageError("a local run trains on one data file (--train FILE) with at most one --validation FILE")
    fields = list(a.hp) + ([f"model={a.model}"] if a.model else [])
    ctx.args = argparse.Namespace(**{**vars(a), "recipe": a.training_type or "sft-chatml", "data": a.train[0],
                                     "validation": a.validation[0] if a.validation else None,
                                     "name": a.job_name, "fields": fields, "no_start": False})
    return _new(ctx)


def _new(ctx: Context) -> int:
    from bailian_tui.core.errors import PlatformError
    from bailian_tui.core.local import recipes
    from bailian_tui.core.platform import JobRequest

    args = ctx.args
    recipe = recipes.RECIPES.get(args.recipe)
    if recipe is None:
        raise UsageError(f"unknown recipe {args.recipe!r}; known: {', '.join(recipes.RECIPES)}")
    values = _fields(args.fields)
    try:
        typed = recipe.values(values)
    except recipes.RecipeError as err:
        raise UsageError("; ".join(f"--set {k}: {v}" for k, v in err.errors.items())) from None
    data = Path(args.data).expanduser()
    if not data.is_file():
        raise UsageError(f"{data}: no such file")
    p = provider(ctx)
    model = typed.pop("model")
    request = JobRequest(model=model, training_file_ids=[str(data.resolve())], training_type=recipe.name,
                         validation_file_ids=[str(Path(args.validation).expanduser().resolve())]
                         if args.validation else [], hyper_parameters=typed, job_name=args.name)
    if args.dry_run:
        body = p.request_body(request)
        ctx.out.emit(body) if ctx.out.json else ctx.out.line(json.dumps(body, ensure_ascii=False, indent=2,
                                                                        default=str))
        return EXIT_OK
    if args.no_start:
        spec = recipes.RunSpec(recipe.name, data, args.name or f"{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}",
                               p.runs_dir, {"model": model, **typed},
                               Path(args.validation).expanduser() if args.validation else None)
        try:
            folder = recipes.create_run(spec)
        except recipes.RecipeError as err:
            raise UsageError(str(err)) from None
        ctx.out.emit({"run_dir": str(folder.path)}) if ctx.out.json else \
            ctx.out.line(f"{folder.path}\n  start it: cd {folder.path} && {p.python} train.py train")
        return EXIT_OK
    try:
        job = run_async(p.create_job(request))
    except PlatformError as err:
        raise UsageError(err.human()) from None
    if ctx.out.json:
        ctx.out.emit(_job_row(job))
    else:
        ctx.out.line(f"{job.job_id}  {job.status.value}  pid {job.raw.get('pid')}")
        ctx.out.line(f"  folder  {job.raw.get('run_dir')}")
        ctx.out.line(f"  log     {job.raw.get('log')}")
        ctx.out.info(f"follow it: bailian-tui local logs {job.job_id} -f   (or in the app: j, then v)")
    return EXIT_OK


def _metrics(p, name: str):
    from bailian_tui.core.logparse import Metrics

    metrics = Metrics()
    for line in run_async(p.job_logs(name, 0, 10 ** 7)).lines:
        metrics.feed(line)
    return metrics


def _list(ctx: Context) -> int:
    p = provider(ctx)
    jobs = run_async(p.all_jobs())
    rows = []
    for job in jobs:
        metrics = _metrics(p, job.job_id)
        progress = f"{metrics.progress:.0%}" if metrics.progress is not None else ""
        loss = f"{metrics.latest_loss:.4f}" if metrics.latest_loss is not None else ""
        rows.append((job, progress, loss))
    if ctx.out.json:
        ctx.out.emit([{**_job_row(j), "progress": pr or None, "loss": lo or None} for j, pr, lo in rows])
        return EXIT_OK
    ctx.out.table([Column("name", key=True), Column("status", status=True), Column("recipe", drop=2),
                   Column("progress"), Column("loss"), Column("folder", drop=1)],
                  [(j.job_id, j.status.value, j.training_type, pr, lo, j.raw.get("run_dir")) for j, pr, lo in rows])
    return EXIT_OK


def _logs(ctx: Context) -> int:
    from bailian_tui.core.errors import PlatformError

    p = provider(ctx)
    name = ctx.args.name
    try:
        page = run_async(p.job_logs(name, 0, 10 ** 7))
    except PlatformError as err:
        raise UsageError(err.human()) from None
    lines = page.lines[-ctx.args.tail:] if ctx.args.tail else page.lines
    for line in lines:
        ctx.out.line(line)
    offset = page.total or len(page.lines)
    while ctx.args.follow:
        job = run_async(p.get_job(name))
        page = run_async(p.job_logs(name, offset, 10 ** 7))
        for line in page.lines:
            ctx.out.line(line)
        offset += len(page.lines)
        if job.status.finished and not page.lines:
            ctx.out.info(f"{name}: {job.status.value}" + (f" — {job.message}" if job.message else ""))
            from bailian_tui.core.records import JobStatus

            return EXIT_OK if job.status is JobStatus.SUCCEEDED else EXIT_FAILED
        time.sleep(1.0)
    return EXIT_OK


def _cancel(ctx: Context) -> int:
    from bailian_tui.core.errors import PlatformError

    p = provider(ctx)
    if ctx.args.dry_run:
        ctx.out.line(f"would send SIGINT to {ctx.args.name}'s process group (SIGTERM 10 s later if still running)")
        return EXIT_OK
    if not ctx.args.yes and ctx.out.interactive:
        answer = input(f"Cancel local run {ctx.args.name}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            return EXIT_OK

    async def cancel() -> str:
        message = await p.cancel_job(ctx.args.name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * p.cancel_grace + 5  # wait for the SIGTERM/SIGKILL follow-up, if needed
        while loop.time() < deadline:
            if (await p.get_job(ctx.args.name)).status.finished:
                break
            await asyncio.sleep(0.2)
        await p.aclose()
        return message

    try:
        message = run_async(cancel())
    except PlatformError as err:
        raise Failed(err.human()) from None
    ctx.out.info(message)
    job = run_async(p.get_job(ctx.args.name))
    ctx.out.emit(_job_row(job)) if ctx.out.json else ctx.out.line(f"{job.job_id}  {job.status.value}")
    return EXIT_OK


def _adopt(ctx: Context) -> int:
    return _one_job(ctx, lambda p: p.adopt_run(ctx.args.path, ctx.args.name),
                    lambda job: f"{job.job_id}  {job.status.value}  pid {job.raw.get('pid') or '-'}  "
                                f"log {job.raw.get('log')}")


def _export(ctx: Context) -> int:
    return _one_job(ctx, lambda p: p.export_model(ctx.args.name, ctx.args.format),
                    lambda job: f"{job.job_id}  {job.status.value}  (bailian-tui local logs {job.job_id} -f)")


def _one_job(ctx: Context, call, line) -> int:
    """Run one provider call that answers with a job (adopt, export): a refusal is a usage error (exit 2);
    the job is printed as a JSON row, or as ``line(job)``."""
    from bailian_tui.core.errors import PlatformError

    p = provider(ctx)
    try:
        job = run_async(call(p))
    except PlatformError as err:
        raise UsageError(err.human()) from None
    ctx.out.emit(_job_row(job)) if ctx.out.json else ctx.out.line(line(job))
    return EXIT_OK


def _check(ctx: Context) -> int:
    from bailian_tui.core.local.recipes import RECIPES

    p = provider(ctx)
    recipe = RECIPES.get(ctx.args.recipe) if ctx.args.recipe else None
    if ctx.args.recipe and recipe is None:
        raise UsageError(f"unknown recipe {ctx.args.recipe!r}; known: {', '.join(RECIPES)}")
    needs = recipe.needs if recipe else ("unsloth", "trl", "torch", "transformers", "datasets")
    report = run_async(p.check_environment(recipe.name if recipe else None))
    if ctx.out.json:
        ctx.out.emit({"python": report.python, "version": report.version, "packages": report.packages,
                      "cuda": report.cuda, "cuda_version": report.cuda_version, "devices": report.devices,
                      "problems": report.problems, "missing": report.missing(needs) if report.packages else list(needs),
                      "ready": report.ready(needs)})
    else:
        for line in report.lines(needs):
            ctx.out.line(line)
    return EXIT_OK if report.ready(needs) else EXIT_FAILED
