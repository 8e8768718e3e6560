"""The ``local`` provider: fine-tunes on this machine's GPUs (Unsloth), behind the same protocol as the clouds.

A job is a run folder (core.local.recipes) started detached (core.local.runs); its id is the run's name.
Creating a job generates the recipe's script and launches it with the profile's Python; the job's status
comes from the run's files and processes, its log is ``train.log`` read as a terminal shows it, its
checkpoints are the Trainer's ``checkpoint-N`` folders. Nothing is uploaded: data is read in place (or
converted into the run folder). Runs outlive the app; the next start finds them again from the store and
the runs folder.

Optional capabilities beyond the protocol (see :class:`Capabilities`): ``adopt_run`` (a run started by
hand), ``gpu_stats`` (NVML, when nvidia-ml-py is installed and finds a GPU), ``check_environment`` (what the
profile's Python has of unsloth/trl/torch/CUDA) and ``export_model`` (merge to 16/4-bit or GGUF, run as a
job of its own).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator

from bailian_tui.core.local import recipes, runs
from bailian_tui.core.local.gpu import gpu_stats, group_pids
from bailian_tui.core.records import Checkpoint, Job, JobStatus, LogPage, Page, RemoteFile
from bailian_tui.core.providers.base import Capabilities, ProviderBase, ProviderError, ProviderInfo

EXPORT_FORMATS = ("merged_16bit", "merged_4bit", "gguf_q8_0", "gguf_q4_k_m", "gguf_q5_k_m", "gguf_f16", "lora")


def stand_in_script() -> Path:
    """The stand-in trainer, wherever the package is installed (a checkout or site-packages); found without
    importing the simulator (it is a script the run's Python executes)."""
    import importlib.util

    spec = importlib.util.find_spec("bailian_tui.simulator")
    return Path(list(spec.submodule_search_locations)[0]) / "local_trainer.py"


class LocalProvider(ProviderBase):
    def __init__(self, info: ProviderInfo, *, python: str, runs_dir: str | Path, store=None, gpus: int = 1,
                 launcher: str = "accelerate", stand_in: bool = False, stand_in_pace: float = 0.5,
                 cancel_grace: float = 10.0, gpu_source=None) -> None:
        self.info = info
        self.python = python
        self.runs_dir = Path(runs_dir).expanduser()
        self.store = store
        self.gpus, self.launcher = gpus, launcher
        self.stand_in, self.stand_in_pace = stand_in, stand_in_pace
        self.cancel_grace = cancel_grace
        self.gpu_source = gpu_source or gpu_stats  # NVML; a test passes what a GPU box would report
        self.capabilities = Capabilities(
            deployments=False, pause=False, delete_job=False, checkpoints=True, remote_files=False,
            training_types=tuple(recipes.RECIPES), request_budget=20.0, adopt=True, gpu_stats=True,
            environment_check=True, export_formats=EXPORT_FORMATS)
        self._logs: dict[str, runs.LogLines] = {}
        self._escalations: set[asyncio.Task] = set()
        self.owns_store = False  # open_provider made the store for this provider: close it with the provider
        from bailian_tui.core.platform import CallStats

        self.stats = CallStats()  # no remote calls: nothing is ever counted or warned about

    def _error(self, message: str, status: int = 400, hint: str | None = None, operation: str = "") -> ProviderError:
        return ProviderError(message, provider=self.name, hint=hint, status=status, operation=operation)

    async def aclose(self) -> None:
        # A pending SIGTERM escalation is the one thing that must not be dropped silently: finish it now.
        for task in list(self._escalations):
            task.cancel()
        for task in list(self._escalations):
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self.owns_store and self.store is not None:
            self.store.close()

    # -- where runs are -------------------------------------------------------------------------------

    def _run_dirs(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        if self.runs_dir.is_dir():
            for child in self.runs_dir.iterdir():
                if child.is_dir() and not child.name.startswith(".") and (child / "config.json").is_file():
                    found[child.name] = child
        if self.store is not None:
            for record in self.store.local_runs(self.name):
                found.setdefault(record.name, Path(record.run_dir))
        return found

    def run_dir(self, job_id: str) -> Path:
        path = self._run_dirs().get(job_id)
        if path is None or not path.is_dir():
            raise self._error(f"no local run named {job_id!r} under {self.runs_dir}", 404, operation="get job")
        return path

    # -- files: none (data is read in place) -------------------------------------------------------------

    async def upload_file(self, path, *, description=None, on_progress=None) -> RemoteFile:
        raise self._unsupported("uploads (local runs read the data file in place)")

    async def list_files(self, page_no: int = 1, page_size: int = 100) -> Page[RemoteFile]:
        return Page([], 0, page_no, page_size)

    async def get_file(self, file_id: str) -> RemoteFile:
        raise self._unsupported("remote files")

    async def delete_file(self, file_id: str) -> None:
        raise self._unsupported("remote files")

    # -- jobs -------------------------------------------------------------------------------------------

    def request_body(self, request: Any) -> dict:
        """What the run will be made of (the form's preview): recipe, data and every value."""
        recipe = recipes.RECIPES.get(request.training_type)
        if recipe is None:
            raise self._error(f"unknown recipe {request.training_type!r}; local runs offer "
                              f"{', '.join(recipes.RECIPES)}", operation="create job")
        values = {"model": request.model, **request.hyper_parameters} if request.model else \
            dict(request.hyper_parameters)
        try:
            typed = recipe.values(values)
        except recipes.RecipeError as err:
            raise self._error(str(err), operation="create job") from None
        return {"recipe": recipe.name, "name": request.job_name, "data": list(request.training_file_ids),
                "validation": list(request.validation_file_ids), "runs_dir": str(self.runs_dir),
                "python": self.python, "command": " ".join(self._command_preview(recipe)), **typed}

    def _command_preview(self, recipe: recipes.Recipe) -> list[str]:
        folder = recipes.RunFolder(self.runs_dir / "NAME")
        return recipes.train_command(folder, self.python, self.gpus, self.launcher)

    async def create_job(self, request: Any) -> Job:
        body = self.request_body(request)
        if not request.training_file_ids:
            raise self._error("a local run needs a data file", operation="create job")
        if not self.stand_in and not (os.path.isfile(self.python) and os.access(self.python, os.X_OK)):
            raise self._error(f"{self.python}: no such Python", hint="set the profile's python to the bin/python "
                              "of the environment where Unsloth is installed", operation="create job")
        name = request.job_name or f"{body['recipe']}-{datetime.now():%Y%m%d-%H%M%S}"
        request.job_name = name
        spec = recipes.RunSpec(body["recipe"], Path(request.training_file_ids[0]), name, self.runs_dir,
                               {k: v for k, v in body.items() if k in {f.name for f in
                                                                      recipes.RECIPES[body["recipe"]].fields}},
                               Path(request.validation_file_ids[0]) if request.validation_file_ids else None)
        from bailian_tui.core.data.errors import DataFileError

        try:
            folder = await asyncio.to_thread(recipes.create_run, spec)
        except recipes.RecipeError as err:
            raise self._error(str(err), operation="create job") from None
        except DataFileError as err:
            raise self._error(str(err), operation="create job") from None
        except OSError as err:
            raise self._error(f"cannot write the run folder in {self.runs_dir}: {err.strerror or err}",
                              hint="check the profile's runs_dir exists and is writable", operation="create job") \
                from None
        return await self._launch(folder.path, self._train_command(folder), body["recipe"])

    def _train_command(self, folder: recipes.RunFolder) -> list[str]:
        if not self.stand_in:
            return recipes.train_command(folder, self.python, self.gpus, self.launcher)
        config = folder.config()
        steps = config["max_steps"] if config["max_steps"] > 0 else 60
        return [self.python, "-u", str(stand_in_script()), "--steps", str(steps), "--pace", str(self.stand_in_pace),
                "--adapter", config["output_name"], "--save-every", str(max(1, steps // 3)),
                "--eval-every", str(max(1, min(steps // 6, 20))) if config.get("validation") else "0"]

    async def _launch(self, run_dir: Path, command: list[str], recipe: str) -> Job:
        try:
            info = await asyncio.to_thread(runs.launch, run_dir, command)
        except runs.RunError as err:
            raise self._error(str(err), 409, operation="start run") from None
        except OSError as err:
            raise self._error(f"cannot start the run in {run_dir}: {err.strerror or err}", operation="start run") \
                from None
        if self.store is not None:
            self.store.record_local_run(self.name, run_dir.name, run_dir, recipe=recipe, pid=info.pid,
                                        start_ticks=info.start_ticks, started_at=info.started_at)
        return await self.get_job(run_dir.name)

    async def get_job(self, job_id: str) -> Job:
        return await asyncio.to_thread(self._job, job_id)

    def _job(self, job_id: str, run_dir: Path | None = None) -> Job:
        run_dir = run_dir or self.run_dir(job_id)
        config = runs._read_json(run_dir / "config.json") or {}
        info = runs.RunInfo.read(run_dir)
        if info is None:
            status, message, ended, pid = JobStatus.PENDING, "generated, not started", None, None
        else:
            found = runs.outcome(info)
            status, message, ended, pid = found.status, found.message, found.ended_at, info.pid
        recipe = recipes.RECIPES.get(str(config.get("recipe")))
        values = {f.name: config[f.name] for f in recipe.fields if f.name in config} if recipe else {}
        output = None
        if status is JobStatus.SUCCEEDED:
            adapter = (info.state_dir if info else run_dir) / str(config.get("output_name") or "")
            output = str(adapter) if config.get("output_name") and adapter.exists() else str(info.state_dir if info
                                                                                             else run_dir)
        created = runs._parse_time(config.get("created_at")) or runs._parse_time(info.started_at if info else None)
        return Job(job_id=job_id, status=status, model=str(config.get("model") or ""), job_name=job_id,
                   base_model=config.get("model") or None, training_type=str(config.get("recipe") or "local"),
                   training_file_ids=[str(config["data"])] if config.get("data") else [],
                   validation_file_ids=[str(config["validation"])] if config.get("validation") else [],
                   hyper_parameters=values, finetuned_output=output, created_at=created, ended_at=ended,
                   message=message, provider=self.name,
                   raw={"run_dir": str(run_dir), "pid": pid, "log": str(info.log_path) if info else None,
                        "adopted": bool(info and info.adopted), "command": info.command if info else []})

    async def list_jobs(self, page_no: int = 1, page_size: int = 100) -> Page[Job]:
        jobs = await asyncio.to_thread(self._all_jobs)
        start = (page_no - 1) * page_size
        return Page(jobs[start:start + page_size], len(jobs), page_no, page_size)

    def _all_jobs(self) -> list[Job]:
        jobs = []
        for name, path in self._run_dirs().items():
            if path.is_dir():
                jobs.append(self._job(name, path))
        return sorted(jobs, key=lambda j: j.created_at or datetime.min, reverse=True)

    async def cancel_job(self, job_id: str) -> str:
        info = runs.RunInfo.read(self.run_dir(job_id))
        if info is None:
            raise self._error(f"{job_id} was never started", 409, operation="cancel job")
        state = runs.outcome(info)
        if not state.alive:
            raise self._error(f"{job_id} is not running ({state.status.value})", 409, operation="cancel job")
        try:
            sent = runs.request_cancel(info)
        except runs.RunError as err:
            raise self._error(str(err), 403, operation="cancel job") from None
        if sent:
            task = asyncio.get_running_loop().create_task(self._escalate(info))
            self._escalations.add(task)
            task.add_done_callback(self._escalations.discard)
        return f"SIGINT sent to {job_id}'s process group {info.pid}; SIGTERM follows in {self.cancel_grace:g} s " \
               "if it is still running"

    async def _escalate(self, info: runs.RunInfo) -> None:
        """SIGINT was sent; after the grace period SIGTERM, and after another a last SIGKILL."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if await self._ended_within(info, self.cancel_grace):
                return
            runs.signal_group(info, sig)

    async def _ended_within(self, info: runs.RunInfo, seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            if not runs.group_alive(info.pid, info.start_ticks, info.boot_id):
                return True
            await asyncio.sleep(0.1)  # a process we may not be the parent of has no event to wait on
        return not runs.group_alive(info.pid, info.start_ticks, info.boot_id)

    async def job_logs(self, job_id: str, offset: int = 0, limit: int = 1000) -> LogPage:
        return await asyncio.to_thread(self._job_logs, job_id, offset, limit)

    def _job_logs(self, job_id: str, offset: int, limit: int) -> LogPage:
        run_dir = self.run_dir(job_id)
        info = runs.RunInfo.read(run_dir)
        log = info.log_path if info else run_dir / "train.log"
        if not log.exists() and info is not None and info.adopted:
            state = runs.TrainerState.read(runs.find_trainer_state(info.state_dir))
            lines = state.as_log_lines() if state else []
            return LogPage(lines[offset:offset + limit], offset, len(lines))
        reader = self._logs.get(job_id)
        if reader is None or reader.path != log:
            reader = self._logs[job_id] = runs.LogLines(log)
        reader.refresh()
        return LogPage(reader.lines[offset:offset + limit], offset, len(reader.lines))

    async def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        return await asyncio.to_thread(self._checkpoints, job_id)

    def _checkpoints(self, job_id: str) -> list[Checkpoint]:
        run_dir = self.run_dir(job_id)
        info = runs.RunInfo.read(run_dir)
        base = info.state_dir if info else run_dir
        out = []
        for path in runs.checkpoints(base):
            state = runs.TrainerState.read(path / "trainer_state.json")
            step = int(path.name.rsplit("-", 1)[-1])
            out.append(Checkpoint(checkpoint=path.name, job_id=job_id, full_name=str(path), model_name=str(path),
                                  status="SUCCEEDED", created_at=runs._mtime(path), step_number=step,
                                  metrics=state.metrics_at(step) if state else {}, provider=self.name))
        return out

    # -- optional capabilities ----------------------------------------------------------------------------

    async def adopt_run(self, path: str | Path, name: str | None = None) -> Job:
        target = Path(path).expanduser()
        name = name or re.sub(r"[^A-Za-z0-9_-]", "-", (target.stem if target.is_file() else target.name))[:48] \
            or "adopted"
        if not recipes.NAME.match(name):
            raise self._error(f"{name!r} is not a usable run name (letters, digits, _ -)", operation="adopt run")
        run_dir = self.runs_dir / name
        if run_dir.exists():
            raise self._error(f"{run_dir} already exists; give the adopted run another name", 409,
                              operation="adopt run")
        try:
            info = await asyncio.to_thread(runs.adopt, target, run_dir)
        except runs.RunError as err:
            if run_dir.exists() and not any(run_dir.iterdir()):
                run_dir.rmdir()
            raise self._error(str(err), 404, operation="adopt run") from None
        if self.store is not None:
            self.store.record_local_run(self.name, name, run_dir, recipe="adopted", pid=info.pid or None,
                                        start_ticks=info.start_ticks, started_at=info.started_at, adopted=True)
        return await self.get_job(name)

    def gpu_stats(self, job_id: str | None = None) -> list:
        pids: set[int] = set()
        if job_id:
            try:
                info = runs.RunInfo.read(self.run_dir(job_id))
            except ProviderError:
                info = None
            if info and info.pid:
                pids = group_pids(info.pid) | {info.pid}
        return self.gpu_source(pids)

    async def check_environment(self, recipe: str | None = None):
        from bailian_tui.core.local import envcheck

        return await envcheck.check(self.python)

    async def export_model(self, job_id: str, fmt: str) -> Job:
        """Merge/convert a finished run's adapter, detached like training: a run named JOB-export-FMT."""
        if fmt not in EXPORT_FORMATS:
            raise self._error(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}",
                              operation="export")
        source = await self.get_job(job_id)
        if source.status is not JobStatus.SUCCEEDED or not (Path(source.raw["run_dir"]) / "train.py").exists():
            raise self._error(f"{job_id} has no finished adapter of a generated run to export", 409,
                              operation="export")
        run_dir = self.runs_dir / f"{job_id}-export-{fmt}"
        if run_dir.exists():
            raise self._error(f"{run_dir} exists: this export was already started", 409, operation="export")
        run_dir.mkdir(parents=True)
        folder = recipes.RunFolder(Path(source.raw["run_dir"]))
        runs._write_json(run_dir / "config.json", {"recipe": "export", "model": source.model, "export_of": job_id,
                                                   "format": fmt, "output_name": f"../{job_id}/export/{fmt}",
                                                   "created_at": datetime.now().isoformat(timespec="seconds")})
        command = recipes.export_command(folder, self.python, fmt)
        if self.stand_in:
            command = [self.python, "-c", "print('stand-in export: nothing to merge without a GPU')"]
        return await self._launch(run_dir, command, "export")

    # -- serving: through a server the user runs (vLLM, llama.cpp, Ollama) as an openai profile -----------

    def servable_model(self, job: Job) -> str | None:
        return None

    async def chat(self, model: str, messages: list[dict], **parameters: Any):
        raise self._unsupported("chat by itself: serve the adapter with vLLM (--enable-lora), llama.cpp or Ollama "
                                "and add that server as an openai profile (see README, Local runs)")

    def chat_stream(self, model: str, messages: list[dict], **parameters: Any) -> AsyncIterator[str]:
        raise self._unsupported("chat by itself: serve the adapter with vLLM, llama.cpp or Ollama as an openai "
                                "profile")


# -- demo -------------------------------------------------------------------------------------------------

DEMO_RUNS = (  # name, recipe, data (under the samples), steps, seconds per step, with an eval split
    ("alpaca-lora", "sft-alpaca", "Alpaca/alpaca_zh_demo.json", 60, 0.0, False),
    ("medical-lora", "sft-chatml", "Chinese-medical-dialogue/样例_内科5000-6000.head40.csv", 240, 1.0, True),
)


async def seed_demo(provider: LocalProvider, datasets: Path) -> list[Job]:
    """Demo mode: a finished local run and one training live, from the real recipes and the stand-in trainer.

    The runs folder is the demo's own; whatever an earlier demo left running there is stopped first.
    """
    stop_all(provider)
    if provider.runs_dir.is_dir():
        import shutil

        shutil.rmtree(provider.runs_dir)
    from bailian_tui.core.platform import JobRequest

    jobs = []
    pace = provider.stand_in_pace
    try:
        for name, recipe, data, steps, seconds, validation in DEMO_RUNS:
            provider.stand_in_pace = seconds
            request = JobRequest(model="Qwen/Qwen2.5-7B-Instruct", training_file_ids=[str(datasets / data)],
                                 validation_file_ids=[str(datasets / data)] if validation else [],
                                 training_type=recipe, hyper_parameters={"max_steps": steps}, job_name=name)
            jobs.append(await provider.create_job(request))
    finally:
        provider.stand_in_pace = pace
    return jobs


def stop_all(provider: LocalProvider) -> None:
    """Kill every live run of this provider (demo teardown: demo runs must not outlive the demo)."""
    import time

    killed = []
    for path in provider._run_dirs().values():
        info = runs.RunInfo.read(path)
        if info is not None and not info.adopted and runs.signal_group(info, signal.SIGKILL):
            killed.append(info)
    deadline = time.monotonic() + 5
    while killed and time.monotonic() < deadline:  # SIGKILL is not instant; reap what this process started
        killed = [i for i in killed if runs.group_alive(i.pid, i.start_ticks, i.boot_id)]
        if killed:
            time.sleep(0.02)
