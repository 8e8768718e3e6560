"""Everything the simulated service holds, and the rules by which it changes.

All mutation happens under one lock. Time-driven changes (a job leaving the queue, a deployment becoming
RUNNING) are not scheduled: :meth:`SimState._advance` works them out from the clock whenever the state is
read, so a test that advances the clock sees exactly what a real client would see at that moment.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

# The server's own copy of the rules (from the reference), never the client's: see dashscope_contract.
from bailian_tui.simulator.dashscope_contract import SUPPORT_MATRIX, defaults_for, split_counts
from bailian_tui.simulator.clock import SimClock
from bailian_tui.simulator.training import Plan, plan_failure, plan_training

MB = 1024 * 1024

BASE_CHAT_MODELS = frozenset(SUPPORT_MATRIX) | {"qwen-turbo", "qwen-plus", "qwen-max", "qwen-flash"}


class ApiError(Exception):
    """A DashScope-shaped refusal: HTTP status, code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class SimConfig:
    # Limits (GUIDE-OLD; newer docs differ — reference §2.2 — hence configurable).
    max_file_bytes: int = 300 * MB
    max_total_bytes: int = 5 * 1024 * MB
    max_files: int = 100
    max_deployments: int = 10
    # Pace of simulated time, in simulated seconds.
    pending_seconds: float = 3.0
    epoch_seconds: float = 18.0
    cancel_seconds: float = 2.0
    deploy_seconds: float = 20.0
    scale_seconds: float = 5.0
    delete_seconds: float = 3.0
    export_seconds: float = 5.0
    one_training_at_a_time: bool = True
    # Where docs and SDK disagree (reference §10), the simulator can play either side.
    log_offset_base: int = 0  # 0: offset = lines to skip (docs); 1: offset = first line number (SDK)
    logs_as_string: bool = False  # answer logs as one joined string instead of a list
    status_case: str = "upper"  # "lower" answers succeeded/failed…, as no real server is known to
    # Fault injection.
    rate_429: float = 0.0
    rate_500: float = 0.0
    drop_rate: float = 0.0
    latency: float = 0.0
    drop_after_write: int = 0  # the next N writes take effect, then the connection drops unanswered
    # Late commit: a create is answered 504 ("504") or dropped ("drop") at once and takes effect this many
    # simulated seconds later (applied on the first request after that), for the next `late_commits` creates
    # (-1: all of them). A real gateway gives up while the backend still works.
    late_commit: float = 0.0
    late_commit_answer: str = "504"
    late_commits: int = -1
    seed: int = 7


@dataclass
class DataInfo:
    kind: str  # sft | dpo | cpt | zip | unknown
    samples: int
    tokens: int
    error: str | None
    memory: dict[str, str] = field(default_factory=dict)


@dataclass
class SimFile:
    file_id: str
    name: str
    size: int
    md5: str
    created: float
    description: str
    purpose: str
    data: DataInfo
    numeric_id: int

    def api(self, clock: SimClock) -> dict:
        return {"id": self.numeric_id, "file_id": self.file_id, "name": self.name,
                "description": self.description, "size": self.size, "md5": self.md5,
                "gmt_create": clock.stamp(self.created), "purpose": self.purpose, "region": "cn-beijing",
                "url": f"https://dashscope-sim.invalid/files/{self.file_id}", "user_id": "sim-user",
                "api_key_id": "sim-key"}


@dataclass
class SimJob:
    job_id: str
    job_name: str
    model: str
    base_model: str
    training_type: str
    training_file_ids: list[str]
    validation_file_ids: list[str]
    hyper_parameters: dict
    effective_hp: dict
    created: float
    model_name: str | None = None
    status: str = "PENDING"
    queued: float | None = None
    started: float | None = None
    ended: float | None = None
    cancel_at: float | None = None
    plan: Plan | None = None
    log: list[tuple[float, str]] = field(default_factory=list)
    usage: int | None = None
    code: str | None = None
    message: str | None = None
    exports: dict[str, tuple[str, float]] = field(default_factory=dict)  # checkpoint -> (model, at)

    @property
    def finetuned_output(self) -> str:
        stem = self.job_id.removeprefix("ft-")
        return f"{self.base_model}-{self.model_name}-ft-{stem}" if self.model_name else f"{self.base_model}-ft-{stem}"

    @property
    def finished(self) -> bool:
        return self.status in ("SUCCEEDED", "FAILED", "CANCELED")


@dataclass
class SimDeployment:
    deployed_model: str
    model_name: str
    base_model: str
    capacity: int
    plan: str | None
    name: str | None
    created: float
    status: str = "PENDING"
    ready_capacity: int = 0
    modified: float = 0.0
    settle_at: float = 0.0
    target_capacity: int = 0


class SimState:
    def __init__(self, clock: SimClock | None = None, config: SimConfig | None = None,
                 api_key: str | None = None) -> None:
        self.clock = clock or SimClock()
        self.config = config or SimConfig()
        self.api_key = api_key
        self.files: dict[str, SimFile] = {}
        self.jobs: dict[str, SimJob] = {}
        self.deployments: dict[str, SimDeployment] = {}
        self.knowledge: dict[str, str] = {}  # question text -> correct option letter (evaluation demo)
        self.lock = threading.RLock()
        self.rng = random.Random(self.config.seed)
        self.requests = 0
        self.generations: list[tuple[str, str]] = []  # (model, messages) of every answered generation
        self._next_file_number = 1000

    # -- helpers ---------------------------------------------------------------------------------------

    def status_out(self, status: str) -> str:
        return status.lower() if self.config.status_case == "lower" else status

    def _hex(self, n: int = 4) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    # -- files -----------------------------------------------------------------------------------------

    def upload(self, name: str, content: bytes, description: str = "", purpose: str = "fine-tune") -> SimFile:
        with self.lock:
            cfg = self.config
            if len(content) > cfg.max_file_bytes:
                # No source documents this refusal's code; InvalidParameter is the closest documented one.
                raise ApiError(400, "InvalidParameter",
                               f"File {name} exceeds the size limit of {cfg.max_file_bytes // MB}MB.")
            if len(self.files) >= cfg.max_files:
                raise ApiError(400, "InvalidParameter",
                               f"The number of files exceeds the limit of {cfg.max_files}; delete unused files.")
            used = sum(f.size for f in self.files.values())
            if used + len(content) > cfg.max_total_bytes:
                raise ApiError(400, "InvalidParameter",
                               f"Total size of files exceeds the limit of {cfg.max_total_bytes // (1024 * MB)}GB.")
            self._next_file_number += 1
            sim_file = SimFile(
                file_id=str(uuid.UUID(int=self.rng.getrandbits(128))), name=name, size=len(content),
                md5=hashlib.md5(content).hexdigest(), created=self.clock.t(), description=description,
                purpose=purpose or "fine-tune", data=inspect_data(name, content),
                numeric_id=self._next_file_number)
            self.files[sim_file.file_id] = sim_file
            return sim_file

    def get_file(self, file_id: str) -> SimFile:
        with self.lock:
            if file_id not in self.files:
                raise ApiError(400, "InvalidParameter", "File not found.")
            return self.files[file_id]

    def delete_file(self, file_id: str) -> None:
        with self.lock:
            self.get_file(file_id)
            del self.files[file_id]

    # -- fine-tunes ------------------------------------------------------------------------------------

    def _resolve_base(self, model: str) -> str:
        if model in SUPPORT_MATRIX:
            return model
        for job in self.jobs.values():
            if job.status == "SUCCEEDED" and job.finetuned_output == model:
                return job.base_model
        raise ApiError(400, "InvalidParameter", f"Model {model} is not supported for fine-tuning.")

    def create_job(self, body: dict) -> SimJob:
        with self.lock:
            model = body.get("model")
            if not model:
                raise ApiError(400, "InvalidParameter", "Missing model")
            training = body.get("training_file_ids")
            if not training and body.get("training_datasets"):
                training = [d.get("file_id") for d in body["training_datasets"] if d.get("file_id")]
            if isinstance(training, str):
                training = [training]
            if not training:
                raise ApiError(400, "InvalidParameter", "Missing training files")
            validation = body.get("validation_file_ids") or []
            if isinstance(validation, str):
                validation = [validation]
            for file_id in list(training) + list(validation):
                if file_id not in self.files:
                    raise ApiError(400, "InvalidParameter", f"File {file_id} not found.")
            training_type = body.get("training_type") or "sft"
            base = self._resolve_base(model)
            if training_type not in SUPPORT_MATRIX.get(base, ()):
                raise ApiError(400, "InvalidParameter",
                               f"Model {base} does not support training_type {training_type}.")
            hp = body.get("hyper_parameters") or {}
            if not isinstance(hp, dict):
                raise ApiError(400, "InvalidParameter", "hyper_parameters must be an object")
            effective = defaults_for(training_type, base)
            for key, value in hp.items():
                try:
                    effective[key] = float(value) if key == "learning_rate" else value
                except (TypeError, ValueError):
                    raise ApiError(400, "InvalidParameter", f"Invalid value for {key}: {value}") from None
            now = self.clock.t()
            job_id = f"ft-{self.clock.at(now):%Y%m%d%H%M}-{self._hex()}"
            job = SimJob(job_id=job_id, job_name=body.get("job_name") or job_id, model=model, base_model=base,
                         training_type=training_type, training_file_ids=list(training),
                         validation_file_ids=list(validation), hyper_parameters=dict(hp),
                         effective_hp=effective, created=now, model_name=body.get("model_name"))
            job.log.append((now, f"{self.clock.log_stamp(now)} - INFO - fine-tune job {job_id} created"))
            self.jobs[job_id] = job
            self._advance()
            return job

    def job(self, job_id: str) -> SimJob:
        with self.lock:
            self._advance()
            if job_id not in self.jobs:
                raise ApiError(404, "NotFound", "Not found!")
            return self.jobs[job_id]

    def cancel_job(self, job_id: str) -> None:
        with self.lock:
            job = self.job(job_id)
            if job.finished or job.status == "CANCELING":
                raise ApiError(400, "UnsupportedOperation",
                               f"The fine-tune job can not be canceled because it is {job.status.lower()}")
            now = self.clock.t()
            job.log = [(t, line) for t, line in job.log if t <= now]
            job.log.append((now, f"{self.clock.log_stamp(now)} - INFO - received cancel request"))
            job.cancel_at = now + self.config.cancel_seconds
            job.status = "CANCELING"
            self._advance()

    def delete_job(self, job_id: str) -> None:
        with self.lock:
            job = self.job(job_id)
            if not job.finished:
                raise ApiError(400, "UnsupportedOperation",
                               f"The fine-tune job can not be deleted because it is {job.status.lower()}")
            del self.jobs[job_id]

    def visible_log(self, job: SimJob) -> list[str]:
        now = self.clock.t()
        return [line for t, line in job.log if t <= now]

    def job_api(self, job: SimJob) -> dict:
        out: dict[str, Any] = {
            "job_id": job.job_id, "job_name": job.job_name, "status": self.status_out(job.status),
            "model": job.model, "base_model": job.base_model, "training_file_ids": job.training_file_ids,
            "validation_file_ids": job.validation_file_ids, "hyper_parameters": job.hyper_parameters,
            "training_type": job.training_type, "create_time": self.clock.stamp(job.created),
            "workspace_id": "llm-sim", "user_identity": "sim-user", "creator": "sim-user",
            "modifier": "sim-user", "group": "llm", "max_output_cnt": 1,
            "output_cnt": len(self.saved_checkpoints(job)),
        }
        if job.model_name:
            out["model_name"] = job.model_name
        if job.status == "SUCCEEDED":
            out["finetuned_output"] = job.finetuned_output
        if job.finished and job.ended is not None:
            out["end_time"] = self.clock.stamp(job.ended)
        if job.usage is not None and job.status in ("SUCCEEDED", "CANCELED"):
            out["usage"] = job.usage
        # REF-ZH's list example shows "code": "1" on a CANCELED job too, but the official CLI treats any
        # `code` in a get response as a business error and exits 1; only failures carry one here.
        if job.code and job.status == "FAILED":
            out["code"], out["message"] = job.code, job.message
        return out

    def saved_checkpoints(self, job: SimJob) -> list[int]:
        if not job.plan or job.started is None:
            return []
        now = self.clock.t()
        limit = job.ended if job.ended is not None else now
        return [step for offset, step in job.plan.checkpoints if job.started + offset <= min(now, limit)]

    def checkpoints(self, job_id: str) -> list[dict]:
        with self.lock:
            job = self.job(job_id)
            if job.training_type not in ("sft", "efficient_sft"):
                raise ApiError(400, "UnsupportedOperation", "Checkpoints are available for sft and efficient_sft.")
            now = self.clock.t()
            out = []
            for step in self.saved_checkpoints(job):
                name = f"checkpoint-{step}"
                offset = next(o for o, s in job.plan.checkpoints if s == step)  # type: ignore[union-attr]
                status, model = "PENDING", None
                if name in job.exports:
                    model, at = job.exports[name]
                    status = "SUCCEEDED" if now >= at else "PROCESSING"
                out.append({"create_time": self.clock.at(job.started + offset).strftime("%Y-%m-%dT%H:%M:%S"),
                            "full_name": f"{job.job_id}-{name}", "job_id": job.job_id, "checkpoint": name,
                            "model_name": model, "status": status})
            return out

    def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str) -> None:
        with self.lock:
            names = {c["checkpoint"] for c in self.checkpoints(job_id)}
            if checkpoint not in names:
                raise ApiError(404, "NotFound", f"Checkpoint {checkpoint} not found!")
            if not model_name:
                raise ApiError(400, "InvalidParameter", "Missing model_name")
            self.jobs[job_id].exports[checkpoint] = (model_name, self.clock.t() + self.config.export_seconds)

    # -- the job state machine -------------------------------------------------------------------------

    def _advance(self) -> None:
        """Move every job to where the clock says it is. Idempotent; called under the lock."""
        now = self.clock.t()
        cfg = self.config
        ordered = sorted(self.jobs.values(), key=lambda j: j.created)
        for job in ordered:
            if job.status == "PENDING" and now >= job.created + cfg.pending_seconds:
                job.status, job.queued = "QUEUING", job.created + cfg.pending_seconds
                job.log.append((job.queued, f"{self.clock.log_stamp(job.queued)} - INFO - "
                                            "job is waiting for a free training slot"))
        # Cancels and completions free the slot at the moment they happen, not when someone looks,
        # so the next queued job starts at that moment too.
        while True:
            for job in ordered:
                if job.status == "CANCELING" and job.cancel_at is not None and now >= job.cancel_at:
                    self._finish(job, "CANCELED", job.cancel_at)
                elif job.status == "RUNNING" and job.plan and now >= job.started + job.plan.duration:
                    self._finish(job, "SUCCEEDED" if job.plan.succeeded else "FAILED",
                                 job.started + job.plan.duration)
            busy = any(j.status in ("RUNNING", "CANCELING") and j.started is not None for j in ordered)
            if busy and cfg.one_training_at_a_time:
                return
            waiting = [j for j in ordered if j.status == "QUEUING"]
            if not waiting:
                return
            free_from = max((j.ended for j in ordered if j.ended is not None and j.started is not None),
                            default=float("-inf"))
            queued = waiting[0].queued if waiting[0].queued is not None else now
            start = max(queued, free_from) if cfg.one_training_at_a_time else queued
            if start > now:
                return
            self._start(waiting[0], start)

    def _start(self, job: SimJob, at: float) -> None:
        job.status, job.started = "RUNNING", at
        job.plan = self._plan(job, at)
        job.log.extend((at + offset, line) for offset, line in job.plan.lines)

    def _finish(self, job: SimJob, status: str, at: float) -> None:
        job.status, job.ended = status, at
        if status == "CANCELED":
            consumed = 0
            if job.plan and job.started is not None:
                consumed = int(job.plan.tokens_per_second * max(at - job.started, 0))
            job.usage = consumed
            job.log = [(t, line) for t, line in job.log if t <= at]
            job.log.append((at, f"{self.clock.log_stamp(at)} - INFO - finetune-job canceled"))
            job.message = "Job canceled by user"
        elif status == "SUCCEEDED" and job.plan:
            job.usage = job.plan.usage
        elif status == "FAILED" and job.plan:
            job.code, job.message = job.plan.error_code, job.plan.error_message

    def _plan(self, job: SimJob, at: float) -> Plan:
        def stamp(offset: float) -> str:
            return self.clock.log_stamp(at + offset)

        infos = [self.files[f].data for f in job.training_file_ids if f in self.files]
        val_infos = [self.files[f].data for f in job.validation_file_ids if f in self.files]
        wanted = "dpo" if job.training_type.startswith("dpo") else "cpt" if job.training_type == "cpt" else "sft"
        for file_id, info in zip(job.training_file_ids, infos):
            name = self.files[file_id].name
            if info.error:
                return plan_failure(stamp, f"data check failed: {name} {info.error}")
            if info.kind not in (wanted, "zip"):
                return plan_failure(stamp, f"data check failed: {name} holds {info.kind} data, "
                                           f"training_type {job.training_type} needs {wanted} data")
        samples = sum(i.samples for i in infos)
        hp = job.effective_hp
        n_train, n_val = split_counts(samples, hp, bool(val_infos))
        if val_infos:
            n_val = sum(i.samples for i in val_infos)
        batch = int(hp.get("batch_size", 16))
        if n_train <= batch:
            return plan_failure(stamp, f"training samples ({n_train}) must be more than batch_size ({batch})",
                                code="InvalidParameter", after=10.0)
        tokens = sum(i.tokens for i in infos)
        tokens_train = int(tokens * n_train / samples) if samples else 0
        return plan_training(stamp=stamp, seed=job.job_id, n_train=n_train, n_val=n_val,
                             tokens_per_epoch=tokens_train, hp=hp, epoch_seconds=self.config.epoch_seconds)

    # -- deployments -----------------------------------------------------------------------------------

    def deployable(self, model_name: str) -> str:
        """The base model of a deployable model, or an error saying why it is not deployable."""
        self._advance()
        for job in self.jobs.values():
            if job.finetuned_output == model_name or model_name == job.job_id:
                if job.status != "SUCCEEDED":
                    raise ApiError(400, "InvalidParameter",
                                   f"Model {model_name} is not ready: its fine-tune job is {job.status}.")
                return job.base_model
            for ckpt_model, at in job.exports.values():
                if ckpt_model == model_name:
                    if self.clock.t() < at:
                        raise ApiError(400, "InvalidParameter", f"Model {model_name} is still being exported.")
                    return job.base_model
        if model_name in SUPPORT_MATRIX:
            return model_name
        raise ApiError(404, "NotFound", f"Model: {model_name} not found!")

    def create_deployment(self, body: dict) -> SimDeployment:
        with self.lock:
            self._advance_deployments()
            model = body.get("model_name")
            if not model:
                raise ApiError(400, "InvalidParameter", "Missing model_name")
            capacity = body.get("capacity")
            if not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 <= capacity < 1000:
                raise ApiError(400, "InvalidParameter",
                               f"Invalid capacity ({capacity}), capacity must be larger than or equal to 0 and "
                               "multiples of 1 and less than 1000!")
            base = self.deployable(model)
            suffix = body.get("suffix")
            if suffix and len(str(suffix)) > 8:
                raise ApiError(400, "InvalidParameter", "suffix must be at most 8 characters")
            deployed = f"{model}-{suffix}" if suffix else model
            if deployed in self.deployments:
                raise ApiError(409, "Conflict",
                               f"Deployed model {deployed} already exists, please specify a suffix.")
            if len(self.deployments) >= self.config.max_deployments:
                raise ApiError(429, "Throttling.AllocationQuota",
                               f"Deployment quota reached ({self.config.max_deployments}); delete one first.")
            now = self.clock.t()
            dep = SimDeployment(deployed_model=deployed, model_name=model, base_model=base,
                                capacity=capacity, plan=body.get("plan"), name=body.get("name"), created=now,
                                modified=now, settle_at=now + self.config.deploy_seconds,
                                target_capacity=capacity)
            self.deployments[deployed] = dep
            self._advance_deployments()
            return dep

    def deployment(self, deployed_model: str) -> SimDeployment:
        with self.lock:
            self._advance_deployments()
            if deployed_model not in self.deployments:
                raise ApiError(404, "NotFound", f"Model: {deployed_model} not found!")
            return self.deployments[deployed_model]

    def scale_deployment(self, deployed_model: str, capacity: Any) -> SimDeployment:
        with self.lock:
            dep = self.deployment(deployed_model)
            if not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 <= capacity < 1000:
                raise ApiError(400, "InvalidParameter", f"Invalid capacity ({capacity}), capacity must be larger "
                                                        "than or equal to 0 and multiples of 1 and less than 1000!")
            if dep.status != "RUNNING":
                raise ApiError(400, "UnsupportedOperation", f"Deployment {deployed_model} is {dep.status}.")
            now = self.clock.t()
            dep.status, dep.target_capacity = "UPDATING", capacity
            dep.modified, dep.settle_at = now, now + self.config.scale_seconds
            self._advance_deployments()
            return dep

    def delete_deployment(self, deployed_model: str) -> SimDeployment:
        with self.lock:
            dep = self.deployment(deployed_model)
            now = self.clock.t()
            dep.status, dep.modified, dep.settle_at = "DELETING", now, now + self.config.delete_seconds
            self._advance_deployments()
            return dep

    def _advance_deployments(self) -> None:
        now = self.clock.t()
        for name, dep in list(self.deployments.items()):
            if dep.status in ("PENDING", "UPDATING") and now >= dep.settle_at:
                dep.status, dep.capacity = "RUNNING", dep.target_capacity
                dep.ready_capacity, dep.modified = dep.capacity, dep.settle_at
            elif dep.status == "DELETING" and now >= dep.settle_at:
                del self.deployments[name]

    def all_deployments(self) -> list[SimDeployment]:
        with self.lock:
            self._advance_deployments()
            return sorted(self.deployments.values(), key=lambda d: d.created, reverse=True)

    def deployment_api(self, dep: SimDeployment) -> dict:
        return {"deployed_model": dep.deployed_model, "gmt_create": self.clock.at(dep.created).isoformat(),
                "gmt_modified": self.clock.at(dep.modified).isoformat(), "status": self.status_out(dep.status),
                "model_name": dep.deployed_model, "base_model": dep.base_model, "base_capacity": 1,
                "capacity": dep.capacity, "ready_capacity": dep.ready_capacity, "workspace_id": "llm-sim",
                "charge_type": "post_paid", "creator": "sim-user", "modifier": "sim-user",
                "plan": dep.plan or "", "name": dep.name or dep.deployed_model}

    # -- generation ------------------------------------------------------------------------------------

    def chat_model(self, model: str) -> tuple[str, dict[str, str]]:
        """(kind, memory) for a model that can answer: 'base' or 'tuned' with what it was trained on."""
        with self.lock:
            self._advance()
            self._advance_deployments()
            dep = self.deployments.get(model)
            if dep is not None:
                if dep.status not in ("RUNNING", "UPDATING"):
                    raise ApiError(400, "InvalidParameter", f"Model {model} is {dep.status}, not serving yet.")
                memory: dict[str, str] = {}
                for job in self.jobs.values():
                    if dep.model_name in (job.finetuned_output, *[m for m, _ in job.exports.values()]):
                        for file_id in job.training_file_ids:
                            if file_id in self.files:
                                memory.update(self.files[file_id].data.memory)
                return ("tuned" if dep.model_name not in SUPPORT_MATRIX else "base"), memory
            if model in BASE_CHAT_MODELS:
                return "base", {}
            raise ApiError(404, "Model.NotExist", f"Model not exist: {model}")


def estimate_tokens(text: str) -> int:
    """The simulator's billing estimate: about one token per CJK character or per 4 other bytes."""
    cjk = sum(1 for ch in text if ord(ch) > 0x2E80)
    return cjk + math.ceil((len(text) - cjk) / 4)


def _message_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def inspect_data(name: str, content: bytes, memory_cap: int = 20000) -> DataInfo:
    """A server-side data check: shallower than bailian-tui's validator, as strict as the platform's."""
    if name.endswith(".zip") or content[:4] == b"PK\x03\x04":
        return DataInfo(kind="zip", samples=0, tokens=0, error=None)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return DataInfo(kind="unknown", samples=0, tokens=0, error="is not UTF-8 text")
    kind, samples, tokens, memory = "unknown", 0, 0, {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return DataInfo(kind, samples, tokens, f"line {number}: invalid JSON")
        if not isinstance(record, dict):
            return DataInfo(kind, samples, tokens, f"line {number}: not a JSON object")
        if "text" in record and "messages" not in record:
            this = "cpt"
            tokens += estimate_tokens(str(record["text"]))
        else:
            messages = record.get("messages")
            if not isinstance(messages, list) or not messages:
                return DataInfo(kind, samples, tokens, f"line {number}: 'messages' must be a non-empty list")
            for message in messages:
                if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant"):
                    return DataInfo(kind, samples, tokens, f"line {number}: bad role in messages")
                tokens += estimate_tokens(_message_text(message.get("content"))) + 4
            this = "dpo" if "chosen" in record else "sft"
            if this == "dpo":
                tokens += estimate_tokens(_message_text((record.get("chosen") or {}).get("content")))
            elif messages[-1].get("role") != "assistant":
                return DataInfo(kind, samples, tokens, f"line {number}: the last message must be the assistant's")
            elif len(memory) < memory_cap:
                users = [m for m in messages if m.get("role") == "user"]
                if users:
                    memory[_message_text(users[-1].get("content")).strip()] = _message_text(messages[-1]["content"])
        if kind not in ("unknown", this):
            return DataInfo(kind, samples, tokens, f"line {number}: mixes {kind} and {this} records")
        kind = this
        samples += 1
    if samples == 0:
        return DataInfo(kind, 0, 0, "holds no records")
    return DataInfo(kind, samples, tokens, None, memory)
